"""Windows' Reliable Multicast (``IPPROTO_RM``) API as data: constants, structures, errors, rules.

Everything a program written for the Windows PGM provider (``wsrm.h``) names, with Windows'
numeric values, so code ports line by line: the protocol and socket-type numbers, the fourteen
``RM_*`` option numbers, the ``wsrm.h`` defaults and limits, the option structures as
little-endian :mod:`ctypes` structures with Windows' field names and byte layout, and the Winsock
error codes.  This module touches no socket and imports on any OS; the socket that uses it is
:func:`pgm.socket` (:mod:`pgm.rmsocket`).

Structures
----------
``bytes(struct)`` is exactly what a Windows program puts in ``optval``, and
``RM_SEND_WINDOW.from_buffer_copy(optval)`` reads it back (x86 and x64 Windows share the layout:
no pointers, no padding).  They compare equal by value, and ``dict(struct.items())`` lists their
fields in order.

Option rules
------------
:data:`OPTIONS` is the one table of every ``RM_*`` option's rules — which side may use it,
whether it may be read and/or written, its value type and size, whether it must be set before
``connect()``/``listen()``, its numeric range and what it maps onto — and the socket facade
enforces exactly this table (docs/windows-porting.md prints it).  The two options whose rules are
more than a range live beside it as functions: :func:`resolve_send_window` (``RM_RATE_WINDOW_SIZE``)
and :func:`check_fec` (``RM_USE_FEC``).

Errors
------
Misuse raises :class:`RMError`, an :class:`OSError` whose ``errno`` is the POSIX counterpart and
whose message starts with the Winsock name and code (``"WSAEINVAL (10022): ..."``); ``wsaerror`` and
``wsaname`` hold them.  Where Python has a matching :class:`OSError` subclass the error is also an
instance of it: would-block is a :class:`BlockingIOError`, a reset session a
:class:`ConnectionResetError`, a timeout a :class:`TimeoutError`.
"""

from __future__ import annotations

import ctypes
import errno as _errno
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "AF_INET",
    "BITS_PER_BYTE",
    "E_WINDOW_ADVANCE_BY_TIME",
    "E_WINDOW_USE_AS_DATA_CACHE",
    "IPPROTO_PGM",
    "IPPROTO_RM",
    "LOG2_BITS_PER_BYTE",
    "MAX_FEC_BLOCK_SIZE",
    "MAX_MCAST_TTL",
    "MAX_MESSAGE_BYTES",
    "MAX_WINDOW_INCREMENT_PERCENTAGE",
    "MSG_PARTIAL",
    "OPTIONS",
    "OPTION_RULES",
    "RM_ADD_RECEIVE_IF",
    "RM_DEL_RECEIVE_IF",
    "RM_FEC_INFO",
    "RM_FLUSHCACHE",
    "RM_HIGH_SPEED_INTRANET_OPT",
    "RM_LATEJOIN",
    "RM_OPTIONSBASE",
    "RM_RATE_WINDOW_SIZE",
    "RM_RECEIVER_STATISTICS",
    "RM_RECEIVER_STATS",
    "RM_SENDER_STATISTICS",
    "RM_SENDER_STATS",
    "RM_SENDER_WINDOW_ADVANCE_METHOD",
    "RM_SEND_WINDOW",
    "RM_SEND_WINDOW_ADV_RATE",
    "RM_SET_MCAST_TTL",
    "RM_SET_MESSAGE_BOUNDARY",
    "RM_SET_SEND_IF",
    "RM_USE_FEC",
    "SD_BOTH",
    "SD_RECEIVE",
    "SD_SEND",
    "SENDER_DEFAULT_LATE_JOINER_PERCENTAGE",
    "SENDER_DEFAULT_RATE_KBITS_PER_SEC",
    "SENDER_DEFAULT_WINDOW_ADV_PERCENTAGE",
    "SENDER_DEFAULT_WINDOW_SIZE_BYTES",
    "SENDER_MAX_LATE_JOINER_PERCENTAGE",
    "SOCK_RDM",
    "SOCK_STREAM",
    "WSAEACCES",
    "WSAEADDRNOTAVAIL",
    "WSAEAFNOSUPPORT",
    "WSAECONNRESET",
    "WSAEDISCON",
    "WSAEFAULT",
    "WSAEINVAL",
    "WSAEISCONN",
    "WSAEMSGSIZE",
    "WSAENETDOWN",
    "WSAENOPROTOOPT",
    "WSAENOTCONN",
    "WSAENOTSOCK",
    "WSAEOPNOTSUPP",
    "WSAEPROTONOSUPPORT",
    "WSAESHUTDOWN",
    "WSAESOCKTNOSUPPORT",
    "WSAETIMEDOUT",
    "WSAEWOULDBLOCK",
    "WSA_ERRORS",
    "OptionRule",
    "RMConnectionReset",
    "RMError",
    "RMMessageSize",
    "RMTimeout",
    "RMWouldBlock",
    "check_fec",
    "resolve_send_window",
    "rm_error",
]

