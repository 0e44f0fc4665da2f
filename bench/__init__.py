"""Measurement harness: accuracy, latency and throughput of the assistant.

``python -m bench.run`` (``make bench``) compares the project's NLU pipeline with
Rasa's default pipeline on ArBanking77, scores the held-out file, measures parse
latency and memory, and drives the whole stack over HTTP. See ``bench/run.py``.
"""
