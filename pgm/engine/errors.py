"""Errors the engine raises at its API (never for network input: bad packets are counted)."""

from __future__ import annotations

import errno

__all__ = ["ConfigError", "NotConnected", "WouldBlock"]


class ConfigError(ValueError):
    """A configuration value is out of range or inconsistent."""


class WouldBlock(BlockingIOError):
    """The send buffer is full; retry after :meth:`Source.next_timer` (Windows: WSAEWOULDBLOCK)."""

    def __init__(self, msg: str = "send buffer full") -> None:
        super().__init__(errno.EWOULDBLOCK, msg)


class NotConnected(OSError):
    """The session is closed or aborted; no more data can be sent (Windows: WSAENOTCONN)."""

    def __init__(self, msg: str = "session closed") -> None:
        super().__init__(errno.ENOTCONN, msg)
