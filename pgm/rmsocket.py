"""``pgm.socket(AF_INET, SOCK_RDM, IPPROTO_RM)``: Windows' Reliable Multicast sockets, ported.

Code written for the Windows PGM provider ports line by line: the same calls in the same order,
the same ``RM_*`` options and structures (:mod:`pgm.rm`), the same errors (an :class:`OSError`
whose message names the Winsock error).  docs/windows-porting.md maps every call and option.

Sender::

    s = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM)
    s.bind(("0.0.0.0", 0))                       # any address; the port is ignored
    s.setsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, pgm.RM_SEND_WINDOW(10_000, 5000, 0))
    s.connect(("234.5.6.7", 7500))               # starts the session (SPMs)
    s.send(b"one message")

Receiver::

    s = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM)
    s.bind(("234.5.6.7", 7500))                  # the group and the sender's port
    s.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, socket.inet_aton("10.0.0.2"))
    s.listen(10)
    conn, (sender_ip, source_port) = s.accept()   # one socket per sender session
    data = conn.recv(65536)                      # b"" once the session ended gracefully

Theory of operation
-------------------
A socket's role follows from ``bind()``, as on Windows: bound to a multicast group it is a
*receiver* (``listen``/``accept``), bound to anything else a *sender* (``connect``/``send``).
Options are recorded until ``connect()`` / ``listen()``, which translate them onto
:class:`~pgm.engine.SourceConfig` / :class:`~pgm.engine.ReceiverConfig` and start a
:class:`~pgm.io.PgmSender` / :class:`~pgm.io.PgmReceiver` (the reactor thread runs the protocol
from then on).  Every numeric rule comes from :data:`pgm.rm.OPTIONS`.

A listening socket and the sockets it accepted share one :class:`~pgm.io.PgmReceiver` (a *hub*):
its ``on_events`` hook, called in the reactor thread, routes each event to its session's queue.
A session becomes acceptable when its first message is delivered (Windows' ``listen`` completes
on ODATA only; sessions that send nothing but SPMs never appear).  The receiver is closed when
the listening socket and every accepted socket are closed.  ``fileno()`` is one end of a socket
pair holding one byte exactly while the socket is readable (a session to accept, a message, the
end of the session), so ``select``/``selectors`` work on every OS.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import socket as _socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from . import rm
from .engine import (
    ConfigError,
    DataReceived,
    Event,
    NotConnected,
    ReceiverConfig,
    SessionEnded,
    SessionStarted,
    SourceConfig,
    UnrecoverableLoss,
    WouldBlock,
)
from .interfaces import InterfaceError, resolve_interface
from .io import PgmReceiver, PgmSender
from .rm import OptionRule, RMMessageSize, rm_error
from .wire import TSI

__all__ = ["DEFAULT_LINGER", "RMSocket", "socket"]

_clock = time.monotonic
_WAIT_SLICE = 0.2

#: Longest default linger after close (seconds): the window time, but at most this.
DEFAULT_LINGER = 5.0

#: SOL_SOCKET options accepted for porting convenience: stored and read back, no effect
#: (SO_LINGER and SO_TYPE are handled apart).
_SOL_STORED = {
    _socket.SO_RCVBUF: 64 * 1024,
    _socket.SO_SNDBUF: 64 * 1024,
    _socket.SO_REUSEADDR: 0,
}


class _End:
    """Queue marker: the session ended, gracefully (``reset`` False) or not."""

    __slots__ = ("detail", "reset")

    def __init__(self, reset: bool, detail: str) -> None:
        self.reset = reset
        self.detail = detail


class _Session:
    """One sender's session as seen by a hub: its queue and acceptance state."""

    __slots__ = ("base", "closed", "dead", "offered", "offset", "q", "sock", "source", "tsi")

    def __init__(self, tsi: TSI, source: str, base: int) -> None:
        self.tsi = tsi
        self.source = source
        #: The engine numbers a session's packets with unbounded integers starting at the first
        #: one's wire number, or at 2**32 when an SPM with an empty window (lead 0xFFFFFFFF)
        #: started it; minus ``base`` they are Windows' 64-bit sequence numbers, whose low 32
        #: bits are the wire's and which the sender's statistics use too.
        self.base = base
        self.q: deque[bytes | _End] = deque()
        self.offset = 0  # bytes of q[0] already returned (a message read in parts)
        self.offered = False  # on the accept queue (or accepted)
        self.sock: RMSocket | None = None
        self.dead = False  # an _End is queued: nothing more is routed here
        self.closed = False  # its socket was closed (or the listener, before accept)


class _Hub:
    """The PgmReceiver behind a listening socket and its accepted sockets."""

    def __init__(self, limit: int) -> None:
        self.rx: PgmReceiver | None = None
        self.cond: threading.Condition | None = None
        self.sessions: dict[TSI, _Session] = {}
        self.acceptq: deque[_Session] = deque()
        self.listener: RMSocket | None = None
        self.refs = 1
        self.buffered = 0
        self.limit = limit
        self.error: BaseException | None = None

    def attach(self, rx: PgmReceiver) -> None:
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
        """Route what the receiver queued, unless the sessions already hold ``limit`` bytes
        (then the receiver's own queue fills and its back-pressure stops reading the socket)."""
        rx = self.rx
        if rx is None or self.buffered > self.limit:
            return
        try:
            events = rx.next_events(0)
        except RuntimeError as exc:
            self.error = exc
            return
        for e in events:
            self.route(e)

    def route(self, e: Event) -> None:
        if isinstance(e, DataReceived):
            s = self.sessions.get(e.tsi)
            if s is None or s.dead or not e.data:
                return  # (an empty message would read as the end of the session: skipped)
            if not s.offered:
                if self.listener is None:
                    return
                s.offered = True
                self.acceptq.append(s)
                self.listener._set_readable(True)
            s.q.append(e.data)
            self.buffered += len(e.data)
        elif isinstance(e, SessionStarted):
            if self.listener is not None and e.tsi not in self.sessions:
                es = self.rx.engine.sessions.get(e.tsi) if self.rx is not None else None
                # lost_below is the first sequence number until the source's trail moves
                first = es.lost_below if es is not None and es.started else 0
                self.sessions[e.tsi] = _Session(e.tsi, str(e.source), first - (first & 0xFFFFFFFF))
            return
        elif isinstance(e, UnrecoverableLoss):
            s = self.sessions.get(e.tsi)
            if s is None or s.dead or not s.offered:
                return  # before the session became visible: it starts after the gap
            self._end(
                s,
                _End(
                    True,
                    f"unrecoverable loss of sequence numbers {e.first}-{e.last} ({e.reason}); "
                    "the session is over",
                ),
            )
        elif isinstance(e, SessionEnded):
            s = self.sessions.get(e.tsi)
            if s is None:
                return
            if not s.offered or s.closed:
                self._forget(s)
                return
            if s.dead:
                return
            if e.reason == "fin":
                self._end(s, _End(False, "session ended"))
            elif e.reason == "rst":
                self._end(s, _End(True, "the sender aborted the session (OPT_RST)"))
            else:
                self._end(s, _End(True, f"the session {e.reason} (the sender fell silent)"))
        else:
            return
        if s.sock is not None:
            s.sock._set_readable(True)

    def _end(self, s: _Session, end: _End) -> None:
        s.q.append(end)
        s.dead = True

    def _forget(self, s: _Session) -> None:
        if self.sessions.get(s.tsi) is s and (s.closed or not s.offered):
            del self.sessions[s.tsi]

    def drop(self, s: _Session) -> None:
        """The session's socket (or, before accept, the listener) is closed."""
        s.closed = True
        for item in s.q:
            if isinstance(item, bytes):
                self.buffered -= len(item)
        s.q.clear()
        s.dead = True
        if self.sessions.get(s.tsi) is s:
            del self.sessions[s.tsi]
        self.drain()


