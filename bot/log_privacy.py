"""No personal data in logs: one filter, installed by every process at start.

``install()`` masks every log record of the process with :mod:`bot.masking`
(phone numbers, conversation ids that are phone numbers, national ids, IBANs,
cards, e-mail addresses and any other run of 7+ digits). It wraps the log
record factory rather than adding the filter to a logger or a handler: a
logger's filter never sees records its children propagate, and Rasa, Sanic and
aiohttp add their handlers after our modules are imported.

Installed by ``actions/__init__.py`` (action server), ``bot/channels/__init__.py``
(the Rasa server loads the channels), ``handoff/__main__.py`` and the workbench
command line.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from bot.masking import mask

_INSTALLED_ATTR = "_personal_data_masked"


class PersonalDataFilter(logging.Filter):
    """Masks the message (arguments merged in) and the traceback of a record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: let the handler report it
            return True
        record.msg, record.args = mask(message, digit_runs=True), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, digit_runs=True)
        if record.stack_info:
            record.stack_info = mask(record.stack_info, digit_runs=True)
        return True


def install() -> None:
    """Mask every record this process creates from now on (idempotent)."""
    factory: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(factory, _INSTALLED_ATTR, False):
        return
    masking = PersonalDataFilter()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        masking.filter(record)
        return record

    setattr(masked_record, _INSTALLED_ATTR, True)
    logging.setLogRecordFactory(masked_record)
