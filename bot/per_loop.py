"""One object per event loop: the process-wide objects of the Rasa process's channels.

Sanic runs one event loop per worker process, and the tests run several channel servers
(several "processes") in one Python process, each on its own loop; an object holding
tasks and Redis connections of one loop must not be shared with another.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """Objects made by ``factory``, one per event loop, created on first use.

    Args:
        factory: makes the object of a loop that has none yet.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._objects: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def current(self) -> T:
        """The running loop's object (made now if it has none)."""
        loop = asyncio.get_running_loop()
        found = self._objects.get(loop)
        if found is None:
            found = self._objects[loop] = self._factory()
        return found

    def install(self, loop: asyncio.AbstractEventLoop, value: T) -> None:
        """Use ``value`` as the object of ``loop`` (a test's own)."""
        self._objects[loop] = value

    def of_loop(self, loop: asyncio.AbstractEventLoop) -> Optional[T]:
        """The object of ``loop``, if it has one (to stop it after the loop stopped)."""
        return self._objects.get(loop)
