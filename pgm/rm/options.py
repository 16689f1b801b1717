"""The ``RM_*`` option table: every option's rules and its handlers, in one place.

Theory of operation
-------------------
:data:`OPTIONS` has one :class:`OptionRule` per ``RM_*`` option — which side may use it, whether
it may be read and/or written, its value type and size, whether it must be set before
``connect()``/``listen()``, its numeric range, what it maps onto — and two handlers: ``apply``
(setsockopt: validate the ``optval`` bytes, store the value) and ``read`` (getsockopt: the
value).  The socket (:class:`pgm.rm.RMSocket`) checks the generic rules (level, side, timing,
size) and then calls the row's handler; nothing else in the facade knows an option number.

Handlers work on an :class:`OptionHost` — the socket — through its :class:`SocketOptions`, a
frozen record of the stored values that each set replaces, and a few calls for what is not a
stored value (the message boundary, live statistics, the interface in use, whether an address is
local). :data:`EXTENSIONS` holds, in the same form, the options this facade adds that Windows
does not have (``RM_PGM_*``, numbers outside the ``RM_*`` range). This module touches no socket,
so the table imports on any OS (docs/windows-porting.md prints it). The two options whose rules
are more than a range have them as functions: :func:`resolve_send_window`
(``RM_RATE_WINDOW_SIZE``) and :func:`check_fec` (``RM_USE_FEC``).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from typing import Any, Literal, Protocol

from ..wire import TSI
from . import constants as c
from .addresses import ipv4
from .errors import rm_error
from .structs import (
    RM_FEC_INFO,
    RM_RECEIVER_STATS,
    RM_SEND_WINDOW,
    RM_SENDER_STATS,
    STRUCTS,
    _RMStruct,
)

__all__ = [
    "EXTENSIONS",
    "EXTENSION_RULES",
    "OPTIONS",
    "OPTION_RULES",
    "OptionHost",
    "OptionRule",
    "SocketOptions",
    "check_fec",
    "encode_optval",
    "encode_value",
    "resolve_send_window",
]

Side = Literal["sender", "receiver", "both", "any"]
ValueKind = Literal[
    "ULONG",
    "BOOL",
    "ADDR",
    "NONE",
    "SOCKADDR",
    "TSI",
    "RM_SEND_WINDOW",
    "RM_FEC_INFO",
    "RM_SENDER_STATS",
    "RM_RECEIVER_STATS",
]


def default_send_window() -> RM_SEND_WINDOW:
    """Windows' default: 56 kbit/s, 10,000,000 bytes, so 1,428,571 ms."""
    return RM_SEND_WINDOW(
        c.SENDER_DEFAULT_RATE_KBITS_PER_SEC,
        c.SENDER_DEFAULT_WINDOW_SIZE_BYTES * c.BITS_PER_BYTE // c.SENDER_DEFAULT_RATE_KBITS_PER_SEC,
        c.SENDER_DEFAULT_WINDOW_SIZE_BYTES,
    )


@dataclass(frozen=True)
class SocketOptions:
    """The option values a socket stores (Windows' defaults); setsockopt replaces the record.

    The structures are never handed out: getsockopt returns copies."""

    window: RM_SEND_WINDOW = field(default_factory=default_send_window)
    """RM_RATE_WINDOW_SIZE."""
    adv_method: int = c.E_WINDOW_ADVANCE_BY_TIME
    """RM_SENDER_WINDOW_ADVANCE_METHOD."""
    adv_rate: int = c.SENDER_DEFAULT_WINDOW_ADV_PERCENTAGE
    """RM_SEND_WINDOW_ADV_RATE (percent of the window per advance)."""
    latejoin: int = c.SENDER_DEFAULT_LATE_JOINER_PERCENTAGE
    """RM_LATEJOIN (percent)."""
    send_if: IPv4Address | None = None
    """RM_SET_SEND_IF (None: the default interface)."""
    fec: RM_FEC_INFO = field(default_factory=RM_FEC_INFO)
    """RM_USE_FEC."""
    ttl: int = c.MAX_MCAST_TTL
    """RM_SET_MCAST_TTL."""
    high_speed: int = 0
    """RM_HIGH_SPEED_INTRANET_OPT (0 or 1)."""
    recv_ifs: tuple[IPv4Address, ...] = ()
    """RM_ADD_RECEIVE_IF / RM_DEL_RECEIVE_IF, in the order added."""
    only_source: IPv4Address | None = None
    """RM_PGM_ONLY_SOURCE (pgm extension): accept only this source's sessions."""
    only_tsi: TSI | None = None
    """RM_PGM_ONLY_TSI (pgm extension): accept only this session."""


