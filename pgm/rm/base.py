"""What every role of a Windows-style PGM socket shares: :class:`SocketBase`.

Theory of operation: a socket (:class:`pgm.rm.RMSocket`) is this base plus a role object —
:class:`~pgm.rm.sender.SenderRole`, :class:`~pgm.rm.listener.ListenerRole` or
:class:`~pgm.rm.session.SessionRole` — chosen by ``bind()``/``connect()``/``accept()``.  The base
holds the :mod:`socket`-shaped state (family, type, timeouts, names), the readiness descriptor (a
socket pair holding one byte exactly while readable), the wait that honours the timeout, and the
option dispatch: the generic rules (level, side, timing, size) are checked here and the option's
own handler in :data:`pgm.rm.OPTIONS` does the rest, calling back the :class:`OptionHost
<pgm.rm.options.OptionHost>` methods below.  SOL_SOCKET options are stored for porting
convenience (SO_LINGER is used by ``close()``).
"""

from __future__ import annotations

import contextlib
import enum
import socket as _socket
import struct
import threading
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from ..engine import ReceiverConfig, SourceConfig
from ..interfaces import InterfaceError, resolve_interface
from ..io import PgmReceiver, PgmSender
from ..wire import TSI
from . import constants as c
from .errors import rm_error
from .hub import Hub
from .listener import ListenerRole
from .options import (
    EXTENSION_RULES,
    OPTION_RULES,
    OptionRule,
    SocketOptions,
    encode_optval,
    encode_value,
)
from .sender import SenderRole
from .session import SessionRole
from .structs import RM_RECEIVER_STATS, RM_SENDER_STATS

__all__ = ["DEFAULT_LINGER", "Role", "SocketBase", "SocketState", "local_address", "no_flags"]

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

Role = SenderRole | ListenerRole | SessionRole


class SocketState(enum.Enum):
    """Where a socket is in its life: ``bind`` moves NEW to BOUND (choosing the role),
    ``connect`` BOUND (or NEW) to CONNECTED, ``listen`` BOUND to LISTENING; ``accept`` makes
    sockets that start ACCEPTED; ``close`` moves any state to CLOSED."""

    NEW = "new"
    BOUND = "bound"
    CONNECTED = "connected"
    LISTENING = "listening"
    ACCEPTED = "accepted"
    CLOSED = "closed"


#: States after connect() / listen() / accept(): options marked "before" are frozen.
_STARTED = frozenset({SocketState.CONNECTED, SocketState.LISTENING, SocketState.ACCEPTED})


def local_address(addr: IPv4Address, what: str) -> None:
    """WSAEADDRNOTAVAIL unless ``addr`` is an address of this host."""
    try:
        resolve_interface(str(addr), 4)
    except InterfaceError as exc:
        raise rm_error(
            "WSAEADDRNOTAVAIL", f"{what}: {addr} is not a local address ({exc})"
        ) from None


def no_flags(flags: int, what: str) -> None:
    """Send and receive flags are not supported: WSAEOPNOTSUPP unless 0."""
    if flags:
        raise rm_error("WSAEOPNOTSUPP", f"{what}: flags {flags:#x} are not supported")


