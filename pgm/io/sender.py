"""PgmSender: one PGM source session on a real socket, with a blocking API.

Theory of operation
-------------------
A :class:`PgmSender` is a :class:`~pgm.io.reactor.Reactor` around a
:class:`~pgm.engine.Source`: the reactor thread keeps the protocol running (SPM heartbeats,
NAKs answered with NCFs and repairs, the window advancing) while the application is not inside
a call — including after :meth:`PgmSender.shutdown` / :meth:`PgmSender.close`, while the session
lingers serving repairs.

The hot path stays short: :meth:`PgmSender.send` hands the message to the engine and flushes
what the rate limiter allows *in the caller's thread* (one driver flush per call, no hand-off
per message); the reactor only takes over what has to wait for tokens.  ``send`` blocks while
the engine's send buffer is full (or raises :class:`~pgm.engine.WouldBlock` with
``timeout=0``); a blocked writer is woken once half the buffer has drained, so a source held
back by its rate refills it in large steps rather than after every reactor step.

Everything the Windows-style facade and the CLI need is public here: the session's identity
(:attr:`tsi`, :attr:`nla`, :attr:`max_tsdu`, :attr:`config`), a read-only snapshot
(:meth:`info`, taken under the lock with the reactor's clock), and the close in two halves —
:meth:`shutdown` starts the graceful end (OPT_FIN) without waiting, :meth:`wait_closed` /
:attr:`closed` say when the engine has finished.  A sender still open when the interpreter
exits is closed by an :mod:`atexit` hook (OPT_FIN, at most :data:`AT_EXIT_LINGER` seconds of
repairs), so a script that forgets :meth:`PgmSender.close` still ends its session properly.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import random
import threading
import weakref
from collections.abc import Iterable, Sequence
from ipaddress import IPv6Address
from typing import Any, NamedTuple

from ..driver import EngineDriver
from ..engine import Event, Source, SourceConfig, SourceInfo, SourceState, WouldBlock
from ..interfaces import Interface
from ..net.transport import DatagramTransport, open_transport
from ..wire import NLA, as_nla
from .history import EventHistory
from .log import log, log_buffer_warning
from .reactor import Reactor, clock, one_of, pick_interface

__all__ = ["AT_EXIT_LINGER", "PgmSender", "SourceEndpoint", "open_source_endpoint"]


class PgmSender(Reactor):
    """Send messages to a group, reliably: one PGM source session.

    >>> with PgmSender("239.192.0.1", 7500, transport="udp") as tx:   # doctest: +SKIP
    ...     tx.send(b"hello")

    ``iface`` is an interface name, address or index (default: the first non-loopback one);
    ``ifaces=`` is accepted too, as :class:`~pgm.io.PgmReceiver` spells it (one interface).
    A group that is not multicast or a port outside 1..65535 raises ValueError, and nothing
    opened stays open.
    ``transport`` is ``"raw"`` (IP protocol 113, needs root/CAP_NET_RAW) or ``"udp"``.
    ``ttl`` is the multicast TTL/hop limit; ``loop`` whether this host's own receivers hear it.
    ``config``'s ``ip_version`` and ``udp_encapsulation`` are set from ``group`` and
    ``transport`` (on a copy; the caller's config is never changed).
    """

    def __init__(
        self,
        group: str | NLA,
        port: int = 7500,
        *,
        iface: str | int | Interface | None = None,
        ifaces: Sequence[str | int | Interface] | str | int | Interface | None = None,
        transport: str = "raw",
        config: SourceConfig | None = None,
        ttl: int = 1,
        loop: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__("pgm-sender")
        if isinstance(ifaces, list | tuple):
            if len(ifaces) > 1:
                self.stop()
                raise ValueError("a PgmSender sends on one interface: pass one in iface=")
            ifaces = ifaces[0] if ifaces else None
        try:
            end = open_source_endpoint(
                group,
                port,
                iface=one_of("iface", iface, "ifaces", ifaces),
                transport=transport,
                config=config,
                ttl=ttl,
                loop=loop,
                rng=rng,
                now=clock(),
            )
        except BaseException:
            self.stop()  # the wake-up pipe: nothing may leak
            raise
        self.group = end.group
        self.iface = end.iface
        self.transport: DatagramTransport = end.transport
        self.engine = end.engine
        self.port = port
        self._events = EventHistory()  # bounded: nobody may ever take them
        self.driver = EngineDriver(self.engine, self.transport.send_all, self._events.extend)
        self._released = False
        # A send() blocked on a full buffer waits on ``_room``, which the reactor notifies once
        # the queue is down to half the buffer, not after every step (a wake-up per batch of
        # the rate limiter cost the sender a context switch each: docs/performance.md).
        self._room = threading.Condition(self.lock)
        self._low_water = self.engine.config.send_buffer_bytes // 2
        self._writers = 0
        log_buffer_warning(f"source on {self.group} port {port}", self.transport)
        log.info("source %s opened on %s port %d (%s)", self.tsi, self.group, port, transport)
        self.start()
        _open_senders.add(self)

    # -- reactor --------------------------------------------------------------------------------
    def _step(self, readable: set[int], now: float) -> float | None:
        deadline = super()._step(readable, now)
        if self._engine_closed():
            self._stop = True
        if self._writers and (self.engine.pending_bytes <= self._low_water or self._stop):
            self._room.notify_all()
        return deadline

    def _engine_closed(self) -> bool:
        return self.engine.state is SourceState.CLOSED

    # -- identity and snapshots -----------------------------------------------------------------
    @property
    def tsi(self) -> Any:
        """This session's TSI (GSI and source port)."""
        return self.engine.tsi

    @property
    def nla(self) -> NLA:
        """The interface address this source sends from (its SPMs' path NLA)."""
        nla: NLA = self.engine.nla
        return nla

    @property
    def max_tsdu(self) -> int:
        """The largest message payload that fits in one packet (bytes)."""
        return int(self.engine.max_tsdu)

    @property
    def config(self) -> SourceConfig:
        """The configuration the source runs with (ip_version / udp_encapsulation filled in)."""
        cfg: SourceConfig = self.engine.config
        return cfg

    def take_events(self) -> list[Event]:
        """The source's events since the last call, oldest first: at most
        :data:`~pgm.io.history.EVENT_HISTORY`, the newest (older ones are dropped and counted
        in :attr:`events_dropped`)."""
        with self.lock:
            return self._events.take()

    @property
    def events_dropped(self) -> int:
        """Events dropped because nobody took them in time (see :meth:`take_events`)."""
        return self._events.dropped

    def info(self) -> SourceInfo:
        """A read-only snapshot of the source (``SourceInfo``: counters, window edges, rates),
        taken under the lock at the reactor's clock; reading it changes nothing."""
        with self.lock:
            return self.engine.info(clock())

    def stats(self) -> dict[str, Any]:
        """The source's counters, window edges and rates."""
        with self.lock:
            d: dict[str, Any] = self.engine.stats_dict(clock())
            d["tx_errors"] = self.transport.tx_errors
            d["gso_sends"] = getattr(self.transport, "gso_sends", 0)  # UDP batches (net.gso)
            return d

    # -- sending ---------------------------------------------------------------------------------
    def send(self, data: bytes, timeout: float | None = None) -> int:
        """Send one message; returns the sequence number of its first packet.

        Blocks while the send buffer is full (``timeout`` seconds at most: then
        :class:`TimeoutError`; ``timeout=0`` raises :class:`WouldBlock` at once).
        """
        return self.send_many((data,), timeout)

    def send_many(self, messages: Iterable[bytes], timeout: float | None = None) -> int:
        """Send several messages (each keeps its boundary) with one hand-off to the network.

        Same blocking rules as :meth:`send`; returns the first sequence number of the last one
        (-1 for none).  Bulk senders should prefer it: the per-call overhead is paid once per
        batch — one lock, one clock read, one engine call (:meth:`Source.send_many`) and one
        flush of what the rate limiter lets through, as long as the send buffer takes them.
        With ``timeout=0`` the messages taken before the buffer filled are sent, then
        :class:`WouldBlock` is raised.
        """
        msgs = messages if isinstance(messages, list | tuple) else list(messages)
        n = len(msgs)
        with self.lock:
            self._check()
            eng = self.engine
            flush = self.driver.flush
            now = clock()
            end = None if timeout is None else now + timeout
            i = 0
            while i < n:
                try:
                    i = eng.send_many(msgs, now, i)
                except WouldBlock:
                    flush(now)
                    self._maybe_wake()
                    if timeout == 0:
                        raise
                    remaining = None if end is None else end - now
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError("send buffer still full") from None
                    self._writers += 1
                    try:  # woken at half the buffer (or every 50 ms: errors, close)
                        self._room.wait(min(0.05, remaining) if remaining is not None else 0.05)
                    finally:
                        self._writers -= 1
                    self._check()
                    now = clock()
            flush(now)
            if eng.pending_bytes:  # the rate limiter holds some back: the reactor sends it
                self._maybe_wake()
            return eng.last_sqn if n else -1

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued message has been transmitted once; False on timeout."""
        end = None if timeout is None else clock() + timeout
        with self.lock:
            while self.engine.pending_bytes:
                self._check()
                remaining = None if end is None else end - clock()
                if remaining is not None and remaining <= 0:
                    return False
                self.cond.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    # -- ending ----------------------------------------------------------------------------------
    def shutdown(self, linger: float | None = None) -> None:
        """Start the graceful end of the session and return at once: OPT_FIN after the queued
        data, then repairs for ``linger`` seconds (default: the config's) while the reactor keeps
        running.  :meth:`wait_closed` / :attr:`closed` tell when it is over; :meth:`close` or
        :meth:`abort` still release the socket afterwards."""
        self._check()
        self._begin_close(linger)

    def _begin_close(self, linger: float | None) -> None:
        with self.lock:
            now = clock()
            self.engine.close(now, linger=linger)
            self.driver.flush(now)
        self.wake()

    @property
    def closed(self) -> bool:
        """True once the engine has finished the session (the linger after :meth:`shutdown` or
        :meth:`close` is over); :meth:`abort` releases at once without waiting for that."""
        with self.lock:
            return self._engine_closed()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: no limit) for the session to end; returns
        :attr:`closed` (False on timeout, or if the I/O thread failed)."""
        end = None if timeout is None else clock() + timeout
        with self.lock:
            while not self._engine_closed() and self.error is None:
                remaining = None if end is None else end - clock()
                if remaining is not None and remaining <= 0:
                    break
                self.cond.wait(0.1 if remaining is None else min(0.1, remaining))
            return self._engine_closed()

    def close(self, linger: float | None = None) -> None:
        """End the session (OPT_FIN), serve repairs while lingering, then release everything.

        ``linger`` caps the wait (default: the config's ``linger_secs``); queued data is
        transmitted first.  Idempotent.
        """
        if self._released:
            return
        self._released = True
        limit = self.engine.config.effective_linger if linger is None else linger
        self._begin_close(linger)
        self.flush()
        self.wait_closed(limit + 1.0)
        self._release()

    def abort(self) -> None:
        """Abort the session (OPT_RST) and release everything at once."""
        if self._released:
            return
        self._released = True
        log.info("source %s aborts its session (OPT_RST)", self.tsi)
        with self.lock:
            now = clock()
            self.engine.abort(now)
            self.driver.flush(now)
        self._release()

    def _release(self) -> None:
        log.info("source %s on %s port %d closed", self.tsi, self.group, self.port)
        _open_senders.discard(self)
        self.stop()
        self.transport.close()

    def __enter__(self) -> PgmSender:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()


AT_EXIT_LINGER = 2.0
"""The longest a sender still open at interpreter exit lingers for repairs (seconds)."""

_open_senders: weakref.WeakSet[PgmSender] = weakref.WeakSet()


@atexit.register
def _close_open_senders() -> None:
    """Interpreter exit with senders still open (no :meth:`PgmSender.close`): end each session
    properly — its queued data goes out, then OPT_FIN, then at most :data:`AT_EXIT_LINGER`
    seconds of repairs — instead of vanishing, which leaves receivers waiting for the peer
    expiry and reporting incomplete data."""
    for tx in list(_open_senders):
        with contextlib.suppress(Exception):
            tx.close(linger=min(AT_EXIT_LINGER, tx.config.effective_linger))


class SourceEndpoint(NamedTuple):
    """What :func:`open_source_endpoint` opens: a source engine and its transport."""

    group: NLA
    """The group, parsed."""
    iface: Interface
    """The interface resolved for the group's IP version."""
    transport: DatagramTransport
    """The socket the engine's packets go through."""
    engine: Source
    """The source engine (``ip_version`` / ``udp_encapsulation`` set from group and transport)."""


def open_source_endpoint(
    group: str | NLA,
    port: int,
    *,
    iface: str | int | Interface | None,
    transport: str,
    config: SourceConfig | None,
    ttl: int,
    loop: bool,
    rng: random.Random | None,
    now: float,
) -> SourceEndpoint:
    """Resolve the interface, open the transport and build the :class:`~pgm.engine.Source`
    the way :class:`PgmSender` does (the asyncio API, :mod:`pgm.asyncio`, shares it); the
    transport is closed again if the engine cannot be built."""
    nla = as_nla(group)
    ifc = pick_interface(iface, nla)
    cfg = _config_for(config or SourceConfig(), nla, transport)
    sock: DatagramTransport = open_transport(
        transport, nla, port, ifc, receiver=False, ttl=ttl, loop=loop
    )
    try:
        engine = Source(
            cfg, group=nla, nla=ifc.address(cfg.ip_version), dport=port, rng=rng, now=now
        )
    except BaseException:
        sock.close()
        raise
    return SourceEndpoint(nla, ifc, sock, engine)


def _config_for(cfg: SourceConfig, group: NLA, transport: str) -> SourceConfig:
    """``cfg`` with the IP version and encapsulation that ``group`` and ``transport`` imply."""
    version = 6 if isinstance(group, IPv6Address) else 4
    udp = transport == "udp"
    if cfg.ip_version == version and cfg.udp_encapsulation == udp:
        return cfg
    return dataclasses.replace(cfg, ip_version=version, udp_encapsulation=udp)