# -- protocol, socket types, flags (winsock2.h / ws2def.h / wsrm.h) ------------------------------

IPPROTO_RM = 113
"""The Reliable Multicast protocol number (wsrm.h): PGM, IP protocol 113."""
IPPROTO_PGM = 113
"""Vista-and-later SDK alias of :data:`IPPROTO_RM`."""
AF_INET = 2
"""IPv4, the only address family Windows' PGM provider supports."""
SOCK_STREAM = 1
"""Stream mode: a byte stream without message boundaries."""
SOCK_RDM = 4
"""Message mode ("reliable message datagram"): each send is one message."""
MSG_PARTIAL = 0x8000
"""Returned by WSARecv (here: :meth:`pgm.rmsocket.RMSocket.recvmsg`) when only part of a message
was returned."""
SD_RECEIVE = 0
"""``shutdown()`` how: receiving (``socket.SHUT_RD``)."""
SD_SEND = 1
"""``shutdown()`` how: sending (``socket.SHUT_WR``)."""
SD_BOTH = 2
"""``shutdown()`` how: both (``socket.SHUT_RDWR``)."""

# -- option names (level IPPROTO_RM) --------------------------------------------------------------

RM_OPTIONSBASE = 1000
RM_RATE_WINDOW_SIZE = RM_OPTIONSBASE + 1
RM_SET_MESSAGE_BOUNDARY = RM_OPTIONSBASE + 2
RM_FLUSHCACHE = RM_OPTIONSBASE + 3
RM_SENDER_WINDOW_ADVANCE_METHOD = RM_OPTIONSBASE + 4
RM_SENDER_STATISTICS = RM_OPTIONSBASE + 5
RM_LATEJOIN = RM_OPTIONSBASE + 6
RM_SET_SEND_IF = RM_OPTIONSBASE + 7
RM_ADD_RECEIVE_IF = RM_OPTIONSBASE + 8
RM_DEL_RECEIVE_IF = RM_OPTIONSBASE + 9
RM_SEND_WINDOW_ADV_RATE = RM_OPTIONSBASE + 10
RM_USE_FEC = RM_OPTIONSBASE + 11
RM_SET_MCAST_TTL = RM_OPTIONSBASE + 12
RM_RECEIVER_STATISTICS = RM_OPTIONSBASE + 13
RM_HIGH_SPEED_INTRANET_OPT = RM_OPTIONSBASE + 14

# -- other wsrm.h definitions ---------------------------------------------------------------------

SENDER_DEFAULT_RATE_KBITS_PER_SEC = 56
SENDER_DEFAULT_WINDOW_SIZE_BYTES = 10 * 1000 * 1000
SENDER_DEFAULT_WINDOW_ADV_PERCENTAGE = 15
MAX_WINDOW_INCREMENT_PERCENTAGE = 25
SENDER_DEFAULT_LATE_JOINER_PERCENTAGE = 0
SENDER_MAX_LATE_JOINER_PERCENTAGE = 75
BITS_PER_BYTE = 8
LOG2_BITS_PER_BYTE = 3
MAX_MCAST_TTL = 255

E_WINDOW_ADVANCE_BY_TIME = 1
"""``eWINDOW_ADVANCE_METHOD``: the trailing edge advances with time (the default; the only one)."""
E_WINDOW_USE_AS_DATA_CACHE = 2
"""``eWINDOW_ADVANCE_METHOD``: documented as not supported (rejected with WSAEOPNOTSUPP)."""