class SocketBase:
    """The state and calls every role shares (see the module docstring)."""

    def __init__(
        self,
        family: int = c.AF_INET,
        type: int = c.SOCK_RDM,
        proto: int = c.IPPROTO_RM,
        *,
        transport: str = "raw",
        loop: bool = True,
        linger: float | None = None,
        sender_config: SourceConfig | None = None,
        receiver_config: ReceiverConfig | None = None,
        max_queue_bytes: int = 64 * 1024 * 1024,
        loss: float = 0.0,
    ) -> None:
        if family != c.AF_INET:
            raise rm_error("WSAEAFNOSUPPORT", f"address family {family}: PGM supports AF_INET only")
        if type not in (c.SOCK_RDM, c.SOCK_STREAM):
            raise rm_error(
                "WSAESOCKTNOSUPPORT", f"socket type {type}: use SOCK_RDM (4) or SOCK_STREAM (1)"
            )
        if proto != c.IPPROTO_RM:
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
        self._state = SocketState.NEW
        self._role: Role | None = None
        self._bound: tuple[IPv4Address, int] | None = None
        self._peer: tuple[str, int] | None = None
        self._rsock, self._wsock = _socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._signalled = False
        self._sol: dict[int, int] = dict(_SOL_STORED)
        self._so_linger = (0, 0)  # SO_LINGER (l_onoff, l_linger)
        self.options = SocketOptions()
        """The RM_* option values (see :mod:`pgm.rm.options`)."""

    # -- socket.socket basics ---------------------------------------------------------------------

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
        role = self._role
        if isinstance(role, SenderRole) and role.tx is not None:
            tsi: TSI = role.tx.tsi
            return tsi
        if isinstance(role, SessionRole):
            return role.session.tsi
        return None

    @property
    def sender(self) -> PgmSender | None:
        """The :class:`~pgm.io.PgmSender` behind a connected sender (engine, config, stats)."""
        return self._role.tx if isinstance(self._role, SenderRole) else None

    @property
    def receiver(self) -> PgmReceiver | None:
        """The :class:`~pgm.io.PgmReceiver` behind a listening or accepted socket."""
        hub = self._hub
        return hub.rx if hub is not None else None

    @property
    def _hub(self) -> Hub | None:
        role = self._role
        return role.hub if isinstance(role, ListenerRole | SessionRole) else None

    @property
    def _kind(self) -> str | None:
        """The role: ``"sender"``, ``"receiver"`` (listener), ``"session"`` (accepted), None."""
        return self._role.kind if self._role is not None else None

    def __repr__(self) -> str:
        kind = {c.SOCK_RDM: "SOCK_RDM", c.SOCK_STREAM: "SOCK_STREAM"}[self._type]
        return (
            f"<pgm.socket {kind} {self._state.value} role={self._kind} transport={self._transport}>"
        )

    def fileno(self) -> int:
        """A descriptor for ``select``/``selectors``: readable while a session waits to be
        accepted (listening socket) or data / the session's end waits to be read (accepted
        socket).  Never readable on a sender.  -1 once closed."""
        return -1 if self._state is SocketState.CLOSED else self._rsock.fileno()

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
        tx = self.sender
        if tx is not None:
            return str(tx.nla), int(tx.tsi.source_port)
        if self._bound is None:
            return "0.0.0.0", 0
        addr, port = self._bound
        return str(addr), (0 if self._kind == "sender" else port)

    def getpeername(self) -> tuple[str, int]:
        """A sender's group and port; an accepted socket's sender address and source port."""
        self._check_open()
        if self._peer is None:
            raise rm_error("WSAENOTCONN", "getpeername: the socket is not connected")
        return self._peer

    # -- readiness --------------------------------------------------------------------------------

    def _set_readable(self, flag: bool) -> None:
        """Keep exactly one byte in the socket pair while readable (caller holds the lock)."""
        if flag == self._signalled or self._state is SocketState.CLOSED:
            return
        self._signalled = flag
        with contextlib.suppress(OSError):
            if flag:
                self._wsock.send(b"\0")
            else:
                self._rsock.recv(16)

    # -- state checks ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is SocketState.CLOSED:
            raise rm_error("WSAENOTSOCK", "the socket is closed")

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        """Wait (the receiver's lock held) until ``ready()``, honouring the socket's timeout."""
        if ready():
            return
        timeout = self._timeout
        if timeout == 0:
            raise rm_error("WSAEWOULDBLOCK", f"{what} would block (non-blocking socket)")
        hub = self._hub
        assert hub is not None and hub.cond is not None
        end = None if timeout is None else _clock() + timeout
        while not ready():
            if self._state is SocketState.CLOSED:
                raise rm_error("WSAENOTSOCK", f"{what}: the socket was closed")
            if hub.error is not None:
                raise rm_error("WSAENETDOWN", f"PGM I/O thread failed: {hub.error!r}")
            rx = hub.rx
            if rx is not None and rx.error is not None:
                raise rm_error("WSAENETDOWN", f"PGM I/O thread failed: {rx.error!r}")
            remaining = None if end is None else end - _clock()
            if remaining is not None and remaining <= 0:
                raise rm_error("WSAETIMEDOUT", f"{what} timed out after {timeout} s")
            hub.cond.wait(_WAIT_SLICE if remaining is None else min(_WAIT_SLICE, remaining))

    def _linger_secs(self, cfg: SourceConfig) -> float:
        if self._so_linger[0]:
            return float(self._so_linger[1])
        if self._linger is not None:
            return self._linger
        return min(cfg.window_secs, DEFAULT_LINGER)

    # -- options: the generic rules here, each option's handler in pgm.rm.OPTIONS -----------------

    def _rule(self, level: int, optname: int, what: str) -> OptionRule:
        if level != c.IPPROTO_RM:
            raise rm_error("WSAEINVAL", f"{what}: level {level} is not valid for this socket")
        rule = OPTION_RULES.get(optname) or EXTENSION_RULES.get(optname)
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
        side = "sender" if self._kind == "sender" else "receiver"
        if rule.side not in (side, "both"):
            raise rm_error(
                "WSAENOPROTOOPT", f"{what}: {rule.name} is a {rule.side} option; this is a {side}"
            )
        if rule.rdm_only and self._type != c.SOCK_RDM:
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
            if not rule.set or rule.apply is None:
                raise rm_error("WSAENOPROTOOPT", f"setsockopt: {rule.name} cannot be set")
            self._check_side(rule, "setsockopt")
            if rule.before and (self._state in _STARTED):
                when = "connect()" if self._kind == "sender" else "listen()"
                raise rm_error("WSAEINVAL", f"setsockopt: {rule.name} must be set before {when}")
            raw = encode_optval(rule, value)
            if len(raw) < rule.size:
                raise rm_error(
                    "WSAEFAULT",
                    f"setsockopt: {rule.name} needs {rule.size} bytes, got {len(raw)}",
                )
            rule.apply(self, rule, raw[: rule.size])

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        """Read an option: the ctypes structure or an int (interface options: the int whose
        little-endian bytes are the address, as Python on Windows returns it); with ``buflen``,
        the raw bytes (fewer than the option's size: WSAEFAULT).  Statistics are live."""
        with self._lock:
            self._check_open()
            if level == _socket.SOL_SOCKET:
                return self._sol_get(optname, buflen)
            rule = self._rule(level, optname, "getsockopt")
            if not rule.get or rule.read is None:
                raise rm_error("WSAENOPROTOOPT", f"getsockopt: {rule.name} cannot be read")
            self._check_side(rule, "getsockopt")
            if buflen is not None and buflen < rule.size:
                raise rm_error(
                    "WSAEFAULT",
                    f"getsockopt: {rule.name} needs a {rule.size}-byte buffer, not {buflen}",
                )
            value = rule.read(self)
            return value if buflen is None else encode_value(value)

    # The OptionHost calls the handlers make (pgm.rm.options).

    def check_local(self, addr: IPv4Address, what: str) -> None:
        """WSAEADDRNOTAVAIL unless ``addr`` is a local interface address."""
        local_address(addr, what)

    def set_message_boundary(self, rule: OptionRule, size: int) -> None:
        """RM_SET_MESSAGE_BOUNDARY on a sender."""
        assert isinstance(self._role, SenderRole)  # the rule's side: a sender
        self._role.set_message_boundary(rule, size)

    def sending_interface(self) -> IPv4Address | None:
        """A connected sender's address."""
        role = self._role
        return role.sending_interface() if isinstance(role, SenderRole) else None

    def sender_statistics(self) -> RM_SENDER_STATS:
        """Live RM_SENDER_STATISTICS."""
        role = self._role
        if not isinstance(role, SenderRole):
            raise rm_error("WSAENOTCONN", "getsockopt: RM_SENDER_STATISTICS needs connect()")
        return role.statistics()

    def receiver_statistics(self) -> RM_RECEIVER_STATS:
        """Live RM_RECEIVER_STATISTICS of an accepted session."""
        role = self._role
        if not isinstance(role, SessionRole) or role.hub.rx is None:
            raise rm_error(
                "WSAENOTCONN", "getsockopt: RM_RECEIVER_STATISTICS is read on an accepted socket"
            )
        return role.statistics()

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
