"""Personal data masking for customer text shown to trainers or exported.

The masking itself lives in :mod:`bot.masking`, shared by the action server, the
handoff service, the workbench and every process's logging filter; this module
keeps the workbench's import path.
"""

from __future__ import annotations

from bot.masking import MaskedSpan, find_personal_data, mask

__all__ = ["MaskedSpan", "find_personal_data", "mask"]
