"""A bounded store for engine events that nobody may ever read.

Theory of operation
-------------------
A :class:`~pgm.io.PgmSender` drains its source's events (NAKs heard, repairs sent, the close)
at every driver step, or they would pile up in the engine.  Most applications never look at
them, so they go into an :class:`EventHistory`: at most ``cap`` events (default
:data:`EVENT_HISTORY`), the newest kept, the oldest dropped and counted in
:attr:`EventHistory.dropped`.  A long-running sender under loss therefore holds a fixed amount
of memory for them, and one that wants them takes them (``PgmSender.take_events``) often enough
to see every one.  The caller holds whatever lock protects it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from ..engine import Event

__all__ = ["EVENT_HISTORY", "EventHistory"]

EVENT_HISTORY = 1024
"""Events kept by default (the newest)."""


class EventHistory:
    """The newest ``cap`` events fed to it, and how many older ones were dropped."""

    __slots__ = ("_q", "dropped")

    def __init__(self, cap: int = EVENT_HISTORY) -> None:
        if cap < 1:
            raise ValueError(f"cap must be >= 1, not {cap}")
        self._q: deque[Event] = deque(maxlen=cap)
        self.dropped = 0
        """Events dropped (oldest first) to stay within the cap, since creation."""

    def __len__(self) -> int:
        return len(self._q)

    @property
    def cap(self) -> int:
        """The most events kept."""
        return self._q.maxlen or 0

    def extend(self, events: Sequence[Event]) -> None:
        """Keep ``events`` (a driver's ``deliver``), dropping the oldest beyond the cap."""
        q = self._q
        over = len(q) + len(events) - self.cap
        if over > 0:
            self.dropped += over
        q.extend(events)

    def take(self) -> list[Event]:
        """The kept events, oldest first; the history is empty afterwards."""
        out = list(self._q)
        self._q.clear()
        return out
