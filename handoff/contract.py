"""What the Rasa side and the handoff service share besides the service's HTTP API.

Pure names, no I/O: the action server and the Rasa process import this module, never
the service's store (``handoff/store.py`` keeps its keys private).

``INBOX`` is the service's inbound queue for tickets that could not be delivered
over HTTP: when the service is down or slow, the action server keeps its promise to
the customer (a ``T-…`` ticket) and appends the full ticket here; the service, once
back, opens it in the agents' queue (idempotent per conversation) and acknowledges
the entry.
"""

from __future__ import annotations

INBOX = "handoff:inbox"
INBOX_GROUP = "service"
# a bound on the inbox while the service stays down for long (a day of outages)
INBOX_MAXLEN = 100_000
# fields of an inbox entry
INBOX_TICKET = "ticket"  # the ticket JSON of POST /api/internal/tickets
INBOX_OFFLINE_ID = "offline_ticket"  # the T-… number the customer was given