class OptionHost(Protocol):
    """What option handlers use: the socket."""

    options: SocketOptions
    """The stored values; a handler replaces the record."""

    def check_local(self, addr: IPv4Address, what: str) -> None:
        """WSAEADDRNOTAVAIL unless ``addr`` is a local interface address."""

    def set_message_boundary(self, rule: OptionRule, size: int) -> None:
        """RM_SET_MESSAGE_BOUNDARY: gather the next sends into one ``size``-byte message."""

    def sending_interface(self) -> IPv4Address | None:
        """The address a connected sender sends from (None before connect)."""

    def sender_statistics(self) -> RM_SENDER_STATS:
        """Live RM_SENDER_STATISTICS (WSAENOTCONN before connect)."""

    def receiver_statistics(self) -> RM_RECEIVER_STATS:
        """Live RM_RECEIVER_STATISTICS of an accepted session (else WSAENOTCONN)."""


Apply = Callable[[OptionHost, "OptionRule", bytes], None]
Read = Callable[[OptionHost], Any]


@dataclass(frozen=True)
class OptionRule:
    """The rules of one ``RM_*`` option (a row of :data:`OPTIONS`)."""

    name: str
    """Its wsrm.h name."""
    number: int
    """Its value (``RM_OPTIONSBASE + n``)."""
    side: Side
    """Who may use it: ``"sender"`` (a socket bound to a non-multicast address, for
    ``connect``), ``"receiver"`` (bound to a group, for ``listen``, and its accepted sockets),
    ``"both"``, or ``"any"`` (any socket, even unbound).  The other side gets WSAENOPROTOOPT."""
    get: bool
    """getsockopt allowed (else WSAENOPROTOOPT)."""
    set: bool
    """setsockopt allowed (else WSAENOPROTOOPT)."""
    value: ValueKind
    """``optval`` type: a structure name, ``ULONG`` (4 bytes, little-endian), ``BOOL`` (a ULONG,
    non-zero = on), ``ADDR`` (a ULONG holding an IPv4 address in network byte order),
    ``SOCKADDR`` (an ADDR, also given as a ``SOCKADDR_IN`` or a ``(host, port)`` tuple), ``TSI``
    (8 bytes: the 6-byte GSI and the source port in network order, as on the wire) or
    ``NONE``."""
    size: int
    """``optlen`` Windows expects; fewer bytes give WSAEFAULT, more are ignored (Winsock)."""
    before: bool
    """Must be set before ``connect()`` (sender) / ``listen()`` (receiver): later is WSAEINVAL."""
    low: int | None = None
    """Smallest value accepted (ULONG options), else WSAEINVAL."""
    high: int | None = None
    """Largest value accepted (ULONG options), else WSAEINVAL."""
    rdm_only: bool = False
    """Only on SOCK_RDM sockets (else WSAENOPROTOOPT)."""
    needs_session: bool = False
    """getsockopt needs a connected sender / an accepted session (else WSAENOTCONN)."""
    implemented: bool = True
    """False: every use fails with WSAEOPNOTSUPP."""
    unsupported: tuple[int, ...] = ()
    """Values Windows defines but does not support: WSAEOPNOTSUPP (checked before the range)."""
    maps_to: str = ""
    """What it changes here (``pgm.engine`` configuration, or ``stored``)."""
    apply: Apply | None = field(default=None, compare=False, repr=False)
    """setsockopt's handler: validates the ``size`` bytes of ``optval`` and stores the value
    (None for options that cannot be set)."""
    read: Read | None = field(default=None, compare=False, repr=False)
    """getsockopt's handler: the current value (None for options that cannot be read)."""

    @property
    def struct(self) -> type[_RMStruct] | None:
        """The ctypes structure of the value, or None for scalar options."""
        return STRUCTS.get(self.value)


# -- values in and out ----------------------------------------------------------------------------


