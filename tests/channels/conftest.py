"""Fixtures of the channel tests (helpers live in channel_harness.py)."""

from __future__ import annotations

from typing import Iterator

import pytest
from channel_harness import FakeGraphApi


@pytest.fixture
def fake_api() -> Iterator[FakeGraphApi]:
    """The fake Graph/Twilio API on a free port, recording every request."""
    server = FakeGraphApi().start()
    yield server
    server.stop()