#: Largest ``FECBlockSize`` (n of an (n, k) code), and its default (Windows docs).
MAX_FEC_BLOCK_SIZE = 255
#: Largest message this facade sends or accepts as RM_SET_MESSAGE_BOUNDARY (the engine's
#: ``SourceConfig.max_apdu`` / ``ReceiverConfig.max_apdu`` default, 16 MiB).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

_ULONG_MAX = 0xFFFFFFFF

# -- Winsock errors -------------------------------------------------------------------------------

WSAEACCES = 10013
WSAEFAULT = 10014
WSAEINVAL = 10022
WSAENOTSOCK = 10038
WSAEWOULDBLOCK = 10035
WSAEMSGSIZE = 10040
WSAENOPROTOOPT = 10042
WSAEPROTONOSUPPORT = 10043
WSAESOCKTNOSUPPORT = 10044
WSAEOPNOTSUPP = 10045
WSAEAFNOSUPPORT = 10047
WSAEADDRNOTAVAIL = 10049
WSAENETDOWN = 10050
WSAECONNRESET = 10054
WSAEISCONN = 10056
WSAENOTCONN = 10057
WSAESHUTDOWN = 10058
WSAETIMEDOUT = 10060
WSAEDISCON = 10101


def _posix(name: str, fallback: int) -> int:
    return int(getattr(_errno, name, fallback))


#: Winsock error name -> (Winsock code, POSIX errno used for the OSError).  WSAENOTSOCK maps to
#: EBADF, what Python raises for a closed socket; WSAEDISCON has no POSIX counterpart and is never
#: raised (a graceful session end reads as ``b""``).
WSA_ERRORS: dict[str, tuple[int, int]] = {
    "WSAEACCES": (WSAEACCES, _posix("EACCES", WSAEACCES)),
    "WSAEFAULT": (WSAEFAULT, _posix("EFAULT", WSAEFAULT)),
    "WSAEINVAL": (WSAEINVAL, _posix("EINVAL", WSAEINVAL)),
    "WSAENOTSOCK": (WSAENOTSOCK, _posix("EBADF", WSAENOTSOCK)),
    "WSAEWOULDBLOCK": (WSAEWOULDBLOCK, _posix("EWOULDBLOCK", WSAEWOULDBLOCK)),
    "WSAEMSGSIZE": (WSAEMSGSIZE, _posix("EMSGSIZE", WSAEMSGSIZE)),
    "WSAENOPROTOOPT": (WSAENOPROTOOPT, _posix("ENOPROTOOPT", WSAENOPROTOOPT)),
    "WSAEPROTONOSUPPORT": (WSAEPROTONOSUPPORT, _posix("EPROTONOSUPPORT", WSAEPROTONOSUPPORT)),
    "WSAESOCKTNOSUPPORT": (WSAESOCKTNOSUPPORT, _posix("ESOCKTNOSUPPORT", WSAESOCKTNOSUPPORT)),
    "WSAEOPNOTSUPP": (WSAEOPNOTSUPP, _posix("EOPNOTSUPP", WSAEOPNOTSUPP)),
    "WSAEAFNOSUPPORT": (WSAEAFNOSUPPORT, _posix("EAFNOSUPPORT", WSAEAFNOSUPPORT)),
    "WSAEADDRNOTAVAIL": (WSAEADDRNOTAVAIL, _posix("EADDRNOTAVAIL", WSAEADDRNOTAVAIL)),
    "WSAENETDOWN": (WSAENETDOWN, _posix("ENETDOWN", WSAENETDOWN)),
    "WSAECONNRESET": (WSAECONNRESET, _posix("ECONNRESET", WSAECONNRESET)),
    "WSAEISCONN": (WSAEISCONN, _posix("EISCONN", WSAEISCONN)),
    "WSAENOTCONN": (WSAENOTCONN, _posix("ENOTCONN", WSAENOTCONN)),
    "WSAESHUTDOWN": (WSAESHUTDOWN, _posix("ESHUTDOWN", WSAESHUTDOWN)),
    "WSAETIMEDOUT": (WSAETIMEDOUT, _posix("ETIMEDOUT", WSAETIMEDOUT)),
    "WSAEDISCON": (WSAEDISCON, WSAEDISCON),
}


