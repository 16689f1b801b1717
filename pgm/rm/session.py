"""The accepted-session role of a Windows-style PGM socket: ``recv`` and its relatives.

Theory of operation: ``accept()`` on a listening socket returns one socket per sender session;
its role holds the session's :class:`~pgm.sessions.DemuxSession` in the shared
:class:`~pgm.rm.hub.Hub`.  A receive waits (the socket's timeout) until the session is readable,
then takes a message or part of one (SOCK_RDM: ``rest`` says how much of it is left for the
next call), or bytes across messages (SOCK_STREAM).  The end marker comes after the data before
it: a graceful end reads as ``b""``, a reset (loss, OPT_RST, expiry) raises WSAECONNRESET, on
that call and every later one.
"""

from __future__ import annotations

from collections.abc import Callable

from ..sessions import DemuxSession
from .errors import rm_error
from .hub import Hub
from .stats import receiver_stats
from .structs import RM_RECEIVER_STATS

__all__ = ["SessionRole"]

#: Wait (receiver lock held) until the predicate holds, honouring the socket's timeout.
Waiter = Callable[[Callable[[], bool], str], None]


class SessionRole:
    """An accepted socket's own state: its session in the hub."""

    kind = "session"

    def __init__(self, hub: Hub, session: DemuxSession) -> None:
        self.hub = hub
        """The receiver shared with the listener."""
        self.session = session
        """The sender session this socket reads."""
        self.shut_rd = False
        """Shut down for receiving (later receives: WSAESHUTDOWN)."""

    def take(self, bufsize: int, message_mode: bool, wait: Waiter, what: str) -> tuple[bytes, int]:
        """Up to ``bufsize`` bytes; returns (data, bytes of the message still unread)."""
        hub, s = self.hub, self.session
        assert hub.cond is not None
        with hub.cond:
            wait(lambda: s.readable, what)
            end = s.end
            if s.at_end and end is not None:
                if not end.graceful:
                    raise rm_error("WSAECONNRESET", end.detail)
                return b"", 0
            was_full = not hub.demux.has_room
            if message_mode:
                data, rest = s.read_message(bufsize)
            else:
                data, rest = s.read_stream(bufsize), 0
            if s.tag is not None:
                s.tag._set_readable(s.readable)
            hub.read_done(was_full)
            return data, rest

    def statistics(self) -> RM_RECEIVER_STATS:
        """Live RM_RECEIVER_STATISTICS of the session (also once it ended, while the receiver
        remembers it)."""
        rx = self.hub.rx
        info = rx.session_info(self.session.tsi) if rx is not None else None
        if info is None:
            raise rm_error("WSAENOTCONN", "getsockopt: the session is no longer known")
        return receiver_stats(info)
