"""Arabic NLU for the assistant: pure text utilities and Rasa 3.6 graph components.

``arabic_text`` and ``service_types`` are pure modules (no Rasa import) so that the
action server can share them; the ``*_component`` modules wrap them for Rasa.
"""
