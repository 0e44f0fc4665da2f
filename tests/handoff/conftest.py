"""Fixtures of the handoff tests: the service on a real port, on the session's real Redis."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from handoff_helpers import RunningService, make_settings, start_service


@pytest.fixture
def service_factory(redis_url: str) -> Iterator[Any]:
    """Start services with custom settings; all are stopped after the test."""
    stops = []

    def factory(**overrides: Any) -> RunningService:
        settings = make_settings(redis_url, **overrides)
        loop, stop = start_service(settings)
        stops.append(stop)
        return RunningService(settings.public_url, settings, loop)

    yield factory
    for stop in reversed(stops):
        stop()


@pytest.fixture
def service(service_factory: Any) -> RunningService:
    return service_factory()
