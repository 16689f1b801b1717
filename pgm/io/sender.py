"""The I/O driver: the sans-I/O engine on real sockets, with a blocking API.

Model
-----
Each :class:`PgmSender` / :class:`PgmReceiver` owns one engine, its transport socket and one
background *reactor* thread.  The reactor sleeps in ``select()`` on the socket and a wake-up
pipe until the engine's next deadline, then drains the socket into the engine (one batch per
wake-up), runs due timers (SPM heartbeats, NAK back-off, repairs, window advance) and transmits
what the engine produced.  So the protocol keeps running while the application is not inside a
call — including after :meth:`PgmSender.close`, while the session lingers serving repairs.

The hot paths stay short: :meth:`PgmSender.send` hands the message to the engine and transmits
what the rate limiter allows *in the caller's thread* (no hand-off per message); the reactor only
takes over what has to wait for tokens.  Received messages are handed to the application in
batches (one lock and one notify per socket drain).  A lock serialises engine access; it is held
for microseconds.

Back-pressure: ``send`` blocks while the engine's send buffer is full (or raises
:class:`~pgm.engine.WouldBlock` with ``timeout=0``).  On the receiving side, when the application
has more than ``max_queue_bytes`` of messages not yet read, the reactor stops reading the socket
until it catches up (the kernel buffer then fills, and what overflows is repaired by NAKs).

Time is ``time.monotonic()``.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from ipaddress import IPv6Address
from typing import Any

from .engine import (
    DataReceived,
    Event,
    Receiver,
    ReceiverConfig,
    Source,
    SourceConfig,
    WouldBlock,
)
from .interfaces import Interface, resolve_interface
from .transport import Transport, open_transport
from .wire import NLA, as_nla

__all__ = ["PgmReceiver", "PgmSender"]

_clock = time.monotonic
_MAX_SLEEP = 0.5


class _Reactor:
    """The background thread shared by sender and receiver."""

    def __init__(self, name: str) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = False
        self.sleep_until = 0.0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def stop(self) -> None:
        self._stop = True
        self.wake()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # subclasses fill these in
    def _fds(self) -> list[int]:
        raise NotImplementedError

    def _step(self, readable: set[int], now: float) -> float | None:
        """Do the work; return the next deadline (absolute) or None."""
        raise NotImplementedError

    def _run(self) -> None:
        try:
            deadline: float | None = _clock()
            while not self._stop:
                now = _clock()
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
                    deadline = self._step(set(r), _clock())
                    self.cond.notify_all()
        except BaseException as exc:  # surfaced to the application on its next call
            with self.lock:
                self.error = exc
                self.cond.notify_all()


def _pick_iface(spec: str | int | Interface | None, group: NLA) -> Interface:
    if isinstance(spec, Interface):
        return spec
    return resolve_interface(spec, 6 if isinstance(group, IPv6Address) else 4)


class PgmSender(_Reactor):
    """Send messages to a group, reliably: one PGM source session.

    >>> with PgmSender("239.192.0.1", 7500, transport="udp") as tx:   # doctest: +SKIP
    ...     tx.send(b"hello")

    ``iface`` is an interface name, address or index (default: the first non-loopback one).
    ``transport`` is ``"raw"`` (IP protocol 113, needs root/CAP_NET_RAW) or ``"udp"``.
    ``ttl`` is the multicast TTL/hop limit; ``loop`` whether this host's own receivers hear it.
    """

    def __init__(
        self,
        group: str | NLA,
        port: int = 7500,
        *,
        iface: str | int | Interface | None = None,
        transport: str = "raw",
        config: SourceConfig | None = None,
        ttl: int = 1,
        loop: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__("pgm-sender")
        self.group = as_nla(group)
        self.iface = _pick_iface(iface, self.group)
        cfg = config or SourceConfig()
        cfg.ip_version = 6 if isinstance(self.group, IPv6Address) else 4
        cfg.udp_encapsulation = transport == "udp"
        cfg.__post_init__()
        self.transport: Transport = open_transport(
            transport, self.group, port, self.iface, receiver=False, ttl=ttl, loop=loop
        )
        try:
            self.engine = Source(
                cfg,
                group=self.group,
                nla=self.iface.address(cfg.ip_version),
                dport=port,
                rng=rng,
                now=_clock(),
            )
        except BaseException:
            self.transport.close()
            raise
        self.port = port
        self._events: deque[Event] = deque()
        self._closed = False
        self.start()

    # -- reactor --------------------------------------------------------------------------------
    def _fds(self) -> list[int]:
        return [self.transport.fileno()]

    def _flush(self, now: float) -> None:
        send = self.transport.send
        for pkt, dst, ttl in self.engine.datagrams_to_send(now):
            send(pkt, dst, ttl)

    def _step(self, readable: set[int], now: float) -> float | None:
        eng = self.engine
        if self.transport.fileno() in readable:
            for pkt, src, _dst in self.transport.recv_batch():
                eng.receive(pkt, src, now)
        t = eng.next_timer()
        if t is not None and t <= now:
            eng.handle_timer(now)
        self._flush(now)
        while (e := eng.next_event()) is not None:
            self._events.append(e)
        if eng.state == "closed":
            self._stop = True
        return eng.next_timer()

    def _check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"PGM I/O thread failed: {self.error!r}") from self.error

    # -- API -------------------------------------------------------------------------------------
    @property
    def tsi(self) -> Any:
        """This session's TSI."""
        return self.engine.tsi

    def send(self, data: bytes, timeout: float | None = None) -> int:
        """Send one message; returns the sequence number of its first packet.

        Blocks while the send buffer is full (``timeout`` seconds at most: then
        :class:`TimeoutError`; ``timeout=0`` raises :class:`WouldBlock` at once).
        """
        return self.send_many((data,), timeout)

    def send_many(self, messages: Iterable[bytes], timeout: float | None = None) -> int:
        """Send several messages (each keeps its boundary) with one hand-off to the network.

        Same blocking rules as :meth:`send`; returns the first sequence number of the last one.
        Bulk senders should prefer it: the per-call overhead is paid once per batch.
        """
        end = None if timeout is None else _clock() + timeout
        first = -1
        with self.lock:
            self._check()
            eng = self.engine
            for data in messages:
                while True:
                    now = _clock()
                    try:
                        first = eng.send(data, now)
                        break
                    except WouldBlock:
                        if timeout == 0:
                            raise
                        remaining = None if end is None else end - now
                        if remaining is not None and remaining <= 0:
                            raise TimeoutError("send buffer still full") from None
                        self._flush(now)
                        self._maybe_wake()
                        self.cond.wait(min(0.05, remaining) if remaining is not None else 0.05)
                        self._check()
            self._flush(_clock())
            if eng.pending_bytes:  # the rate limiter holds some back: the reactor sends it
                self._maybe_wake()
            return first

    def _maybe_wake(self) -> None:
        t = self.engine.next_timer()
        if t is not None and t < self.sleep_until:
            self.wake()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued message has been transmitted once; False on timeout."""
        end = None if timeout is None else _clock() + timeout
        with self.lock:
            while self.engine.pending_bytes:
                self._check()
                remaining = None if end is None else end - _clock()
                if remaining is not None and remaining <= 0:
                    return False
                self.cond.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def close(self, linger: float | None = None) -> None:
        """End the session (OPT_FIN), serve repairs while lingering, then release everything.

        ``linger`` caps the wait (default: the config's ``linger_secs``); queued data is
        transmitted first.  Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        cfg = self.engine.config
        limit = cfg.effective_linger if linger is None else linger
        with self.lock:
            self.engine.close(_clock(), linger=linger)
            self._flush(_clock())
        self.wake()
        self.flush()
        end = _clock() + limit + 1.0
        with self.lock:
            while self.engine.state != "closed" and self.error is None and _clock() < end:
                self.cond.wait(0.1)
        self.stop()
        self.transport.close()

    def abort(self) -> None:
        """Abort the session (OPT_RST) and release everything at once."""
        if self._closed:
            return
        self._closed = True
        with self.lock:
            self.engine.abort(_clock())
            self._flush(_clock())
        self.stop()
        self.transport.close()

    def stats(self) -> dict[str, Any]:
        """The source's counters, window edges and rates."""
        with self.lock:
            d = self.engine.stats_dict(_clock())
            d["tx_errors"] = self.transport.tx_errors
            return d

    def __enter__(self) -> PgmSender:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()


class PgmReceiver(_Reactor):
    """Receive every session sent to a group and port.

    Iterate over it (or call :meth:`next_event`) to get engine events in order:
    ``SessionStarted``, ``DataReceived`` (one per message), ``UnrecoverableLoss``,
    ``SessionEnded``.  ``ifaces`` lists the interfaces to join on (default: one, chosen like
    the sender's).  ``loss`` drops that fraction of incoming data packets at random before the
    engine sees them — simulated loss for demonstrations and tests.  ``on_events`` (also settable
    as an attribute) is called in the reactor thread, with :attr:`lock` held, after a step queued
    new events: a consumer can take them there with ``next_events(0)`` (the Windows-style socket
    facade demultiplexes sessions this way).
    """

    def __init__(
        self,
        group: str | NLA,
        port: int = 7500,
        *,
        ifaces: Sequence[str | int | Interface] | str | int | None = None,
        transport: str = "raw",
        config: ReceiverConfig | None = None,
        max_queue_bytes: int = 64 * 1024 * 1024,
        loss: float = 0.0,
        rng: random.Random | None = None,
        on_events: Callable[[], object] | None = None,
    ) -> None:
        super().__init__("pgm-receiver")
        self.on_events = on_events
        self.group = as_nla(group)
        if ifaces is None or isinstance(ifaces, str | int):
            specs: list[Any] = [ifaces]
        else:
            specs = list(ifaces)
        self.ifaces = [_pick_iface(s, self.group) for s in specs]
        cfg = config or ReceiverConfig()
        self.transport: Transport = open_transport(
            transport,
            self.group,
            port,
            self.ifaces[0],
            receiver=True,
            extra_ifaces=tuple(self.ifaces[1:]),
        )
        self.engine = Receiver(cfg, group=self.group, dport=port, rng=rng, now=_clock())
        self.port = port
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self.max_queue_bytes = max_queue_bytes
        self._loss = loss
        self._loss_rng = random.Random(os.urandom(8))
        self.simulated_drops = 0
        self._closed = False
        self.start()

    def _fds(self) -> list[int]:
        if self._queued_bytes > self.max_queue_bytes:
            return []  # back-pressure: let the application catch up first
        return [self.transport.fileno()]

    def _step(self, readable: set[int], now: float) -> float | None:
        eng = self.engine
        if self.transport.fileno() in readable:
            items = self.transport.recv_batch()
            if self._loss:
                keep = []
                rnd = self._loss_rng.random
                for it in items:
                    d = it[0]
                    if len(d) > 4 and d[4] in (4, 5) and rnd() < self._loss:
                        self.simulated_drops += 1
                        continue
                    keep.append(it)
                items = keep
            eng.receive_many(items, now)
        t = eng.next_timer()
        if t is not None and t <= now:
            eng.handle_timer(now)
        send = self.transport.send
        for pkt, dst, ttl in eng.datagrams_to_send(now):
            send(pkt, dst, ttl)
        evs = eng.take_events()
        if evs:
            self._queue.extend(evs)
            self._queued_bytes += sum(len(e.data) for e in evs if type(e) is DataReceived)
            if self.on_events is not None:
                self.on_events()
        return eng.next_timer()

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None: forever); None on timeout."""
        end = None if timeout is None else _clock() + timeout
        with self.lock:
            while not self._queue:
                if self.error is not None:
                    raise RuntimeError(f"PGM I/O thread failed: {self.error!r}") from self.error
                if self._closed:
                    return None
                remaining = None if end is None else end - _clock()
                if remaining is not None and remaining <= 0:
                    return None
                self.cond.wait(0.2 if remaining is None else min(0.2, remaining))
            e = self._queue.popleft()
            if type(e) is DataReceived:
                before = self._queued_bytes
                self._queued_bytes -= len(e.data)
                if before > self.max_queue_bytes >= self._queued_bytes:
                    self.wake()
            return e

    def next_events(self, timeout: float | None = None) -> list[Event]:
        """Every event queued now (waiting up to ``timeout`` for the first); [] on timeout.

        One lock round-trip for the whole batch: the way to keep up at high message rates.
        """
        end = None if timeout is None else _clock() + timeout
        with self.lock:
            while not self._queue:
                if self.error is not None:
                    raise RuntimeError(f"PGM I/O thread failed: {self.error!r}") from self.error
                if self._closed:
                    return []
                remaining = None if end is None else end - _clock()
                if remaining is not None and remaining <= 0:
                    return []
                self.cond.wait(0.2 if remaining is None else min(0.2, remaining))
            out = list(self._queue)
            self._queue.clear()
            before = self._queued_bytes
            self._queued_bytes = 0
            if before > self.max_queue_bytes:
                self.wake()
            return out

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events until ``timeout`` passes without one (None: until closed)."""
        while True:
            batch = self.next_events(timeout)
            if not batch:
                return
            yield from batch

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def stats(self) -> dict[str, Any]:
        """Receiver-wide counters and each live session's figures."""
        with self.lock:
            now = _clock()
            eng = self.engine
            sessions = {str(t): s.stats_dict(now) for t, s in eng.ended_sessions.items()}
            sessions.update({str(t): s.stats_dict(now) for t, s in eng.sessions.items()})
            return {
                "receiver": {k: getattr(eng.stats, k) for k in eng.stats.__slots__},
                "sessions": sessions,
                "simulated_drops": self.simulated_drops,
            }

    def close(self) -> None:
        """Stop receiving and release the socket and thread.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        self.transport.close()
        with self.lock:
            self.cond.notify_all()

    def __enter__(self) -> PgmReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