def _ipv4(value: Any, what: str) -> IPv4Address:
    try:
        return IPv4Address("0.0.0.0" if value == "" else value)
    except (ValueError, TypeError):
        raise rm_error("WSAEINVAL", f"{what}: {value!r} is not an IPv4 address") from None


def _address(address: Any, what: str) -> tuple[IPv4Address, int]:
    if not isinstance(address, tuple) or len(address) != 2:
        raise TypeError(f"{what}: AF_INET address must be a tuple (host, port), not {address!r}")
    host, port = address
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise rm_error("WSAEINVAL", f"{what}: port must be 0..65535, not {port!r}")
    return _ipv4(host, what), port


def _local(addr: IPv4Address, what: str) -> None:
    try:
        resolve_interface(str(addr), 4)
    except InterfaceError as exc:
        raise rm_error(
            "WSAEADDRNOTAVAIL", f"{what}: {addr} is not a local address ({exc})"
        ) from None


class RMSocket:
    """A Windows-style PGM socket; create it with :func:`pgm.socket`.

    Shaped like :class:`socket.socket`: ``bind``, ``connect``, ``listen``, ``accept``, ``send``,
    ``sendall``, ``recv``, ``recv_into``, ``recvfrom``, ``recvmsg``, ``setsockopt``,
    ``getsockopt``, ``settimeout``/``setblocking``, ``fileno``, ``getsockname``,
    ``getpeername``, ``shutdown``, ``close`` and the context-manager protocol.  See the module
    docstring and docs/windows-porting.md for the Windows rules each one follows.
    """

    def __init__(
        self,
        family: int = rm.AF_INET,
        type: int = rm.SOCK_RDM,
        proto: int = rm.IPPROTO_RM,
        *,
        transport: str = "raw",
        loop: bool = True,
        linger: float | None = None,
        sender_config: SourceConfig | None = None,
        receiver_config: ReceiverConfig | None = None,
        max_queue_bytes: int = 64 * 1024 * 1024,
        loss: float = 0.0,
    ) -> None:
        if family != rm.AF_INET:
            raise rm_error("WSAEAFNOSUPPORT", f"address family {family}: PGM supports AF_INET only")
        if type not in (rm.SOCK_RDM, rm.SOCK_STREAM):
            raise rm_error(
                "WSAESOCKTNOSUPPORT", f"socket type {type}: use SOCK_RDM (4) or SOCK_STREAM (1)"
            )
        if proto != rm.IPPROTO_RM:
            raise rm_error("WSAEPROTONOSUPPORT", f"protocol {proto}: use IPPROTO_RM (113)")
        if transport not in ("raw", "udp"):
            raise ValueError(f"transport must be 'raw' or 'udp', not {transport!r}")
        if linger is not None and linger < 0:
            raise ValueError("linger must be >= 0")
        self._family = family
        self._type = type
        self._proto = proto
        self._transport = transport
        self._loop = loop
        self._linger = linger
        self._sender_config = sender_config
        self._receiver_config = receiver_config
        self._max_queue = max_queue_bytes
        self._loss = loss
        self._timeout: float | None = _socket.getdefaulttimeout()
        self._lock = threading.RLock()
        self._state = "new"  # new, bound, connected, listening, accepted, closed
        self._role: str | None = None  # sender, receiver (listener), session (accepted)
        self._bound: tuple[IPv4Address, int] | None = None
        self._peer: tuple[str, int] | None = None
        self._rsock, self._wsock = _socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._signalled = False
        self._sol: dict[int, int] = dict(_SOL_STORED)
        self._so_linger = (0, 0)  # SO_LINGER (l_onoff, l_linger)
        # sender options (Windows' defaults)
        self._window = rm.RM_SEND_WINDOW(
            rm.SENDER_DEFAULT_RATE_KBITS_PER_SEC,
            rm.SENDER_DEFAULT_WINDOW_SIZE_BYTES * rm.BITS_PER_BYTE
            // rm.SENDER_DEFAULT_RATE_KBITS_PER_SEC,
            rm.SENDER_DEFAULT_WINDOW_SIZE_BYTES,
        )
        self._adv_method = rm.E_WINDOW_ADVANCE_BY_TIME
        self._adv_rate = rm.SENDER_DEFAULT_WINDOW_ADV_PERCENTAGE
        self._latejoin = rm.SENDER_DEFAULT_LATE_JOINER_PERCENTAGE
        self._send_if: IPv4Address | None = None
        self._fec = rm.RM_FEC_INFO()
        self._ttl = rm.MAX_MCAST_TTL
        self._high_speed = 0
        self._boundary: int | None = None
        self._parts: list[bytes] = []
        self._parts_len = 0
        self._partial_dropped = 0
        self._tx: PgmSender | None = None
        self._shut_wr = False
        # receiver state
        self._recv_ifs: list[IPv4Address] = []
        self._hub: _Hub | None = None
        self._sess: _Session | None = None
        self._shut_rd = False

    # -- socket.socket basics ------------------------------------------------------------------

    @property
    def family(self) -> int:
        """AF_INET."""
        return self._family

    @property
    def type(self) -> int:
        """SOCK_RDM or SOCK_STREAM."""
        return self._type

    @property
    def proto(self) -> int:
        """IPPROTO_RM."""
        return self._proto

    @property
    def tsi(self) -> TSI | None:
        """The PGM session (TSI): a connected sender's own, an accepted socket's sender's."""
        if self._tx is not None:
            return self._tx.engine.tsi
        if self._sess is not None:
            return self._sess.tsi
        return None

    @property
    def sender(self) -> PgmSender | None:
        """The :class:`~pgm.io.PgmSender` behind a connected sender (engine, config, stats)."""
        return self._tx

    @property
    def receiver(self) -> PgmReceiver | None:
        """The :class:`~pgm.io.PgmReceiver` behind a listening or accepted socket."""
        return self._hub.rx if self._hub is not None else None

    def __repr__(self) -> str:
        kind = {rm.SOCK_RDM: "SOCK_RDM", rm.SOCK_STREAM: "SOCK_STREAM"}[self._type]
        return f"<pgm.socket {kind} {self._state} role={self._role} transport={self._transport}>"

    def fileno(self) -> int:
        """A descriptor for ``select``/``selectors``: readable while a session waits to be
        accepted (listening socket) or data / the session's end waits to be read (accepted
        socket).  Never readable on a sender.  -1 once closed."""
        return -1 if self._state == "closed" else self._rsock.fileno()

    def settimeout(self, value: float | None) -> None:
        """None: blocking; 0: non-blocking (WSAEWOULDBLOCK); > 0: WSAETIMEDOUT after that long."""
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self) -> float | None:
        """The timeout set with :meth:`settimeout` (None: blocking)."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """``setblocking(False)`` is ``settimeout(0)`` (FIONBIO), ``True`` ``settimeout(None)``."""
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        """False for a non-blocking socket (timeout 0)."""
        return self._timeout != 0.0

    def getsockname(self) -> tuple[str, int]:
        """A sender's interface address and PGM source port once connected (before: the bound
        address, port 0 — Windows ignores it); a receiver's group and port."""
        self._check_open()
        if self._tx is not None:
            eng = self._tx.engine
            return str(eng.nla), int(eng.sport)
        if self._bound is None:
            return "0.0.0.0", 0
        addr, port = self._bound
        return str(addr), (0 if self._role == "sender" else port)

    def getpeername(self) -> tuple[str, int]:
        """A sender's group and port; an accepted socket's sender address and source port."""
        self._check_open()
        if self._peer is None:
            raise rm_error("WSAENOTCONN", "getpeername: the socket is not connected")
        return self._peer

    def __enter__(self) -> RMSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None and self._tx is not None:
            self._abort()
        else:
            self.close()

    # -- readiness --------------------------------------------------------------------------------

    def _set_readable(self, flag: bool) -> None:
        """Keep exactly one byte in the socket pair while readable (caller holds the lock)."""
        if flag == self._signalled or self._state == "closed":
            return
        self._signalled = flag
        with contextlib.suppress(OSError):
            if flag:
                self._wsock.send(b"\0")
            else:
                self._rsock.recv(16)

    def _refresh(self) -> None:
        if self._role == "receiver" and self._hub is not None:
            self._set_readable(bool(self._hub.acceptq))
        elif self._sess is not None:
            self._set_readable(bool(self._sess.q))

    # -- state checks ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state == "closed":
            raise rm_error("WSAENOTSOCK", "the socket is closed")

    def _wait(self, cond: threading.Condition, ready: Callable[[], bool], what: str) -> None:
        """Wait (lock held) until ``ready()``, honouring the socket's timeout."""
        if ready():
            return
        timeout = self._timeout
        if timeout == 0:
            raise rm_error("WSAEWOULDBLOCK", f"{what} would block (non-blocking socket)")
        end = None if timeout is None else _clock() + timeout
        while not ready():
            if self._state == "closed":
                raise rm_error("WSAENOTSOCK", f"{what}: the socket was closed")
            hub = self._hub
            if hub is not None and hub.error is not None:
                raise rm_error("WSAENETDOWN", f"PGM I/O thread failed: {hub.error!r}")
            rx = hub.rx if hub is not None else None
            if rx is not None and rx.error is not None:
                raise rm_error("WSAENETDOWN", f"PGM I/O thread failed: {rx.error!r}")
            remaining = None if end is None else end - _clock()
            if remaining is not None and remaining <= 0:
                raise rm_error("WSAETIMEDOUT", f"{what} timed out after {timeout} s")
            cond.wait(_WAIT_SLICE if remaining is None else min(_WAIT_SLICE, remaining))

    # -- bind / connect / listen / accept ---------------------------------------------------------

    def bind(self, address: tuple[str, int]) -> None:
        """Bind: to a multicast group and port for a receiver (then ``listen``), to any other
        address for a sender (then ``connect``; the port is ignored, as on Windows).  A specific
        local address on a sender selects the sending interface unless RM_SET_SEND_IF does."""
        with self._lock:
            self._check_open()
            if self._state != "new":
                raise rm_error("WSAEINVAL", "bind: the socket is already bound")
            addr, port = _address(address, "bind")
            if addr.is_multicast:
                if port == 0:
                    raise rm_error(
                        "WSAEINVAL",
                        "bind: a receiver binds the group and the port its sender connects to",
                    )
                self._role = "receiver"
            else:
                if not addr.is_unspecified:
                    _local(addr, "bind")
                self._role = "sender"
            self._bound = (addr, port)
            self._state = "bound"

    def connect(self, address: tuple[str, int]) -> None:
        """Start the sending session to ``(group, port)`` (no handshake: SPMs go out at once).

        Applies the sender options set so far; afterwards only RM_SET_MESSAGE_BOUNDARY may
        change.  Binds to INADDR_ANY first if the socket is not bound.
        """
        with self._lock:
            self._check_open()
            if self._state == "connected":
                raise rm_error("WSAEISCONN", "connect: the session is already connected")
            if self._role in ("receiver", "session"):
                raise rm_error(
                    "WSAEINVAL",
                    "connect: this socket is bound to a multicast group, i.e. a receiver "
                    "(listen/accept); a sender binds a local address",
                )
            group, port = _address(address, "connect")
            if not group.is_multicast:
                raise rm_error("WSAEINVAL", f"connect: {group} is not a multicast group")
            if not 0 < port < 0x10000:
                raise rm_error("WSAEINVAL", "connect: the port must be 1..65535")
            if self._state == "new":
                self._role = "sender"
                self._bound = (IPv4Address("0.0.0.0"), 0)
                self._state = "bound"
            cfg = self._source_config()
            iface: str | None = None
            if self._send_if is not None:
                iface = str(self._send_if)
            elif self._bound is not None and not self._bound[0].is_unspecified:
                iface = str(self._bound[0])
            try:
                self._tx = PgmSender(
                    str(group),
                    port,
                    iface=iface,
                    transport=self._transport,
                    config=cfg,
                    ttl=self._ttl,
                    loop=self._loop,
                )
            except InterfaceError as exc:
                raise rm_error("WSAEADDRNOTAVAIL", f"connect: {exc}") from None
            except ConfigError as exc:
                raise rm_error("WSAEINVAL", f"connect: {exc}") from None
            self._peer = (str(group), port)
            self._state = "connected"

    def connect_ex(self, address: tuple[str, int]) -> int:
        """:meth:`connect` returning 0 or the errno instead of raising."""
        try:
            self.connect(address)
        except OSError as exc:
            return exc.errno or -1
        return 0

    def _source_config(self) -> SourceConfig:
        base = self._sender_config
        cfg = dataclasses.replace(base) if base is not None else SourceConfig()
        w = self._window
        cfg.rate_bps = w.RateKbitsPerSec * 1000
        cfg.window_secs = w.WindowSizeInMSecs / 1000
        cfg.window_bytes = w.WindowSizeInBytes
        cfg.window_advance_pct = float(self._adv_rate)
        cfg.send_buffer_bytes = max(1, min(cfg.send_buffer_bytes, w.WindowSizeInBytes))
        cfg.linger_secs = None  # after shutdown/close: repairs until the window passes the end
        try:
            cfg.__post_init__()
        except ConfigError as exc:
            raise rm_error("WSAEINVAL", f"connect: {exc}") from None
        return cfg

    def _linger_secs(self, cfg: SourceConfig) -> float:
        if self._so_linger[0]:
            return float(self._so_linger[1])
        if self._linger is not None:
            return self._linger
        return min(cfg.window_secs, DEFAULT_LINGER)

    def listen(self, backlog: int = 5) -> None:
        """Start receiving on the bound group and port (joins on the RM_ADD_RECEIVE_IF
        interfaces, else the default one).  ``backlog`` is accepted for compatibility; pending
        sessions are bounded by ``ReceiverConfig.max_sessions``.  Calling it again is a no-op."""
        with self._lock:
            self._check_open()
            if self._state == "listening":
                return
            if self._state == "new":
                raise rm_error("WSAEINVAL", "listen: bind() the group and port first")
            if self._role == "sender":
                if self._state == "connected":
                    raise rm_error("WSAEISCONN", "listen: the socket is a connected sender")
                raise rm_error(
                    "WSAEINVAL",
                    "listen: the socket is bound to a non-multicast address, i.e. a sender; "
                    "a receiver binds the group address",
                )
            if self._role == "session":
                raise rm_error("WSAEINVAL", "listen: this is an accepted session socket")
            assert self._bound is not None
            group, port = self._bound
            hub = _Hub(self._max_queue)
            hub.listener = self
            cfg = dataclasses.replace(self._receiver_config or ReceiverConfig())
            try:
                rx = PgmReceiver(
                    str(group),
                    port,
                    ifaces=[str(a) for a in self._recv_ifs] or None,
                    transport=self._transport,
                    config=cfg,
                    max_queue_bytes=self._max_queue,
                    loss=self._loss,
                )
            except InterfaceError as exc:
                raise rm_error("WSAEADDRNOTAVAIL", f"listen: {exc}") from None
            self._hub = hub
            self._state = "listening"
            hub.attach(rx)

    def accept(self) -> tuple[RMSocket, tuple[str, int]]:
        """The next sender session: ``(socket, (sender_ip, source_port))``.

        ``source_port`` is the PGM source port of the session's TSI (chosen by the sender's
        transport; not an address to send to).  The new socket is blocking (or has
        ``socket.getdefaulttimeout()``), like Python's ``socket.accept``.
        """
        self._check_open()
        hub = self._hub
        if self._state != "listening" or hub is None or hub.cond is None:
            raise rm_error("WSAEINVAL", "accept: call listen() first")
        with hub.cond:
            self._wait(hub.cond, lambda: bool(hub.acceptq), "accept")
            sess = hub.acceptq.popleft()
            self._refresh()
            conn = RMSocket(
                self._family,
                self._type,
                self._proto,
                transport=self._transport,
                loop=self._loop,
                linger=self._linger,
                max_queue_bytes=self._max_queue,
            )
            conn._role = "session"
            conn._state = "accepted"
            conn._bound = self._bound
            conn._hub = hub
            conn._sess = sess
            conn._high_speed = self._high_speed
            conn._recv_ifs = list(self._recv_ifs)
            conn._peer = (sess.source, sess.tsi.source_port)
            sess.sock = conn
            hub.refs += 1
            conn._refresh()
        return conn, conn._peer

    # -- sending ----------------------------------------------------------------------------------

    def _sender(self, what: str) -> PgmSender:
        self._check_open()
        if self._role in ("receiver", "session"):
            raise rm_error(
                "WSAEOPNOTSUPP", f"{what}: sending on a receiving socket is not supported"
            )
        if self._shut_wr:
            raise rm_error("WSAESHUTDOWN", f"{what}: the socket was shut down for sending")
        if self._tx is None:
            raise rm_error("WSAENOTCONN", f"{what}: connect() the sender first")
        return self._tx

    def _tx_send(self, tx: PgmSender, messages: list[bytes], timeout: float | None) -> None:
        try:
            tx.send_many(messages, timeout)
        except WouldBlock:
            raise rm_error(
                "WSAEWOULDBLOCK", "send would block: the send window is full (non-blocking socket)"
            ) from None
        except TimeoutError:
            raise rm_error("WSAETIMEDOUT", f"send timed out after {timeout} s") from None
        except NotConnected as exc:
            raise rm_error("WSAENOTCONN", f"send: {exc}") from None
        except ValueError as exc:
            raise rm_error("WSAEMSGSIZE", f"send: {exc}") from None
        except RuntimeError as exc:
            raise rm_error("WSAENETDOWN", f"send: {exc}") from None

    def send(self, data: Any, flags: int = 0) -> int:
        """Send; returns the number of bytes taken.

        SOCK_RDM: one message per call, or part of the message announced with
        RM_SET_MESSAGE_BOUNDARY (sent once complete; a send that would overrun it fails with
        WSAEMSGSIZE and takes nothing).  SOCK_STREAM: bytes of a stream, cut into full packets.
        A full send window blocks (timeout: WSAETIMEDOUT; non-blocking: WSAEWOULDBLOCK, nothing
        taken — in stream mode the bytes taken so far are returned instead).  ``send(b"")``
        sends nothing and returns 0.
        """
        if flags:
            raise rm_error("WSAEOPNOTSUPP", f"send: flags {flags:#x} are not supported")
        tx = self._sender("send")
        buf = memoryview(data).cast("B").tobytes()
        n = len(buf)
        if n == 0:
            return 0
        if self._type == rm.SOCK_STREAM:
            return self._send_stream(tx, buf, self._timeout)
        with self._lock:
            b = self._boundary
            if b is not None:
                have = self._parts_len
                if have + n > b:
                    raise rm_error(
                        "WSAEMSGSIZE",
                        f"send of {n} bytes overruns the {b}-byte message announced with "
                        f"RM_SET_MESSAGE_BOUNDARY ({have} bytes gathered)",
                    )
                if have + n < b:
                    self._parts.append(buf)
                    self._parts_len += n
                    return n
                buf = b"".join([*self._parts, buf])
        if b is not None:
            # The last piece: the whole message goes out (the lock is not held while blocked).
            self._tx_send(tx, [buf], self._timeout)
            with self._lock:
                self._parts.clear()
                self._parts_len = 0
                self._boundary = None
            return n
        if n > rm.MAX_MESSAGE_BYTES:
            raise rm_error(
                "WSAEMSGSIZE", f"message of {n} bytes exceeds {rm.MAX_MESSAGE_BYTES} bytes"
            )
        self._tx_send(tx, [buf], self._timeout)
        return n

    def _send_stream(self, tx: PgmSender, buf: bytes, timeout: float | None) -> int:
        step = int(tx.engine.max_tsdu)
        chunks = [buf[i : i + step] for i in range(0, len(buf), step)]
        if timeout is None:
            self._tx_send(tx, chunks, None)
            return len(buf)
        end = _clock() + timeout
        sent = 0
        for c in chunks:
            try:
                self._tx_send(tx, [c], 0.0 if timeout == 0 else max(1e-6, end - _clock()))
            except (BlockingIOError, TimeoutError):
                if sent:
                    return sent
                raise
            sent += len(c)
        return sent

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send everything (SOCK_RDM: as :meth:`send`; SOCK_STREAM: until all bytes are taken,
        raising WSAEWOULDBLOCK / WSAETIMEDOUT if a non-blocking or timed socket cannot)."""
        if self._type == rm.SOCK_RDM:
            self.send(data, flags)
            return
        if flags:
            raise rm_error("WSAEOPNOTSUPP", f"sendall: flags {flags:#x} are not supported")
        tx = self._sender("sendall")
        buf = memoryview(data).cast("B").tobytes()
        if not buf:
            return
        if self._timeout is None:
            self._send_stream(tx, buf, None)
            return
        timeout = self._timeout
        end = _clock() + timeout
        off = 0
        while off < len(buf):
            left = 0.0
            if timeout:
                left = end - _clock()
                if left <= 0:
                    raise rm_error("WSAETIMEDOUT", f"sendall timed out after {timeout} s")
            off += self._send_stream(tx, buf[off:], left)

    def sendto(self, data: Any, *args: Any) -> int:
        """``sendto(data[, flags], address)``: as :meth:`send` (the address of a connected PGM
        socket is ignored, as on Windows)."""
        flags = args[0] if len(args) == 2 else 0
        return self.send(data, flags)

    # -- receiving --------------------------------------------------------------------------------

    def _session(self, what: str) -> tuple[_Hub, _Session]:
        self._check_open()
        if self._role == "sender":
            raise rm_error(
                "WSAEOPNOTSUPP", f"{what}: receiving on a sender socket is not supported"
            )
        if self._sess is None or self._hub is None or self._hub.cond is None:
            raise rm_error(
                "WSAENOTCONN", f"{what}: not a session socket (listen() and accept() first)"
            )
        if self._shut_rd:
            raise rm_error("WSAESHUTDOWN", f"{what}: the socket was shut down for receiving")
        return self._hub, self._sess

    def _take(self, bufsize: int, what: str) -> tuple[bytes, int]:
        """Up to ``bufsize`` bytes; returns (data, bytes of the message still unread)."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        hub, s = self._session(what)
        assert hub.cond is not None
        if bufsize == 0:
            return b"", 0
        with hub.cond:
            self._wait(hub.cond, lambda: bool(s.q), what)
            head = s.q[0]
            if isinstance(head, _End):
                if head.reset:
                    raise rm_error("WSAECONNRESET", head.detail)
                return b"", 0
            if self._type == rm.SOCK_RDM:
                off = s.offset
                rest = len(head) - off
                if rest <= bufsize:
                    out = head[off:] if off else head
                    self._consume(hub, s)
                    return out, 0
                s.offset = off + bufsize
                return head[off : off + bufsize], rest - bufsize
            parts: list[bytes] = []
            want = bufsize
            while want and s.q and isinstance(s.q[0], bytes):
                head = s.q[0]
                assert isinstance(head, bytes)
                off = s.offset
                rest = len(head) - off
                if rest <= want:
                    parts.append(head[off:] if off else head)
                    want -= rest
                    self._consume(hub, s)
                else:
                    parts.append(head[off : off + want])
                    s.offset = off + want
                    want = 0
            self._refresh()
            return b"".join(parts), 0

    def _consume(self, hub: _Hub, s: _Session) -> None:
        head = s.q.popleft()
        assert isinstance(head, bytes)
        s.offset = 0
        before = hub.buffered
        hub.buffered -= len(head)
        if before > hub.limit >= hub.buffered:
            hub.drain()
        self._refresh()

    def _too_long(self, rest: int, bufsize: int) -> RMMessageSize:
        err = rm_error(
            "WSAEMSGSIZE",
            f"the message is longer than the {bufsize}-byte buffer: that part was returned, "
            f"{rest} more bytes of it follow on the next receive",
        )
        assert isinstance(err, RMMessageSize)
        return err

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive on an accepted socket.

        SOCK_RDM: one message, or its next ``bufsize`` bytes when it is longer — then
        :class:`~pgm.rm.RMMessageSize` (WSAEMSGSIZE) is raised carrying that part in
        ``partial``, and the rest comes with the next calls (the last piece returns normally),
        like Windows' recv.  :meth:`recvmsg` returns the pieces with MSG_PARTIAL instead.
        SOCK_STREAM: up to ``bufsize`` bytes across messages.  ``b""``: the session ended
        gracefully (every later call too).  Unrecoverable loss, a sender's abort or its silence:
        ConnectionResetError (WSAECONNRESET) once the data before it is read, and on every
        later call.
        """
        if flags:
            raise rm_error("WSAEOPNOTSUPP", f"recv: flags {flags:#x} are not supported")
        data, rest = self._take(bufsize, "recv")
        if rest:
            err = self._too_long(rest, bufsize)
            err.partial = data
            raise err
        return data

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[str, int] | None]:
        """:meth:`recv` plus the sender's address (as returned by :meth:`accept`)."""
        return self.recv(bufsize, flags), self._peer

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """:meth:`recv` into a writable buffer; returns the byte count.  A longer SOCK_RDM
        message fills ``nbytes`` and raises WSAEMSGSIZE with ``nbytes`` set on the error."""
        if flags:
            raise rm_error("WSAEOPNOTSUPP", f"recv_into: flags {flags:#x} are not supported")
        view = memoryview(buffer).cast("B")
        size = nbytes or len(view)
        if size > len(view):
            raise ValueError("buffer too small for requested bytes")
        data, rest = self._take(size, "recv_into")
        view[: len(data)] = data
        if rest:
            err = self._too_long(rest, size)
            err.nbytes = len(data)
            raise err
        return len(data)

    def recvfrom_into(
        self, buffer: Any, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, tuple[str, int] | None]:
        """:meth:`recv_into` plus the sender's address."""
        return self.recv_into(buffer, nbytes, flags), self._peer

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0
    ) -> tuple[bytes, list[Any], int, tuple[str, int] | None]:
        """WSARecv-style: ``(data, [], msg_flags, address)``; ``msg_flags`` has
        :data:`~pgm.rm.MSG_PARTIAL` when more of the same SOCK_RDM message follows (no
        WSAEMSGSIZE).  End of session and reset as in :meth:`recv`."""
        if flags:
            raise rm_error("WSAEOPNOTSUPP", f"recvmsg: flags {flags:#x} are not supported")
        data, rest = self._take(bufsize, "recvmsg")
        return data, [], (rm.MSG_PARTIAL if rest else 0), self._peer

    # -- options ----------------------------------------------------------------------------------

    def _rule(self, level: int, optname: int, what: str) -> OptionRule:
        if level != rm.IPPROTO_RM:
            raise rm_error("WSAEINVAL", f"{what}: level {level} is not valid for this socket")
        rule = rm.OPTION_RULES.get(optname)
        if rule is None:
            raise rm_error("WSAENOPROTOOPT", f"{what}: unknown option {optname}")
        if not rule.implemented:
            raise rm_error("WSAEOPNOTSUPP", f"{what}: {rule.name} is not implemented")
        return rule

    def _check_side(self, rule: OptionRule, what: str) -> None:
        if rule.side == "any":
            return
        if self._role is None:
            raise rm_error(
                "WSAEINVAL",
                f"{what}: {rule.name}: bind() first (the bound address decides sender or "
                "receiver; options are set right after bind)",
            )
        side = "sender" if self._role == "sender" else "receiver"
        if rule.side not in (side, "both"):
            raise rm_error(
                "WSAENOPROTOOPT", f"{what}: {rule.name} is a {rule.side} option; this is a {side}"
            )
        if rule.rdm_only and self._type != rm.SOCK_RDM:
            raise rm_error("WSAENOPROTOOPT", f"{what}: {rule.name} applies to SOCK_RDM only")

    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        """Set an option.  ``value``: the ctypes structure, its bytes, or an int for ULONG
        options; interface options also take the ``inet_aton`` bytes (network byte order), a
        dotted string, or the int a Windows program passes (``inet_addr``'s value).
        ``setsockopt(level, opt, None, optlen)`` passes no value (RM_FLUSHCACHE).
        Rules: :data:`pgm.rm.OPTIONS`; SOL_SOCKET SO_RCVBUF/SO_SNDBUF/SO_REUSEADDR are stored.
        """
        with self._lock:
            self._check_open()
            if level == _socket.SOL_SOCKET:
                self._sol_set(optname, value)
                return
            rule = self._rule(level, optname, "setsockopt")
            if not rule.set:
                raise rm_error("WSAENOPROTOOPT", f"setsockopt: {rule.name} cannot be set")
            self._check_side(rule, "setsockopt")
            if rule.before and (self._state in ("connected", "listening", "accepted")):
                when = "connect()" if self._role == "sender" else "listen()"
                raise rm_error(
                    "WSAEINVAL", f"setsockopt: {rule.name} must be set before {when}"
                )
            raw = self._optval(rule, value)
            if len(raw) < rule.size:
                raise rm_error(
                    "WSAEFAULT",
                    f"setsockopt: {rule.name} needs {rule.size} bytes, got {len(raw)}",
                )
            self._apply(rule, raw[: rule.size])

    def _optval(self, rule: OptionRule, value: Any) -> bytes:
        if value is None:
            return b""
        if isinstance(value, int):
            if not -(1 << 31) <= value <= 0xFFFFFFFF:
                raise rm_error(
                    "WSAEINVAL", f"setsockopt: {rule.name}: {value} does not fit a ULONG"
                )
            return (value & 0xFFFFFFFF).to_bytes(4, "little")
        if isinstance(value, str | IPv4Address):
            if rule.value != "ADDR":
                raise TypeError(f"{rule.name} takes an int, a structure or bytes, not {value!r}")
            return _ipv4(value, f"setsockopt: {rule.name}").packed
        try:
            if isinstance(value, ctypes.Structure):
                return bytes(value)
            return memoryview(value).cast("B").tobytes()
        except TypeError:
            raise TypeError(
                f"{rule.name}: a bytes-like object or an int is required, not "
                f"{type(value).__name__}"
            ) from None

    def _ulong(self, rule: OptionRule, raw: bytes) -> int:
        v = int.from_bytes(raw[:4], "little")
        if v in rule.unsupported:
            raise rm_error("WSAEOPNOTSUPP", f"setsockopt: {rule.name} = {v} is not supported")
        if (rule.low is not None and v < rule.low) or (rule.high is not None and v > rule.high):
            raise rm_error(
                "WSAEINVAL",
                f"setsockopt: {rule.name} must be {rule.low}..{rule.high}, not {v}",
            )
        return v

    def _apply(self, rule: OptionRule, raw: bytes) -> None:
        n = rule.number
        if n == rm.RM_RATE_WINDOW_SIZE:
            self._window = rm.resolve_send_window(
                self._window, rm.RM_SEND_WINDOW.from_buffer_copy(raw)
            )
        elif n == rm.RM_USE_FEC:
            info = rm.RM_FEC_INFO.from_buffer_copy(raw)
            rm.check_fec(info)
            self._fec = info
        elif rule.value == "ADDR":
            addr = IPv4Address(raw[:4])
            if n == rm.RM_SET_SEND_IF:
                if not addr.is_unspecified:
                    _local(addr, f"setsockopt: {rule.name}")
                self._send_if = None if addr.is_unspecified else addr
            elif n == rm.RM_ADD_RECEIVE_IF:
                if addr.is_unspecified or addr.is_multicast:
                    raise rm_error("WSAEINVAL", f"setsockopt: {rule.name}: {addr} is no interface")
                _local(addr, f"setsockopt: {rule.name}")
                if addr not in self._recv_ifs:
                    self._recv_ifs.append(addr)
            else:  # RM_DEL_RECEIVE_IF
                if addr not in self._recv_ifs:
                    raise rm_error(
                        "WSAEINVAL",
                        f"setsockopt: {rule.name}: {addr} was not added with RM_ADD_RECEIVE_IF",
                    )
                self._recv_ifs.remove(addr)
        elif rule.value == "BOOL":
            self._high_speed = 1 if int.from_bytes(raw[:4], "little") else 0
        else:
            v = self._ulong(rule, raw)
            if n == rm.RM_SET_MESSAGE_BOUNDARY:
                if self._parts:
                    raise rm_error(
                        "WSAEINVAL",
                        f"setsockopt: {rule.name}: {self._parts_len} of the {self._boundary} "
                        "bytes announced before are still to be sent",
                    )
                self._boundary = v
            elif n == rm.RM_SENDER_WINDOW_ADVANCE_METHOD:
                self._adv_method = v
            elif n == rm.RM_LATEJOIN:
                self._latejoin = v
            elif n == rm.RM_SEND_WINDOW_ADV_RATE:
                self._adv_rate = v
            elif n == rm.RM_SET_MCAST_TTL:
                self._ttl = v

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        """Read an option: the ctypes structure or an int (interface options: the int whose
        little-endian bytes are the address, as Python on Windows returns it); with ``buflen``,
        the raw bytes (fewer than the option's size: WSAEFAULT).  Statistics are live."""
        with self._lock:
            self._check_open()
            if level == _socket.SOL_SOCKET:
                return self._sol_get(optname, buflen)
            rule = self._rule(level, optname, "getsockopt")
            if not rule.get:
                raise rm_error("WSAENOPROTOOPT", f"getsockopt: {rule.name} cannot be read")
            self._check_side(rule, "getsockopt")
            if buflen is not None and buflen < rule.size:
                raise rm_error(
                    "WSAEFAULT",
                    f"getsockopt: {rule.name} needs a {rule.size}-byte buffer, not {buflen}",
                )
            value = self._value(rule)
            if buflen is None:
                return value
            if isinstance(value, ctypes.Structure):
                return bytes(value)
            return int(value).to_bytes(4, "little")

    def _value(self, rule: OptionRule) -> Any:
        n = rule.number
        if n == rm.RM_RATE_WINDOW_SIZE:
            return rm.RM_SEND_WINDOW.from_buffer_copy(bytes(self._window))
        if n == rm.RM_USE_FEC:
            return rm.RM_FEC_INFO.from_buffer_copy(bytes(self._fec))
        if n == rm.RM_SENDER_WINDOW_ADVANCE_METHOD:
            return self._adv_method
        if n == rm.RM_LATEJOIN:
            return self._latejoin
        if n == rm.RM_SEND_WINDOW_ADV_RATE:
            return self._adv_rate
        if n == rm.RM_HIGH_SPEED_INTRANET_OPT:
            return self._high_speed
        if n == rm.RM_SET_SEND_IF:
            addr = self._send_if
            if addr is None and self._tx is not None:
                addr = IPv4Address(str(self._tx.engine.nla))
            return int.from_bytes(addr.packed, "little") if addr is not None else 0
        if n == rm.RM_SENDER_STATISTICS:
            return self._sender_stats()
        if n == rm.RM_RECEIVER_STATISTICS:
            return self._receiver_stats()
        raise AssertionError(rule.name)  # pragma: no cover - every readable row is above

    def _sol_set(self, optname: int, value: Any) -> None:
        if optname == _socket.SO_LINGER:
            raw = memoryview(value).cast("B").tobytes() if not isinstance(value, int) else b""
            if len(raw) >= 8:  # struct linger as on Linux/macOS: two ints
                onoff, secs = struct.unpack("ii", raw[:8])
            elif len(raw) >= 4:  # Windows' struct linger: two u_short
                onoff, secs = struct.unpack("<HH", raw[:4])
            else:
                raise rm_error("WSAEFAULT", "setsockopt: SO_LINGER takes a struct linger")
            if secs < 0:
                raise rm_error("WSAEINVAL", "setsockopt: SO_LINGER: negative time")
            self._so_linger = (1 if onoff else 0, secs)
            return
        if optname not in _SOL_STORED:
            raise rm_error("WSAENOPROTOOPT", f"setsockopt: SOL_SOCKET option {optname}")
        if isinstance(value, int):
            self._sol[optname] = value
        else:
            raw = memoryview(value).cast("B").tobytes()
            if len(raw) < 4:
                raise rm_error("WSAEFAULT", "setsockopt: SOL_SOCKET options take 4 bytes")
            self._sol[optname] = int.from_bytes(raw[:4], "little", signed=True)

    def _sol_get(self, optname: int, buflen: int | None) -> Any:
        if optname == _socket.SO_LINGER:
            if buflen is None:
                return self._so_linger[0]
            if buflen < 4:
                raise rm_error("WSAEFAULT", "getsockopt: SO_LINGER needs a struct linger")
            return struct.pack("ii" if buflen >= 8 else "<HH", *self._so_linger)
        if optname == _socket.SO_TYPE:
            v = self._type
        elif optname in self._sol:
            v = self._sol[optname]
        else:
            raise rm_error("WSAENOPROTOOPT", f"getsockopt: SOL_SOCKET option {optname}")
        if buflen is None:
            return v
        if buflen < 4:
            raise rm_error("WSAEFAULT", "getsockopt: SOL_SOCKET options need 4 bytes")
        return v.to_bytes(4, "little", signed=True)

    # -- statistics -------------------------------------------------------------------------------

    def _sender_stats(self) -> rm.RM_SENDER_STATS:
        tx = self._tx
        if tx is None:
            raise rm_error("WSAENOTCONN", "getsockopt: RM_SENDER_STATISTICS needs connect()")
        with tx.lock:
            eng = tx.engine
            st = eng.stats
            overall, last = eng.rates_kbps(_clock())
            return rm.RM_SENDER_STATS(
                DataBytesSent=st.data_bytes_sent,
                TotalBytesSent=st.total_bytes_sent,
                NaksReceived=st.naks_received,
                NaksReceivedTooLate=st.naks_received_too_late,
                NumOutstandingNaks=eng.outstanding_repairs,
                NumNaksAfterRData=st.naks_after_rdata,
                RepairPacketsSent=st.repair_packets_sent,
                BufferSpaceAvailable=self._partial_dropped,
                TrailingEdgeSeqId=max(0, eng.trail64),
                LeadingEdgeSeqId=max(0, eng.lead64),
                RateKBitsPerSecOverall=int(overall),
                RateKBitsPerSecLast=int(last),
                TotalODataPacketsSent=st.odata_packets_sent,
            )

    def _receiver_stats(self) -> rm.RM_RECEIVER_STATS:
        hub, sess = self._hub, self._sess
        if hub is None or sess is None or hub.rx is None:
            raise rm_error(
                "WSAENOTCONN", "getsockopt: RM_RECEIVER_STATISTICS is read on an accepted socket"
            )
        rx = hub.rx
        with rx.lock:
            eng = rx.engine
            s = eng.sessions.get(sess.tsi) or eng.ended_sessions.get(sess.tsi)
            if s is None:
                raise rm_error("WSAENOTCONN", "getsockopt: the session is no longer known")
            st = s.stats
            base = sess.base
            overall, last = s.rates_kbps(_clock())
            lo, hi = s.window_min_max()
            pending, outstanding = s.nak_counts()
            return rm.RM_RECEIVER_STATS(
                NumODataPacketsReceived=st.odata_packets_received,
                NumRDataPacketsReceived=st.rdata_packets_received,
                NumDuplicateDataPackets=st.duplicate_data_packets,
                DataBytesReceived=st.data_bytes_received,
                TotalBytesReceived=st.total_bytes_received,
                RateKBitsPerSecOverall=int(overall),
                RateKBitsPerSecLast=int(last),
                TrailingEdgeSeqId=max(0, s.trail - base),
                LeadingEdgeSeqId=max(0, s.lead - base),
                AverageSequencesInWindow=max(0, s.window_average()),
                MinSequencesInWindow=max(0, lo),
                MaxSequencesInWindow=max(0, hi),
                FirstNakSequenceNumber=max(0, min(s.naks) - base) if s.naks else 0,
                NumPendingNaks=pending,
                NumOutstandingNaks=outstanding,
                NumDataPacketsBuffered=len(s.buf),
                TotalSelectiveNaksSent=st.selective_naks_sent,
                TotalParityNaksSent=st.parity_naks_sent,
            )

    # -- ending -----------------------------------------------------------------------------------

    def shutdown(self, how: int) -> None:
        """SD_SEND / SD_BOTH on a sender: drop an incomplete RM_SET_MESSAGE_BOUNDARY message
        (counted), end the session gracefully (OPT_FIN after the queued data), and wait until
        every queued byte has been transmitted once; repairs are still served — until the
        window passes the last sequence number, or :meth:`close`'s linger ends.
        SD_RECEIVE / SD_BOTH on an accepted socket: later receives fail with WSAESHUTDOWN."""
        if how not in (rm.SD_RECEIVE, rm.SD_SEND, rm.SD_BOTH):
            raise rm_error("WSAEINVAL", f"shutdown: how must be 0, 1 or 2, not {how}")
        self._check_open()
        if self._role == "sender":
            if self._tx is None:
                raise rm_error("WSAENOTCONN", "shutdown: the sender is not connected")
            if how != rm.SD_RECEIVE:
                self._finish_sending()
                self._tx.flush()
            return
        if self._sess is None:
            raise rm_error("WSAENOTCONN", "shutdown: not a connected socket")
        if how != rm.SD_SEND:
            self._shut_rd = True

    def _finish_sending(self) -> None:
        with self._lock:
            tx = self._tx
            if tx is None or self._shut_wr:
                return
            self._shut_wr = True
            if self._parts:
                self._partial_dropped += 1
                self._parts.clear()
                self._parts_len = 0
            self._boundary = None
            with tx.lock:
                # Windows: repairs stay available until the window passes the last sequence
                # number; close() cuts that short after its linger.
                tx.engine.close(_clock(), linger=tx.engine.config.window_secs)
            tx.wake()

    def _abort(self) -> None:
        with self._lock:
            if self._state == "closed":
                return
            tx = self._tx
        if tx is not None:
            tx.abort()
        self._release()

    def close(self) -> None:
        """Close (closesocket).  A connected sender ends its session gracefully (as
        :meth:`shutdown`: queued data is transmitted first), then lingers serving repairs for
        ``linger`` seconds (the keyword; default the window time, at most
        :data:`DEFAULT_LINGER`; SO_LINGER ``{1, n}`` makes it ``n``) — the call blocks that
        long.  If the window has not passed the last sequence number by then, the session is
        reset (OPT_RST), so receivers still repairing learn at once that no repair will come;
        receivers that have everything have already ended it.  SO_LINGER ``{1, 0}`` closes
        abortively instead: queued data is dropped and the session reset at once.  A receiver's
        PGM socket is released when the listening socket and every accepted one are closed.
        Idempotent."""
        with self._lock:
            if self._state == "closed":
                return
            tx = self._tx
        if tx is not None:
            if self._so_linger == (1, 0):
                # SO_LINGER {1, 0}: the abortive close (OPT_RST, queued data dropped)
                self._abort()
                return
            self._finish_sending()
            tx.flush()  # a graceful close transmits what is queued
            end = _clock() + self._linger_secs(tx.engine.config)
            with tx.lock:
                while tx.engine.state != "closed" and tx.error is None:
                    left = end - _clock()
                    if left <= 0:
                        break
                    tx.cond.wait(min(left, _WAIT_SLICE))
                done = tx.engine.state == "closed"
            if done:
                tx.close(linger=0)  # the window already passed the end: release
            else:
                tx.abort()  # linger over: OPT_RST tells receivers still repairing at once
        self._release()

    def _release(self) -> None:
        with self._lock:
            if self._state == "closed":
                return
            hub = self._hub
            rx_to_close: PgmReceiver | None = None
            if hub is not None and hub.cond is not None:
                with hub.cond:
                    if self._role == "receiver":
                        hub.listener = None
                        for s in list(hub.sessions.values()):
                            if s.sock is None:
                                hub.drop(s)
                        hub.acceptq.clear()
                    elif self._sess is not None:
                        hub.drop(self._sess)
                        self._sess.sock = None
                    hub.refs -= 1
                    if hub.refs == 0:
                        rx_to_close = hub.rx
                    self._state = "closed"
                    hub.cond.notify_all()
            self._state = "closed"
            for sock in (self._rsock, self._wsock):
                with contextlib.suppress(OSError):
                    sock.close()
        if rx_to_close is not None:
            rx_to_close.close()


