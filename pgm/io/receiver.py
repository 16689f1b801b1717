"""PgmReceiver: every PGM session sent to a group and port, on a real socket, with a blocking API.

Theory of operation
-------------------
A :class:`PgmReceiver` is a :class:`~pgm.io.reactor.Reactor` around a
:class:`~pgm.engine.Receiver`.  A step drains the socket into the engine (one batch: every
datagram queued, up to a bound), runs its NAK / SPMR / expiry timers, transmits its NAKs and
SPMRs, and appends the events it produced to the receiver's queue — one lock and one notify per
step.  The application takes them with :meth:`PgmReceiver.next_event`,
:meth:`PgmReceiver.next_events` (a whole batch per lock round-trip) or by iterating.

Who runs the step: an application thread that waits for events with the queue empty runs it
itself (it *drives*): it waits in ``select()`` on the socket until data arrives, the engine's
next deadline or its own timeout, then drains, parses, runs the engine and takes the batch in
one go, in its own thread.  Meanwhile the reactor thread leaves the socket alone: it only runs
due timers, and takes the socket back when no application thread drove it for
:data:`DRIVE_LEASE` seconds (an application busy elsewhere, or not reading at all).  So a
reading application receives on one thread, without the GIL passing between two at every
syscall; only the change of hands costs a wake-up.  A drain that reaches the bound
(:data:`~pgm.net.base.MAX_BATCH` reads: more is waiting, the thread falls behind) hands the
socket to the reactor thread at once, so that at saturation one thread reads while the other
works on the previous batch, as two threads always did; the application drives again the next
time it finds the queue empty.  Not with UDP GRO, where a full drain is only a dozen reads.
``next_event(0)`` / ``next_events(0)`` never drive (they only take what is queued: safe from
``on_events``).

Back-pressure: when the application has more than ``max_queue_bytes`` of messages, or more than
``max_queue_events`` events, not yet read, the reactor stops reading the socket until it catches
up (the kernel buffer then fills, and what overflows is repaired by NAKs).  An application
thread drives only with the queue empty, and one drain is bounded, so the queue stays bounded.

Simulated loss (``loss=``) is a :class:`~pgm.net.lossy.LossyTransport` around the socket: the
reactor and the engine see a lossy network and nothing else.
"""

from __future__ import annotations

import random
import select
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from ..driver import EngineDriver
from ..engine import DataReceived, Event, Receiver, ReceiverConfig, SessionInfo
from ..interfaces import Interface
from ..net.base import MAX_BATCH
from ..net.lossy import LossyTransport
from ..net.transport import DatagramTransport, open_transport
from ..wire import NLA, as_nla
from .log import log_buffer_warning, log_receiver_events
from .reactor import Reactor, clock, one_of, pick_interface

__all__ = [
    "DRIVE_LEASE",
    "MAX_QUEUE_EVENTS",
    "TIMER_DEFER",
    "PgmReceiver",
    "ReceiverEndpoint",
    "open_receiver_endpoint",
    "receiver_stats",
]

DRIVE_LEASE = 0.02
"""Seconds after an application thread last drove a step during which the reactor thread
leaves the socket to it (module docstring)."""

TIMER_DEFER = 0.5
"""Seconds a receiver that is behind (a drain that reached ``MAX_BATCH``: more is queued in the
socket) may put off the engine's timers.  Its NAK waits would otherwise expire while the NCFs
and repairs they wait for sit unread in the socket: repeated NAKs, duplicate repairs, more
load on a receiver already behind (docs/performance.md).  At 1 Gbit/s and 5 % loss a receiver
is behind for most of a transfer by more than 50 ms: with 50 ms, 4 000 of 4 800 lost numbers
were NAKed and repaired twice; with 0.5 s, 260-380.  Bounded, so a flood that keeps the
socket full delays timers (NAKs, SPMRs, expiry) by at most this much."""