class RMError(OSError):
    """A Winsock-style failure: ``errno`` is the POSIX counterpart, the message starts with the
    Winsock name and code, ``wsaerror`` / ``wsaname`` hold them (e.g. 10022 / ``"WSAEINVAL"``)."""

    wsaerror: int
    """The Winsock error code (WSAGetLastError() on Windows)."""
    wsaname: str
    """Its name, e.g. ``"WSAEINVAL"``."""

    def __init__(self, wsaname: str, detail: str) -> None:
        code, eno = WSA_ERRORS[wsaname]
        super().__init__(eno, f"{wsaname} ({code}): {detail}")
        self.wsaerror = code
        self.wsaname = wsaname


class RMWouldBlock(RMError, BlockingIOError):
    """WSAEWOULDBLOCK: a non-blocking socket cannot complete the call now."""


class RMConnectionReset(RMError, ConnectionResetError):
    """WSAECONNRESET: the receiving session ended with data lost for good, or was aborted."""


class RMTimeout(RMError, TimeoutError):
    """WSAETIMEDOUT: the socket's timeout (``settimeout``) passed."""


class RMMessageSize(RMError):
    """WSAEMSGSIZE: the buffer was smaller than the message (receive), or the message is too
    large (send).  On receive, ``partial`` holds the part that fitted (``recv``) and ``nbytes``
    how many bytes were stored (``recv_into``); the rest of the message stays for the next call."""

    partial: bytes = b""
    """The part of the message returned with the error (``recv`` / ``recvfrom``)."""
    nbytes: int = 0
    """Bytes written into the caller's buffer (``recv_into`` / ``recvfrom_into``)."""


_ERROR_CLASSES: dict[str, type[RMError]] = {
    "WSAEWOULDBLOCK": RMWouldBlock,
    "WSAECONNRESET": RMConnectionReset,
    "WSAETIMEDOUT": RMTimeout,
    "WSAEMSGSIZE": RMMessageSize,
}


def rm_error(wsaname: str, detail: str) -> RMError:
    """The :class:`RMError` (sub)class instance for Winsock error ``wsaname``."""
    return _ERROR_CLASSES.get(wsaname, RMError)(wsaname, detail)


# -- structures -----------------------------------------------------------------------------------