def encode_optval(rule: OptionRule, value: Any) -> bytes:
    """setsockopt's ``value`` as ``optval`` bytes: a ctypes structure, a bytes-like object, an
    int (a ULONG, two's complement for negative values) or, for ADDR options, a dotted string
    or :class:`~ipaddress.IPv4Address`; None is no value (RM_FLUSHCACHE)."""
    if value is None:
        return b""
    if rule.value in ("SOCKADDR", "TSI"):
        return _encode_extension(rule, value)
    if isinstance(value, int):
        if not -(1 << 31) <= value <= c.ULONG_MAX:
            raise rm_error("WSAEINVAL", f"setsockopt: {rule.name}: {value} does not fit a ULONG")
        return (value & c.ULONG_MAX).to_bytes(4, "little")
    if isinstance(value, str | IPv4Address):
        if rule.value != "ADDR":
            raise TypeError(f"{rule.name} takes an int, a structure or bytes, not {value!r}")
        return ipv4(value, f"setsockopt: {rule.name}").packed
    try:
        if isinstance(value, ctypes.Structure):
            return bytes(value)
        return memoryview(value).cast("B").tobytes()
    except TypeError:
        raise TypeError(
            f"{rule.name}: a bytes-like object or an int is required, not {type(value).__name__}"
        ) from None


def _encode_extension(rule: OptionRule, value: Any) -> bytes:
    """``optval`` of a SOCKADDR or TSI option (pgm extensions)."""
    what = f"setsockopt: {rule.name}"
    if rule.value == "TSI":
        if isinstance(value, str):
            try:
                value = TSI.parse(value)
            except ValueError as exc:
                raise rm_error("WSAEINVAL", f"{what}: {exc}") from None
        if isinstance(value, TSI):
            return bytes(value.gsi) + value.source_port.to_bytes(2, "big")
        return memoryview(value).cast("B").tobytes()
    if isinstance(value, tuple) and value:
        value = value[0]  # a (host, port) sockaddr: the port is not part of the choice
    if isinstance(value, str | IPv4Address):
        return ipv4(value, what).packed
    if isinstance(value, int):
        return (value & c.ULONG_MAX).to_bytes(4, "little")
    raw = memoryview(value).cast("B").tobytes()
    if len(raw) >= 16 and int.from_bytes(raw[:2], "little") == c.AF_INET:
        return raw[4:8]  # SOCKADDR_IN: family, port, address, zero
    return raw


