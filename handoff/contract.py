"""What the Rasa side and the handoff service share besides the service's HTTP API.

Pure names, no I/O: the action server and the Rasa process import this module, never
the service's store (``handoff/store.py`` keeps its other keys private). Every key and
stream here has one writer:

* ``CONVERSATION`` hashes (``conversation_key``): written only by the service, in the
  same atomic step as the ticket's state; the Rasa side reads them to know who is
  talking to the customer (:data:`FIELD_TICKET`, :data:`FIELD_STATE`, :data:`FIELD_CHANNEL`).
* ``OUTBOUND``: written by the service; the relay in each Rasa process reads it
  (consumer group :data:`RELAY_GROUP`) and applies every transition to the tracker.
* ``CUSTOMER``: written by the Rasa side (customer messages and typing while a ticket
  is open, notices of what the relay could not deliver); the service reads it (group
  :data:`SERVICE_GROUP`) into the ticket's events.
* ``INBOX``: written by the action server when the service's HTTP API is unreachable:
  the full ticket, which the service opens in the queue once back (idempotent per
  conversation) and acknowledges.

The handoff's states (the service owns every transition; ``handoff/PROTOCOL.md``):
``queued`` (waiting for an agent; the bot is paused), ``callback`` (nobody can chat
now: a colleague will call back; the bot keeps answering), ``with_agent`` (a person
has the conversation; the bot is paused), ``bot`` (returned to the bot) and
``resolved``.
"""

from __future__ import annotations

QUEUED, CALLBACK, WITH_AGENT, BOT, RESOLVED = "queued", "callback", "with_agent", "bot", "resolved"
# a ticket in these states is open: its customer's messages join the ticket's events
OPEN_STATES = (QUEUED, CALLBACK, WITH_AGENT)
# waiting for an agent to claim it (the agents' queue)
WAITING_STATES = (QUEUED, CALLBACK)
# a person has the conversation: the bot stays silent
PAUSED_STATES = (QUEUED, WITH_AGENT)
CLOSED_STATES = (BOT, RESOLVED)

_CONVERSATION_PREFIX = "handoff:conversation:"
FIELD_TICKET, FIELD_STATE, FIELD_CHANNEL = "ticket_id", "state", "channel"


def conversation_key(conversation_id: str) -> str:
    """Hash of the conversation's open ticket (absent when none is open)."""
    return _CONVERSATION_PREFIX + conversation_id


OUTBOUND = "handoff:outbound"
RELAY_GROUP = "relay"
OUTBOUND_MAXLEN = 100_000

CUSTOMER = "handoff:customer"
SERVICE_GROUP = "service"
CUSTOMER_MAXLEN = 100_000
# fields of a CUSTOMER entry
CUSTOMER_KIND = "kind"  # "message", "typing" or "relay_notice" (text and metadata: a system event for the agent)
CUSTOMER_CONVERSATION = "conversation_id"
CUSTOMER_TICKET = "ticket_id"  # the ticket that was open when the message arrived
CUSTOMER_CHANNEL = "channel"
CUSTOMER_TEXT = "text"
CUSTOMER_MESSAGE_ID = "message_id"  # the channel's id, for de-duplicating retries
CUSTOMER_METADATA = "metadata"  # JSON object (relay_notice: the system event's data)

INBOX = "handoff:inbox"
INBOX_GROUP = SERVICE_GROUP
# a bound on the inbox while the service stays down for long (a day of outages)
INBOX_MAXLEN = 100_000
# fields of an inbox entry
INBOX_TICKET = "ticket"  # the ticket JSON of POST /api/internal/tickets
INBOX_OFFLINE_ID = "offline_ticket"  # the T-… number the customer was given
