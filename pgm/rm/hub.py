"""The receiver behind a listening socket and the sockets it accepted.

Theory of operation: one :class:`~pgm.io.PgmReceiver` serves a listening socket and every
session socket accepted from it.  Its ``on_events`` hook, called in the reactor thread with the
receiver's lock held, hands each batch of engine events to a :class:`~pgm.sessions.SessionDemux`
(admission on first data, as Windows' ``listen``; unrecoverable loss resets a session), then
marks readable the listener (a session to accept) and the sockets whose sessions changed.  The
demultiplexer's byte budget is the back-pressure: while the sessions hold more than it, events
stay in the receiver's own bounded queue (which stops reading the network when full), and the
first read that brings the sessions back under it takes them.  The receiver is closed when the
listener and every accepted socket have let go of it (:attr:`Hub.refs`).
"""

from __future__ import annotations

import threading
from typing import Protocol

from ..io import PgmReceiver
from ..sessions import Admit, DemuxConfig, DemuxSession, SessionDemux

__all__ = ["Hub", "Signal"]


class Signal(Protocol):
    """A socket whose readiness the hub sets (caller holds the receiver's lock)."""

    def _set_readable(self, flag: bool) -> None: ...


class Hub:
    """A :class:`~pgm.io.PgmReceiver` shared by a listener and its accepted sockets."""

    def __init__(self, max_bytes: int, max_sessions: int = 1024) -> None:
        self.rx: PgmReceiver | None = None
        """The receiver, once :meth:`attach` ed."""
        self.cond: threading.Condition | None = None
        """A condition on the receiver's lock: notified when events were routed."""
        self.demux = SessionDemux(
            DemuxConfig(
                max_bytes=max_bytes,
                max_sessions=max_sessions,
                admit=Admit.ON_DATA,
                loss_ends_session=True,
                keep_empty=False,  # recv() returning b"" means the session ended gracefully
            )
        )
        """Per-session queues (the receiver's lock protects it)."""
        self.listener: Signal | None = None
        """The listening socket while open."""
        self.refs = 1
        """Sockets using the receiver: the listener and each accepted socket not yet closed."""
        self.error: BaseException | None = None
        """Why taking events from the receiver failed, if it did."""

    def attach(self, rx: PgmReceiver) -> None:
        """Start routing ``rx``'s events (it may have queued some already)."""
        self.cond = threading.Condition(rx.lock)
        self.rx = rx
        with rx.lock:
            rx.on_events = self.on_events
            self.drain()

    def on_events(self) -> None:
        """Reactor thread, lock held: new events are queued."""
        if self.cond is None:
            return
        self.drain()
        self.cond.notify_all()

    def drain(self) -> None:
        """Route what the receiver queued, unless the sessions hold more than the budget."""
        rx = self.rx
        demux = self.demux
        if rx is None or not demux.has_room:
            return
        try:
            events = rx.next_events(0)
        except RuntimeError as exc:
            self.error = exc
            return
        changed = demux.feed(events)
        if self.listener is not None and demux.pending:
            self.listener._set_readable(True)
        for s in changed:
            if s.tag is not None:
                s.tag._set_readable(True)

    def read_done(self, was_full: bool) -> None:
        """After a read: take held-back events once the sessions are back under the budget."""
        if was_full and self.demux.has_room:
            self.drain()

    def drop(self, session: DemuxSession) -> None:
        """``session``'s socket is closed: free its queue, route nothing more to it."""
        session.tag = None
        self.demux.drop(session)
        self.drain()

    def close_listener(self) -> None:
        """The listening socket is closed: sessions not accepted yet are dropped."""
        self.listener = None
        self.demux.stop_admitting()
        self.drain()
