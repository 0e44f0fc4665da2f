"""Input channels of the Rasa server (REST, web chat, WhatsApp, Twilio) and the handoff relay.

Rasa imports this package when it loads the channels of ``credentials.yml``, before
any message arrives: that is where the Rasa process installs the logging filter
that masks personal data (``bot.log_privacy``).
"""

from bot import log_privacy

log_privacy.install()
