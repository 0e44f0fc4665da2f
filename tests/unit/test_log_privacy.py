"""No personal data in logs: the filter every process installs (bot/log_privacy.py)."""

from __future__ import annotations

import logging

import pytest

from bot import log_privacy


@pytest.fixture
def masked_logging():
    """The process-wide filter, as each process installs it; the factory restored after."""
    factory = logging.getLogRecordFactory()
    log_privacy.install()
    log_privacy.install()  # idempotent: installing twice masks once
    yield
    logging.setLogRecordFactory(factory)


def test_phone_numbers_and_phone_conversation_ids_never_reach_the_log(masked_logging, caplog):
    caplog.set_level(logging.INFO)
    # the calls the channels and the relay make, with the ids they pass
    logging.getLogger("bot.channels.rest").error("reply timed out for sender %s", "whatsapp:+966551234567")
    logging.getLogger("bot.channels.messaging").info("%s: state notice to %s dropped", "twilio", "whatsapp:+201001234567")
    logging.getLogger("actions.handoff").warning("rating %s without a ticket in conversation %s", 4, "966551234567")
    logging.getLogger("handoff.app").info("customer wrote ٠٥٥ـ١٢٣\u200b٤٥٦٧ and account 4471203")
    text = caplog.text
    for secret in ("966551234567", "201001234567", "551234567", "4471203", "٤٥٦٧"):
        assert secret not in text
    assert "reply timed out for sender whatsapp:+000000000000" in text
    assert "rating 4 without a ticket" in text  # the rest of the message is kept


def test_tracebacks_are_masked_too(masked_logging, caplog):
    try:
        raise KeyError("tracker:whatsapp:+966551234567")
    except KeyError:
        logging.getLogger("bot.channels.relay").exception("entry for %s not delivered", "0551234567")
    assert "551234567" not in caplog.text and "Traceback" in caplog.text
    assert "551234567" not in "".join(r.exc_text or "" for r in caplog.records)
