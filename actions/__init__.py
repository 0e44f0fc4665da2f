"""Custom actions of the Noor Utilities assistant (Rasa SDK action server).

Start with ``python -m rasa_sdk --actions actions --port 5055`` from the
repository root. Modules:

- ``settings``: configuration from the environment;
- ``knowledge_base``: the organisation's YAML knowledge, loaded once;
- ``replies``: the reply catalogue and the no-repeat picker;
- ``billing``: the billing interface and its demo backend;
- ``tickets``: the Redis ticket store;
- ``dates``: the pure date-expression parser;
- ``forms``: form validation and form questions;
- ``handoff``: the handoff to a person and the return to the bot, with
  ``handoff_ticket`` (the ticket), ``handoff_client`` (the handoff service),
  ``handoff_wording`` (waits and queue places in words) and ``handoff_rating``
  (the rating after a resolved handoff);
- ``actions``: every other action.

Only rasa_sdk, the standard library, PyYAML, redis-py, ``bot.nlu.arabic_text`` and
``bot.masking`` are imported, so the action server does not need Rasa itself.
Importing the package installs the logging filter that masks personal data
(``bot.log_privacy``): rasa_sdk imports it before any action runs.
"""

from bot import log_privacy

log_privacy.install()