MAX_QUEUE_EVENTS = 1 << 18
"""Events queued for the application, by default, before the reactor stops reading."""


class PgmReceiver(Reactor):
    """Receive every session sent to a group and port.

    Iterate over it (or call :meth:`next_event`) to get engine events in order:
    ``SessionStarted``, ``DataReceived`` (one per message), ``UnrecoverableLoss``,
    ``SessionEnded``.  ``ifaces`` lists the interfaces to join on (default: one, chosen like
    the sender's); ``iface=`` names one, as :class:`~pgm.io.PgmSender` spells it.
    ``loss`` drops that fraction of incoming data packets at random before the engine sees
    them — simulated loss for demonstrations and tests (``loss_seed`` seeds it; default: a
    random seed).  A group that is not multicast or a port outside 1..65535 raises ValueError,
    and nothing opened stays open.  ``max_queue_bytes`` / ``max_queue_events`` bound what is
    queued for the application (see the module docstring).  ``on_events`` (also settable as an
    attribute) is called, with :attr:`lock` held, after a step queued new events — in the
    reactor thread, or in an application thread that drove the step: a consumer can take them
    there with ``next_events(0)`` (the Windows-style socket facade demultiplexes sessions this
    way).
    """

    def __init__(
        self,
        group: str | NLA,
        port: int = 7500,
        *,
        ifaces: Sequence[str | int | Interface] | str | int | Interface | None = None,
        iface: str | int | Interface | None = None,
        transport: str = "raw",
        config: ReceiverConfig | None = None,
        max_queue_bytes: int = 64 * 1024 * 1024,
        max_queue_events: int = MAX_QUEUE_EVENTS,
        loss: float = 0.0,
        loss_seed: int | None = None,
        rng: random.Random | None = None,
        on_events: Callable[[], object] | None = None,
    ) -> None:
        super().__init__("pgm-receiver")
        self.on_events = on_events
        try:
            if max_queue_events < 1:
                raise ValueError(f"max_queue_events must be >= 1, not {max_queue_events}")
            end = open_receiver_endpoint(
                group,
                port,
                ifaces=one_of("ifaces", ifaces, "iface", iface),
                transport=transport,
                config=config,
                loss=loss,
                loss_seed=loss_seed,
                rng=rng,
                now=clock(),
            )
        except BaseException:
            self.stop()  # the wake-up pipe: nothing may leak
            raise
        self.group = end.group
        self.ifaces = end.ifaces
        self._lossy = end.lossy
        self.transport: DatagramTransport = end.transport
        self.engine = end.engine
        self.port = port
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self.max_queue_bytes = max_queue_bytes
        self.max_queue_events = max_queue_events
        self.driver = EngineDriver(self.engine, self.transport.send_all, self._queue_events)
        self._closed = False
        self._driving = False  # an application thread is in its select() on the socket
        self._driven_at = -DRIVE_LEASE  # when an application thread last drove a step
        self._reactor_reads = True  # the reactor thread's select() includes the socket
        self._ticked = 0.0  # when the engine's timers last ran (TIMER_DEFER)
        self.drives = 0
        """Steps run by application threads (the rest ran in the reactor thread)."""
        log_buffer_warning(f"receiver on {self.group} port {port}", self.transport)
        self.start()

    # -- reactor --------------------------------------------------------------------------------
    def _full(self) -> bool:
        return self._queued_bytes > self.max_queue_bytes or len(self._queue) > self.max_queue_events

    def _fds(self) -> list[int]:
        if self._full():
            return []  # back-pressure: let the application catch up first
        if self._driving or clock() - self._driven_at < DRIVE_LEASE:
            self._reactor_reads = False  # an application thread reads the socket
            return []
        self._reactor_reads = True
        return [self.transport.fileno()]

    def _step(self, readable: set[int], now: float) -> float | None:
        readable_now = self.transport.fileno() in readable
        deadline = self._run_step(self.transport.recv_batch() if readable_now else [], now)
        if not self._reactor_reads:  # wake when the application's lease runs out
            lease_end = (now if self._driving else self._driven_at) + DRIVE_LEASE
            if deadline is None or lease_end < deadline:
                deadline = lease_end
        return deadline

    def _run_step(self, batch: list[Any], now: float) -> float | None:
        """Feed one drain, run the engine's timers — unless the drain was full (more is queued
        in the socket) and they ran less than :data:`TIMER_DEFER` ago — flush and hand over
        the events; the next deadline."""
        timers = len(batch) < MAX_BATCH or now - self._ticked >= TIMER_DEFER
        if timers:
            self._ticked = now
        return self.driver.step(now, batch, timers)

    def _queue_events(self, evs: Sequence[Any]) -> None:
        log_receiver_events(self.group, self.port, evs)
        self._queue.extend(evs)
        self._queued_bytes += sum([len(e.data) for e in evs if type(e) is DataReceived])
        if self.on_events is not None:
            self.on_events()

    # -- events ----------------------------------------------------------------------------------
    def _take(self, timeout: float | None, one: bool) -> list[Event]:
        """The first queued event (``one``) or all of them, waiting up to ``timeout`` for one
        (None: forever) and driving the socket meanwhile when no other thread does; [] on
        timeout or once closed."""
        with self.lock:
            if self._queue:
                return self._pop(one)
        end = None if timeout is None else clock() + timeout
        while True:
            with self.lock:
                if self._queue:
                    return self._pop(one)
                self._check()
                if self._closed:
                    return []
                wait = 0.2 if end is None else min(0.2, end - clock())
                if wait <= 0:
                    return []
                if self._driving:
                    self.cond.wait(wait)  # another application thread drives
                    continue
                self._driving = True
                wake = self._reactor_reads
                deadline = self.driver.next_deadline()
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - clock()))
            self._drive(wait, wake)

    def _drive(self, wait: float, wake: bool) -> None:
        """Wait (lock not held) up to ``wait`` seconds for the socket, then run the step; a
        full drain (more may be waiting: this thread falls behind) hands the socket to the
        reactor thread at once, which then reads while this one works on the batch."""
        readable = False
        try:
            if wake:
                self.wake()  # the reactor thread stops selecting on the socket
            fd = self.transport.fileno()
            readable = bool(select.select([fd], [], [], wait)[0])
        except (OSError, ValueError):
            pass  # closed meanwhile: the step below is skipped
        finally:
            with self.lock:
                behind = False
                try:
                    if not self._closed and self.error is None:
                        self.drives += 1
                        batch = self.transport.recv_batch() if readable else []
                        # The hand-over (module docstring) is for one datagram per read: with
                        # UDP GRO a full drain is a dozen reads, and handing the socket over
                        # there cost a quarter of the lossless goodput without helping under
                        # loss (docs/performance.md).
                        behind = len(batch) >= MAX_BATCH and not getattr(
                            self.transport, "gro", False
                        )
                        self._run_step(batch, clock())
                finally:  # still driving during the step: on_events cannot nest one
                    self._driving = False
                    self._driven_at = -DRIVE_LEASE if behind else clock()
                    self.cond.notify_all()
                if behind:
                    self.wake()

    def _pop(self, one: bool) -> list[Event]:
        """Take (lock held) the first queued event or all; wake the reactor if that ends
        back-pressure."""
        full = self._full()
        if one:
            e = self._queue.popleft()
            if type(e) is DataReceived:
                self._queued_bytes -= len(e.data)
            if full and not self._full():
                self.wake()
            return [e]
        out = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        if full:
            self.wake()
        return out

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None: forever); None on timeout."""
        got = self._take(timeout, True)
        return got[0] if got else None

    def next_events(self, timeout: float | None = None) -> list[Event]:
        """Every event queued now (waiting up to ``timeout`` for the first); [] on timeout.

        One lock round-trip for the whole batch: the way to keep up at high message rates.
        Waiting, the calling thread drains the socket itself (see the module docstring): the
        batch is then what one drain of the socket produced.
        """
        return self._take(timeout, False)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events until ``timeout`` passes without one (None: until closed)."""
        while True:
            batch = self.next_events(timeout)
            if not batch:
                return
            yield from batch

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    # -- snapshots -------------------------------------------------------------------------------
    @property
    def simulated_drops(self) -> int:
        """Data packets dropped by simulated loss (``loss=``) so far."""
        return 0 if self._lossy is None else self._lossy.drops

    def session_info(self, tsi: Any) -> SessionInfo | None:
        """A read-only snapshot of the session ``tsi`` (``SessionInfo``: first sequence number,
        window, NAK counts, buffered packets, counters, rates), live or ended; None if the engine
        no longer knows it.  Taken under the lock; reading it changes nothing."""
        with self.lock:
            return self.engine.session_info(tsi, clock())

    def stats(self) -> dict[str, Any]:
        """Receiver-wide counters and each live session's figures."""
        with self.lock:
            return receiver_stats(self.engine, clock(), self.simulated_drops)

    # -- ending ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop receiving and release the socket and thread.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        with self.lock:  # never under an application thread's step (it checks _closed)
            self.transport.close()
            self.cond.notify_all()

    def __enter__(self) -> PgmReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReceiverEndpoint(NamedTuple):
    """What :func:`open_receiver_endpoint` opens: a receiver engine and its transport."""

    group: NLA
    """The group, parsed."""
    ifaces: list[Interface]
    """The interfaces joined (the first one opened the socket)."""
    transport: DatagramTransport
    """The socket, or the simulated-loss wrapper around it."""
    lossy: LossyTransport | None
    """The simulated-loss wrapper (``loss=``), if any."""
    engine: Receiver
    """The receiver engine."""


