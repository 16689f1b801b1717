"""The reactor thread: one engine, one transport, one background thread running the driver step.

Theory of operation
-------------------
A :class:`Reactor` owns an :class:`~pgm.driver.EngineDriver` (the engine and the step that runs
it), a transport (:class:`~pgm.net.transport.DatagramTransport`) and one daemon thread.  The
thread loops:

1. under :attr:`Reactor.lock`, note when it will wake (:attr:`Reactor.sleep_until`) and ask which
   descriptors to wait on (:meth:`Reactor._fds`: the socket, or nothing while a receiver applies
   back-pressure);
2. ``select()`` on them and a wake-up pipe until the engine's next deadline (at most
   ``_MAX_SLEEP``, so a stop request is never missed for long);
3. under the lock, run :meth:`Reactor._step`: drain the socket into the engine if it is readable
   (one batch per wake-up), run due timers, transmit what the engine produced, hand its events to
   the owner — the driver's step — and remember the next deadline; then ``notify_all`` on
   :attr:`Reactor.cond` so application threads blocked in a call re-check their condition.

Application threads call the engine's API under the same lock (it is held for microseconds) and
:meth:`Reactor.wake` the thread when they moved a deadline earlier than it sleeps
(:meth:`Reactor._maybe_wake`).  An exception in the thread is kept in :attr:`Reactor.error` and
raised to the application on its next call.  Time is ``time.monotonic()``.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from ipaddress import IPv6Address
from typing import Any

from ..driver import EngineDriver
from ..interfaces import Interface, resolve_interface
from ..net.transport import DatagramTransport
from ..wire import NLA

__all__ = ["Reactor", "clock", "one_of", "pick_interface"]

clock = time.monotonic
"""The clock every reactor and its API calls use."""

_MAX_SLEEP = 0.5


class Reactor:
    """The background thread shared by :class:`~pgm.io.PgmSender` and
    :class:`~pgm.io.PgmReceiver`; subclasses set :attr:`driver` and :attr:`transport`, then
    call :meth:`start`."""

    driver: EngineDriver
    """Runs the engine (see :mod:`pgm.driver`)."""
    transport: DatagramTransport
    """The socket (or a wrapper around it) the engine's packets go through."""

    def __init__(self, name: str) -> None:
        self.lock = threading.RLock()
        """Serialises engine access between the reactor thread and the application."""
        self.cond = threading.Condition(self.lock)
        """Notified after every reactor step (and on close)."""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = False
        self.sleep_until = 0.0
        """When the thread will wake by itself (set under :attr:`lock`)."""
        self.error: BaseException | None = None
        """The exception that ended the thread, if one did."""
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def wake(self) -> None:
        """Make the thread run a step now."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def stop(self) -> None:
        """Stop the thread (waiting up to 5 s for it) and close the wake-up pipe."""
        self._stop = True
        self.wake()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _maybe_wake(self) -> None:
        """Wake the thread if the engine's deadline moved before the thread's wake-up time."""
        t = self.driver.next_deadline()
        if t is not None and t < self.sleep_until:
            self.wake()

    def _check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"PGM I/O thread failed: {self.error!r}") from self.error

    # -- the step (subclasses may extend) --------------------------------------------------------
    def _fds(self) -> list[int]:
        return [self.transport.fileno()]

    def _step(self, readable: set[int], now: float) -> float | None:
        """One driver step; returns the next deadline (absolute) or None."""
        driver = self.driver
        if self.transport.fileno() in readable:
            driver.feed(self.transport.recv_batch(), now)
        driver.tick(now)
        return driver.service(now)

    def _run(self) -> None:
        try:
            deadline: float | None = clock()
            while not self._stop:
                now = clock()
                timeout = (
                    _MAX_SLEEP if deadline is None else min(_MAX_SLEEP, max(0.0, deadline - now))
                )
                with self.lock:
                    self.sleep_until = now + timeout
                    fds = self._fds()
                r, _, _ = select.select([self._wake_r, *fds], [], [], timeout)
                if self._wake_r in r:
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                if self._stop:
                    break
                with self.lock:
                    deadline = self._step(set(r), clock())
                    self.cond.notify_all()
        except BaseException as exc:  # surfaced to the application on its next call
            with self.lock:
                self.error = exc
                self.cond.notify_all()


def pick_interface(spec: str | int | Interface | None, group: NLA) -> Interface:
    """``spec`` (a name, address, index or :class:`Interface`; None: the default) resolved for
    ``group``'s IP version."""
    if isinstance(spec, Interface):
        return spec
    return resolve_interface(spec, 6 if isinstance(group, IPv6Address) else 4)


def one_of(name: str, value: Any, alias: str, other: Any) -> Any:
    """The one of two spellings of an argument that was given (``iface=`` / ``ifaces=``);
    ValueError when both were."""
    if value is not None and other is not None:
        raise ValueError(f"pass {name}= or {alias}=, not both")
    return value if value is not None else other