class _RMStruct(ctypes.LittleEndianStructure):
    """Common behaviour: value equality, a readable repr, ``items()``."""

    def items(self) -> Iterator[tuple[str, int]]:
        """(field name, value) pairs in layout order."""
        for f in self._fields_:
            yield f[0], int(getattr(self, f[0]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and bytes(self) == bytes(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.items())
        return f"{type(self).__name__}({inner})"


class RM_SEND_WINDOW(_RMStruct):
    """``RM_SEND_WINDOW`` (wsrm.h), 12 bytes, ``struct`` format ``"<3I"``: the sender's rate and
    window, for RM_RATE_WINDOW_SIZE.  ``WindowSizeInBytes = RateKbitsPerSec *
    WindowSizeInMSecs / 8`` (k = 1000)."""

    _fields_ = [
        ("RateKbitsPerSec", ctypes.c_uint32),
        ("WindowSizeInMSecs", ctypes.c_uint32),
        ("WindowSizeInBytes", ctypes.c_uint32),
    ]
    RateKbitsPerSec: int
    WindowSizeInMSecs: int
    WindowSizeInBytes: int


class RM_FEC_INFO(_RMStruct):
    """``RM_FEC_INFO`` (wsrm.h), 6 bytes, ``"<HHBB"``: forward error correction, for
    RM_USE_FEC."""

    _fields_ = [
        ("FECBlockSize", ctypes.c_uint16),
        ("FECProActivePackets", ctypes.c_uint16),
        ("FECGroupSize", ctypes.c_uint8),
        ("fFECOnDemandParityEnabled", ctypes.c_uint8),
    ]
    FECBlockSize: int
    FECProActivePackets: int
    FECGroupSize: int
    fFECOnDemandParityEnabled: int


_SENDER_FIELDS = (
    "DataBytesSent",
    "TotalBytesSent",
    "NaksReceived",
    "NaksReceivedTooLate",
    "NumOutstandingNaks",
    "NumNaksAfterRData",
    "RepairPacketsSent",
    "BufferSpaceAvailable",
    "TrailingEdgeSeqId",
    "LeadingEdgeSeqId",
    "RateKBitsPerSecOverall",
    "RateKBitsPerSecLast",
    "TotalODataPacketsSent",
)

_RECEIVER_FIELDS = (
    "NumODataPacketsReceived",
    "NumRDataPacketsReceived",
    "NumDuplicateDataPackets",
    "DataBytesReceived",
    "TotalBytesReceived",
    "RateKBitsPerSecOverall",
    "RateKBitsPerSecLast",
    "TrailingEdgeSeqId",
    "LeadingEdgeSeqId",
    "AverageSequencesInWindow",
    "MinSequencesInWindow",
    "MaxSequencesInWindow",
    "FirstNakSequenceNumber",
    "NumPendingNaks",
    "NumOutstandingNaks",
    "NumDataPacketsBuffered",
    "TotalSelectiveNaksSent",
    "TotalParityNaksSent",
)


class RM_SENDER_STATS(_RMStruct):
    """``RM_SENDER_STATS`` (wsrm.h), 13 x ULONGLONG = 104 bytes, ``"<13Q"``: RM_SENDER_STATISTICS.

    What each field counts here is in docs/windows-porting.md (statistics).
    """

    _fields_ = [(n, ctypes.c_uint64) for n in _SENDER_FIELDS]
    DataBytesSent: int
    TotalBytesSent: int
    NaksReceived: int
    NaksReceivedTooLate: int
    NumOutstandingNaks: int
    NumNaksAfterRData: int
    RepairPacketsSent: int
    BufferSpaceAvailable: int
    TrailingEdgeSeqId: int
    LeadingEdgeSeqId: int
    RateKBitsPerSecOverall: int
    RateKBitsPerSecLast: int
    TotalODataPacketsSent: int


class RM_RECEIVER_STATS(_RMStruct):
    """``RM_RECEIVER_STATS`` (wsrm.h), 18 x ULONGLONG = 144 bytes, ``"<18Q"``:
    RM_RECEIVER_STATISTICS (per accepted session)."""

    _fields_ = [(n, ctypes.c_uint64) for n in _RECEIVER_FIELDS]
    NumODataPacketsReceived: int
    NumRDataPacketsReceived: int
    NumDuplicateDataPackets: int
    DataBytesReceived: int
    TotalBytesReceived: int
    RateKBitsPerSecOverall: int
    RateKBitsPerSecLast: int
    TrailingEdgeSeqId: int
    LeadingEdgeSeqId: int
    AverageSequencesInWindow: int
    MinSequencesInWindow: int
    MaxSequencesInWindow: int
    FirstNakSequenceNumber: int
    NumPendingNaks: int
    NumOutstandingNaks: int
    NumDataPacketsBuffered: int
    TotalSelectiveNaksSent: int
    TotalParityNaksSent: int


_STRUCTS: dict[str, type[_RMStruct]] = {
    "RM_SEND_WINDOW": RM_SEND_WINDOW,
    "RM_FEC_INFO": RM_FEC_INFO,
    "RM_SENDER_STATS": RM_SENDER_STATS,
    "RM_RECEIVER_STATS": RM_RECEIVER_STATS,
}

# -- the option table -----------------------------------------------------------------------------

Side = Literal["sender", "receiver", "both", "any"]
ValueKind = Literal[
    "ULONG", "BOOL", "ADDR", "NONE", "RM_SEND_WINDOW", "RM_FEC_INFO", "RM_SENDER_STATS",
    "RM_RECEIVER_STATS",
]


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
    non-zero = on), ``ADDR`` (a ULONG holding an IPv4 address in network byte order) or
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

    @property
    def struct(self) -> type[_RMStruct] | None:
        """The ctypes structure of the value, or None for scalar options."""
        return _STRUCTS.get(self.value)


def _rule(name: str, *args: Any, **kw: Any) -> OptionRule:
    return OptionRule(name, globals()[name], *args, **kw)


#: Every RM_* option, in number order: the one place its rules are written down.
OPTIONS: tuple[OptionRule, ...] = (
    _rule("RM_RATE_WINDOW_SIZE", "sender", True, True, "RM_SEND_WINDOW", 12, True,
          maps_to="SourceConfig.rate_bps = Rate*1000, window_secs = MSecs/1000, window_bytes = "
          "Bytes (send_buffer_bytes capped at Bytes); rules in resolve_send_window()"),
    _rule("RM_SET_MESSAGE_BOUNDARY", "sender", False, True, "ULONG", 4, False,
          low=1, high=MAX_MESSAGE_BYTES, rdm_only=True,
          maps_to="the next sends are gathered into one message of this many bytes"),
    _rule("RM_FLUSHCACHE", "any", False, True, "NONE", 0, False, implemented=False,
          maps_to="not implemented (as on Windows)"),
    _rule("RM_SENDER_WINDOW_ADVANCE_METHOD", "sender", True, True, "ULONG", 4, True,
          low=E_WINDOW_ADVANCE_BY_TIME, high=E_WINDOW_ADVANCE_BY_TIME,
          unsupported=(E_WINDOW_USE_AS_DATA_CACHE,),
          maps_to="only E_WINDOW_ADVANCE_BY_TIME, the engine's model (DATA_CACHE: WSAEOPNOTSUPP)"),
    _rule("RM_SENDER_STATISTICS", "sender", True, False, "RM_SENDER_STATS", 104, False,
          needs_session=True, maps_to="live Source.stats + window edges + rates"),
    _rule("RM_LATEJOIN", "sender", True, True, "ULONG", 4, True,
          low=0, high=SENDER_MAX_LATE_JOINER_PERCENTAGE,
          maps_to="stored; takes effect with late join (OPT_JOIN)"),
    _rule("RM_SET_SEND_IF", "sender", True, True, "ADDR", 4, True,
          maps_to="PgmSender(iface=...); must be a local address (else WSAEADDRNOTAVAIL)"),
    _rule("RM_ADD_RECEIVE_IF", "receiver", False, True, "ADDR", 4, True,
          maps_to="PgmReceiver(ifaces=[...]): the first replaces the default, later ones add"),
    _rule("RM_DEL_RECEIVE_IF", "receiver", False, True, "ADDR", 4, True,
          maps_to="removes an interface added with RM_ADD_RECEIVE_IF (else WSAEINVAL)"),
    _rule("RM_SEND_WINDOW_ADV_RATE", "sender", True, True, "ULONG", 4, True,
          low=1, high=MAX_WINDOW_INCREMENT_PERCENTAGE,
          maps_to="SourceConfig.window_advance_pct"),
    _rule("RM_USE_FEC", "sender", True, True, "RM_FEC_INFO", 6, True,
          maps_to="validated by check_fec() and stored; takes effect with FEC"),
    _rule("RM_SET_MCAST_TTL", "sender", False, True, "ULONG", 4, True,
          low=0, high=MAX_MCAST_TTL, maps_to="PgmSender(ttl=...); default 255 as on Windows"),
    _rule("RM_RECEIVER_STATISTICS", "receiver", True, False, "RM_RECEIVER_STATS", 144, False,
          needs_session=True, maps_to="live Session.stats of the accepted session"),
    _rule("RM_HIGH_SPEED_INTRANET_OPT", "both", True, True, "BOOL", 4, True,
          maps_to="stored (0 or 1); Windows documents no effect to mirror"),
)

#: :data:`OPTIONS` by option number.
OPTION_RULES: dict[int, OptionRule] = {r.number: r for r in OPTIONS}


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
    for name, v in (("RateKbitsPerSec", rate), ("WindowSizeInMSecs", ms),
                    ("WindowSizeInBytes", nbytes)):
        if not 0 < v <= _ULONG_MAX:
            raise rm_error(
                "WSAEINVAL",
                f"RM_SEND_WINDOW: derived {name} = {v} is out of range (1..{_ULONG_MAX}); "
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
    if not 0 < n <= MAX_FEC_BLOCK_SIZE:
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