def encode_value(value: Any) -> bytes:
    """getsockopt's value as the bytes a Windows program reads: a structure's bytes, else a
    little-endian ULONG (bytes as they are)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, ctypes.Structure):
        return bytes(value)
    return int(value).to_bytes(4, "little")


def _ulong(rule: OptionRule, raw: bytes) -> int:
    v = int.from_bytes(raw[:4], "little")
    if v in rule.unsupported:
        raise rm_error("WSAEOPNOTSUPP", f"setsockopt: {rule.name} = {v} is not supported")
    if (rule.low is not None and v < rule.low) or (rule.high is not None and v > rule.high):
        raise rm_error(
            "WSAEINVAL", f"setsockopt: {rule.name} must be {rule.low}..{rule.high}, not {v}"
        )
    return v


# -- handlers (one per option; the generic ones are made per stored field) ----------------------


def _store_ulong(name: str) -> Apply:
    """A ULONG option stored in ``SocketOptions.<name>`` after its range check."""

    def apply(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
        changes: dict[str, Any] = {name: _ulong(rule, raw)}
        host.options = replace(host.options, **changes)

    return apply


def _stored(name: str) -> Read:
    """Read ``SocketOptions.<name>`` (a copy, for a structure)."""

    def read(host: OptionHost) -> Any:
        value = getattr(host.options, name)
        if isinstance(value, ctypes.Structure):
            return type(value).from_buffer_copy(bytes(value))
        return value

    return read


def _set_send_window(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    window = resolve_send_window(host.options.window, RM_SEND_WINDOW.from_buffer_copy(raw))
    host.options = replace(host.options, window=window)


def _set_message_boundary(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    host.set_message_boundary(rule, _ulong(rule, raw))


def _set_fec(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    info = RM_FEC_INFO.from_buffer_copy(raw)
    check_fec(info)
    host.options = replace(host.options, fec=info)


def _set_bool(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    host.options = replace(host.options, high_speed=1 if int.from_bytes(raw[:4], "little") else 0)


def _set_send_if(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    addr = IPv4Address(raw[:4])
    if not addr.is_unspecified:
        host.check_local(addr, f"setsockopt: {rule.name}")
    host.options = replace(host.options, send_if=None if addr.is_unspecified else addr)


def _read_send_if(host: OptionHost) -> int:
    addr = host.options.send_if or host.sending_interface()
    return int.from_bytes(addr.packed, "little") if addr is not None else 0


def _add_receive_if(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    addr = IPv4Address(raw[:4])
    if addr.is_unspecified or addr.is_multicast:
        raise rm_error("WSAEINVAL", f"setsockopt: {rule.name}: {addr} is no interface")
    host.check_local(addr, f"setsockopt: {rule.name}")
    if addr not in host.options.recv_ifs:
        host.options = replace(host.options, recv_ifs=(*host.options.recv_ifs, addr))


def _del_receive_if(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    addr = IPv4Address(raw[:4])
    ifs = host.options.recv_ifs
    if addr not in ifs:
        raise rm_error(
            "WSAEINVAL", f"setsockopt: {rule.name}: {addr} was not added with RM_ADD_RECEIVE_IF"
        )
    host.options = replace(host.options, recv_ifs=tuple(a for a in ifs if a != addr))


def _set_only_source(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    addr = IPv4Address(raw[:4])
    if addr.is_multicast:
        raise rm_error("WSAEINVAL", f"setsockopt: {rule.name}: {addr} is a group, not a source")
    host.options = replace(host.options, only_source=None if addr.is_unspecified else addr)


def _read_only_source(host: OptionHost) -> int:
    addr = host.options.only_source
    return int.from_bytes(addr.packed, "little") if addr is not None else 0


def _set_only_tsi(host: OptionHost, rule: OptionRule, raw: bytes) -> None:
    tsi = TSI(raw[:6], int.from_bytes(raw[6:8], "big"))
    host.options = replace(host.options, only_tsi=None if not any(raw[:8]) else tsi)


def _read_only_tsi(host: OptionHost) -> bytes:
    tsi = host.options.only_tsi
    return b"\0" * 8 if tsi is None else bytes(tsi.gsi) + tsi.source_port.to_bytes(2, "big")


def _sender_stats(host: OptionHost) -> RM_SENDER_STATS:
    return host.sender_statistics()


def _receiver_stats(host: OptionHost) -> RM_RECEIVER_STATS:
    return host.receiver_statistics()


# -- the table ------------------------------------------------------------------------------------


def _rule(name: str, *args: Any, **kw: Any) -> OptionRule:
    return OptionRule(name, getattr(c, name), *args, **kw)


# fmt: off
#: Every RM_* option, in number order: the one place its rules and handlers are written down.
OPTIONS: tuple[OptionRule, ...] = (
    _rule(
        "RM_RATE_WINDOW_SIZE", "sender", True, True, "RM_SEND_WINDOW", 12, True,
        maps_to="SourceConfig.rate_bps = Rate*1000, window_secs = MSecs/1000, window_bytes = "
        "Bytes (send_buffer_bytes capped at Bytes); rules in resolve_send_window()",
        apply=_set_send_window, read=_stored("window"),
    ),
    _rule(
        "RM_SET_MESSAGE_BOUNDARY", "sender", False, True, "ULONG", 4, False,
        low=1, high=c.MAX_MESSAGE_BYTES, rdm_only=True,
        maps_to="the next sends are gathered into one message of this many bytes",
        apply=_set_message_boundary,
    ),
    _rule(
        "RM_FLUSHCACHE", "any", False, True, "NONE", 0, False, implemented=False,
        maps_to="not implemented (as on Windows)",
    ),
    _rule(
        "RM_SENDER_WINDOW_ADVANCE_METHOD", "sender", True, True, "ULONG", 4, True,
        low=c.E_WINDOW_ADVANCE_BY_TIME, high=c.E_WINDOW_ADVANCE_BY_TIME,
        unsupported=(c.E_WINDOW_USE_AS_DATA_CACHE,),
        maps_to="only E_WINDOW_ADVANCE_BY_TIME, the engine's model (DATA_CACHE: WSAEOPNOTSUPP)",
        apply=_store_ulong("adv_method"), read=_stored("adv_method"),
    ),
    _rule(
        "RM_SENDER_STATISTICS", "sender", True, False, "RM_SENDER_STATS", 104, False,
        needs_session=True, maps_to="a live PgmSender.info() snapshot (SourceInfo)",
        read=_sender_stats,
    ),
    _rule(
        "RM_LATEJOIN", "sender", True, True, "ULONG", 4, True,
        low=0, high=c.SENDER_MAX_LATE_JOINER_PERCENTAGE,
        maps_to="SourceConfig.late_join: OPT_JOIN on SPMs and data, NAKs below it refused",
        apply=_store_ulong("latejoin"), read=_stored("latejoin"),
    ),
    _rule(
        "RM_SET_SEND_IF", "sender", True, True, "ADDR", 4, True,
        maps_to="PgmSender(iface=...); must be a local address (else WSAEADDRNOTAVAIL)",
        apply=_set_send_if, read=_read_send_if,
    ),
    _rule(
        "RM_ADD_RECEIVE_IF", "receiver", False, True, "ADDR", 4, True,
        maps_to="PgmReceiver(ifaces=[...]): the first replaces the default, later ones add",
        apply=_add_receive_if,
    ),
    _rule(
        "RM_DEL_RECEIVE_IF", "receiver", False, True, "ADDR", 4, True,
        maps_to="removes an interface added with RM_ADD_RECEIVE_IF (else WSAEINVAL)",
        apply=_del_receive_if,
    ),
    _rule(
        "RM_SEND_WINDOW_ADV_RATE", "sender", True, True, "ULONG", 4, True,
        low=1, high=c.MAX_WINDOW_INCREMENT_PERCENTAGE,
        maps_to="SourceConfig.window_advance_pct",
        apply=_store_ulong("adv_rate"), read=_stored("adv_rate"),
    ),
    _rule(
        "RM_USE_FEC", "sender", True, True, "RM_FEC_INFO", 6, True,
        maps_to="validated by check_fec(); fec_block_size / fec_group_size / fec_proactive / "
        "fec_ondemand of SourceConfig at connect (docs/fec.md)",
        apply=_set_fec, read=_stored("fec"),
    ),
    _rule(
        "RM_SET_MCAST_TTL", "sender", False, True, "ULONG", 4, True,
        low=0, high=c.MAX_MCAST_TTL, maps_to="PgmSender(ttl=...); default 255 as on Windows",
        apply=_store_ulong("ttl"),
    ),
    _rule(
        "RM_RECEIVER_STATISTICS", "receiver", True, False, "RM_RECEIVER_STATS", 144, False,
        needs_session=True, maps_to="a live PgmReceiver.session_info() snapshot of the session",
        read=_receiver_stats,
    ),
    _rule(
        "RM_HIGH_SPEED_INTRANET_OPT", "both", True, True, "BOOL", 4, True,
        maps_to="stored (0 or 1); Windows documents no effect to mirror",
        apply=_set_bool, read=_stored("high_speed"),
    ),
)
# fmt: on

#: :data:`OPTIONS` by option number.
OPTION_RULES: dict[int, OptionRule] = {r.number: r for r in OPTIONS}

# fmt: off
#: This facade's own options (pgm extensions, not Windows), in the same form as OPTIONS.
EXTENSIONS: tuple[OptionRule, ...] = (
    _rule(
        "RM_PGM_ONLY_SOURCE", "receiver", True, True, "SOCKADDR", 4, True,
        maps_to="ReceiverConfig.only_source: only sessions from this address are accepted "
        "(0.0.0.0: any); pgm extension",
        apply=_set_only_source, read=_read_only_source,
    ),
    _rule(
        "RM_PGM_ONLY_TSI", "receiver", True, True, "TSI", 8, True,
        maps_to="ReceiverConfig.only_tsi: only this session is accepted (8 zero bytes: any); "
        "pgm extension",
        apply=_set_only_tsi, read=_read_only_tsi,
    ),
)
# fmt: on

#: :data:`EXTENSIONS` by option number.
EXTENSION_RULES: dict[int, OptionRule] = {r.number: r for r in EXTENSIONS}


# -- rules beyond a range -------------------------------------------------------------------------


def resolve_send_window(current: RM_SEND_WINDOW, given: RM_SEND_WINDOW) -> RM_SEND_WINDOW:
    """The sender window after ``setsockopt(RM_RATE_WINDOW_SIZE, given)``; zero means "not given".

    Windows' rule ``WindowSizeInBytes = RateKbitsPerSec * WindowSizeInMSecs / 8`` (k = 1000,
    bytes per millisecond = kB/s) fixes the third member from any two.  Where Windows is silent:

    * one member given: the rate is the primary setting and the time window the secondary one,
      so a lone rate or a lone time keeps the current other of the two and derives the bytes;
      a lone byte count keeps the current rate and derives the time;
    * all three given: they must agree up to integer rounding (any one of them recomputed from
      the other two gives the given value — the defaults 56 / 1,428,571 / 10,000,000 do), else
      WSAEINVAL naming the consistent values;
    * none given, or a derived member that is 0 or does not fit a ULONG: WSAEINVAL.
    """
    rate, ms, nbytes = given.RateKbitsPerSec, given.WindowSizeInMSecs, given.WindowSizeInBytes
    if not (rate or ms or nbytes):
        raise rm_error("WSAEINVAL", "RM_SEND_WINDOW: all three members are 0")
    if rate and ms and nbytes:
        if not (rate * ms // 8 == nbytes or nbytes * 8 // rate == ms or nbytes * 8 // ms == rate):
            raise rm_error(
                "WSAEINVAL",
                f"RM_SEND_WINDOW members disagree: {rate} kbit/s x {ms} ms / 8 = "
                f"{rate * ms // 8} bytes, not {nbytes} (give two and the third is derived)",
            )
    elif rate and ms:
        nbytes = rate * ms // 8
    elif rate and nbytes:
        ms = nbytes * 8 // rate
    elif ms and nbytes:
        rate = nbytes * 8 // ms
    elif rate:
        ms = current.WindowSizeInMSecs
        nbytes = rate * ms // 8
    elif ms:
        rate = current.RateKbitsPerSec
        nbytes = rate * ms // 8
    else:
        rate = current.RateKbitsPerSec
        ms = nbytes * 8 // rate
    for name, v in (
        ("RateKbitsPerSec", rate),
        ("WindowSizeInMSecs", ms),
        ("WindowSizeInBytes", nbytes),
    ):
        if not 0 < v <= c.ULONG_MAX:
            raise rm_error(
                "WSAEINVAL",
                f"RM_SEND_WINDOW: derived {name} = {v} is out of range (1..{c.ULONG_MAX}); "
                f"from {given!r}",
            )
    return RM_SEND_WINDOW(rate, ms, nbytes)


def check_fec(info: RM_FEC_INFO) -> None:
    """Validate ``RM_FEC_INFO`` for RM_USE_FEC; WSAEINVAL naming the broken rule.

    Windows' documented rules: block size (n) at most 255, group size (k) a power of two, and at
    least one of proactive parity and on-demand parity.  Rules Windows leaves undocumented, chosen
    here as an (n, k) Reed-Solomon code needs them: k >= 2, k < n (room for parity), and
    k + proactive <= n; a block size of 0 is an error, not "the default".
    """
    n, k = info.FECBlockSize, info.FECGroupSize
    pro, on_demand = info.FECProActivePackets, info.fFECOnDemandParityEnabled
    if not 0 < n <= c.MAX_FEC_BLOCK_SIZE:
        raise rm_error("WSAEINVAL", f"RM_FEC_INFO.FECBlockSize must be 1..255, not {n}")
    if k < 2 or k & (k - 1):
        raise rm_error(
            "WSAEINVAL", f"RM_FEC_INFO.FECGroupSize must be a power of two >= 2, not {k}"
        )
    if k >= n:
        raise rm_error(
            "WSAEINVAL",
            f"RM_FEC_INFO.FECGroupSize ({k}) must be smaller than FECBlockSize ({n})",
        )
    if not pro and not on_demand:
        raise rm_error(
            "WSAEINVAL",
            "RM_FEC_INFO: neither FECProActivePackets nor fFECOnDemandParityEnabled is set",
        )
    if k + pro > n:
        raise rm_error(
            "WSAEINVAL",
            f"RM_FEC_INFO: FECGroupSize ({k}) + FECProActivePackets ({pro}) exceeds "
            f"FECBlockSize ({n})",
        )
