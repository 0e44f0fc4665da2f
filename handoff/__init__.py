"""The handoff service: conversations handed from the bot to a person.

``python -m handoff`` runs it (port 5080); ``handoff.app.create_app`` builds it;
``handoff.store.HandoffStore`` is the only code that touches its Redis keys;
``handoff/PROTOCOL.md`` is the contract with the action server and the channels.
"""
