"""The trainer workbench: turn real conversations into better Arabic NLU examples.

A process of its own, for trainers: ``python -m workbench`` serves the web page
and API (:mod:`workbench.app`, port 5090 by default, loopback unless told), and
``python -m workbench <command>`` is the command line (:mod:`workbench.cli`).

Pure modules (``masking``, ``inbox``, ``nlu_files``, ``health``, ``evaluation``),
one Redis client (``store``: the workbench's own keys and its index of
conversations), one Rasa client (``rasa_client``: trackers, status, model
loading), the operations shared by web and command line (``service``,
``training``), the web routes (``routes``) and the app (``app``). Sign-in is the
agent console's (:mod:`handoff.auth`), over the same accounts in Redis.
"""