def open_receiver_endpoint(
    group: str | NLA,
    port: int,
    *,
    ifaces: Sequence[str | int | Interface] | str | int | Interface | None,
    transport: str,
    config: ReceiverConfig | None,
    loss: float,
    loss_seed: int | None,
    rng: random.Random | None,
    now: float,
) -> ReceiverEndpoint:
    """Resolve the interfaces, open and join the transport, wrap it for simulated loss and
    build the :class:`~pgm.engine.Receiver` the way :class:`PgmReceiver` does (the asyncio API,
    :mod:`pgm.asyncio`, shares it)."""
    nla = as_nla(group)
    if ifaces is None or isinstance(ifaces, str | int | Interface):
        specs: list[Any] = [ifaces]
    else:
        specs = list(ifaces)
    resolved = [pick_interface(s, nla) for s in specs]
    sock = open_transport(
        transport, nla, port, resolved[0], receiver=True, extra_ifaces=tuple(resolved[1:])
    )
    lossy = LossyTransport(sock, loss, loss_seed) if loss else None
    wrapped: DatagramTransport = sock if lossy is None else lossy
    try:
        engine = Receiver(config or ReceiverConfig(), group=nla, dport=port, rng=rng, now=now)
    except BaseException:
        sock.close()
        raise
    return ReceiverEndpoint(nla, resolved, wrapped, lossy, engine)


def receiver_stats(engine: Receiver, now: float, simulated_drops: int) -> dict[str, Any]:
    """Receiver-wide counters and each session's figures, live or ended (what
    :meth:`PgmReceiver.stats` returns; the asyncio API's receiver shares it)."""
    sessions = {str(t): s.stats_dict(now) for t, s in engine.ended_sessions.items()}
    sessions.update({str(t): s.stats_dict(now) for t, s in engine.sessions.items()})
    return {
        "receiver": {k: getattr(engine.stats, k) for k in engine.stats.__slots__},
        "sessions": sessions,
        "simulated_drops": simulated_drops,
    }