def socket(
    family: int = rm.AF_INET,
    type: int = rm.SOCK_RDM,
    proto: int = rm.IPPROTO_RM,
    *,
    transport: str = "raw",
    loop: bool = True,
    linger: float | None = None,
    sender_config: SourceConfig | None = None,
    receiver_config: ReceiverConfig | None = None,
    max_queue_bytes: int = 64 * 1024 * 1024,
    loss: float = 0.0,
) -> RMSocket:
    """A Windows-style PGM socket: ``pgm.socket(AF_INET, SOCK_RDM, IPPROTO_RM)``.

    ``family`` must be AF_INET (else WSAEAFNOSUPPORT), ``type`` SOCK_RDM (messages) or
    SOCK_STREAM (a byte stream) (else WSAESOCKTNOSUPPORT), ``proto`` IPPROTO_RM / IPPROTO_PGM
    (else WSAEPROTONOSUPPORT).  Keywords (no Windows counterpart):

    * ``transport``: ``"raw"`` (IP protocol 113 as on Windows; root or CAP_NET_RAW) or ``"udp"``
      (UDP encapsulation, OpenPGM/ZeroMQ compatible, no privileges);
    * ``loop``: whether this host's own receivers hear a sender (multicast loopback);
    * ``linger``: seconds a closed sender keeps serving repairs (default: the window time, at
      most :data:`DEFAULT_LINGER`);
    * ``sender_config`` / ``receiver_config``: engine settings the RM_* options do not cover
      (the rate, window and advance step always come from the RM_* options, whose defaults are
      Windows');
    * ``max_queue_bytes``: received data held for the application before reading pauses;
    * ``loss``: simulated loss of incoming data packets (demonstrations and tests).
    """
    return RMSocket(
        family,
        type,
        proto,
        transport=transport,
        loop=loop,
        linger=linger,
        sender_config=sender_config,
        receiver_config=receiver_config,
        max_queue_bytes=max_queue_bytes,
        loss=loss,
    )
