"""Windows' Reliable Multicast (``IPPROTO_RM``) API: constants, structures, errors, rules, socket.

Everything a program written for the Windows PGM provider (``wsrm.h``) names, with Windows'
numeric values, so code ports line by line:

* :mod:`pgm.rm.constants` — the protocol and socket-type numbers, the fourteen ``RM_*`` option
  numbers, the ``wsrm.h`` defaults and limits;
* :mod:`pgm.rm.structs` — the option structures as little-endian :mod:`ctypes` structures with
  Windows' field names and byte layout;
* :mod:`pgm.rm.errors` — the Winsock error codes and :class:`RMError` and its subclasses;
* :mod:`pgm.rm.options` — :data:`OPTIONS`, the one table of every option's rules and handlers
  (and :data:`EXTENSIONS`, this facade's own ``RM_PGM_*`` options, which Windows lacks);
* the socket, :func:`pgm.socket` / :class:`RMSocket` (:mod:`pgm.rm.sock`, with the roles in
  :mod:`pgm.rm.sender`, :mod:`pgm.rm.listener` and :mod:`pgm.rm.session`, statistics in
  :mod:`pgm.rm.stats`), loaded on first use.

Theory of operation: importing this package touches no socket and works on any OS — the names
above are data; ``RMSocket`` and ``socket`` import the socket layer only when first asked for.
docs/windows-porting.md maps every call and option.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .constants import (
    AF_INET,
    BITS_PER_BYTE,
    E_WINDOW_ADVANCE_BY_TIME,
    E_WINDOW_USE_AS_DATA_CACHE,
    IPPROTO_PGM,
    IPPROTO_RM,
    LOG2_BITS_PER_BYTE,
    MAX_FEC_BLOCK_SIZE,
    MAX_MCAST_TTL,
    MAX_MESSAGE_BYTES,
    MAX_WINDOW_INCREMENT_PERCENTAGE,
    MSG_PARTIAL,
    RM_ADD_RECEIVE_IF,
    RM_DEL_RECEIVE_IF,
    RM_FLUSHCACHE,
    RM_HIGH_SPEED_INTRANET_OPT,
    RM_LATEJOIN,
    RM_OPTIONSBASE,
    RM_PGM_ONLY_SOURCE,
    RM_PGM_ONLY_TSI,
    RM_PGM_OPTIONSBASE,
    RM_RATE_WINDOW_SIZE,
    RM_RECEIVER_STATISTICS,
    RM_SEND_WINDOW_ADV_RATE,
    RM_SENDER_STATISTICS,
    RM_SENDER_WINDOW_ADVANCE_METHOD,
    RM_SET_MCAST_TTL,
    RM_SET_MESSAGE_BOUNDARY,
    RM_SET_SEND_IF,
    RM_USE_FEC,
    SD_BOTH,
    SD_RECEIVE,
    SD_SEND,
    SENDER_DEFAULT_LATE_JOINER_PERCENTAGE,
    SENDER_DEFAULT_RATE_KBITS_PER_SEC,
    SENDER_DEFAULT_WINDOW_ADV_PERCENTAGE,
    SENDER_DEFAULT_WINDOW_SIZE_BYTES,
    SENDER_MAX_LATE_JOINER_PERCENTAGE,
    SOCK_RDM,
    SOCK_STREAM,
)
from .errors import (
    WSA_ERRORS,
    WSAEACCES,
    WSAEADDRNOTAVAIL,
    WSAEAFNOSUPPORT,
    WSAECONNRESET,
    WSAEDISCON,
    WSAEFAULT,
    WSAEINVAL,
    WSAEISCONN,
    WSAEMSGSIZE,
    WSAENETDOWN,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAEPROTONOSUPPORT,
    WSAESHUTDOWN,
    WSAESOCKTNOSUPPORT,
    WSAETIMEDOUT,
    WSAEWOULDBLOCK,
    RMConnectionReset,
    RMError,
    RMMessageSize,
    RMTimeout,
    RMWouldBlock,
    rm_error,
)
from .options import (
    EXTENSION_RULES,
    EXTENSIONS,
    OPTION_RULES,
    OPTIONS,
    OptionRule,
    check_fec,
    resolve_send_window,
)
from .structs import RM_FEC_INFO, RM_RECEIVER_STATS, RM_SEND_WINDOW, RM_SENDER_STATS

if TYPE_CHECKING:  # the names __getattr__ provides, for type checkers
    from .sock import DEFAULT_LINGER as DEFAULT_LINGER
    from .sock import RMSocket as RMSocket
    from .sock import socket as socket

__all__ = [
    "AF_INET",
    "BITS_PER_BYTE",
    "EXTENSIONS",
    "EXTENSION_RULES",
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
    "RM_PGM_ONLY_SOURCE",
    "RM_PGM_ONLY_TSI",
    "RM_PGM_OPTIONSBASE",
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

#: Names loaded from :mod:`pgm.rm.sock` on first use (they import the socket layer).
SOCKET_NAMES = frozenset({"socket", "RMSocket", "DEFAULT_LINGER"})


def __getattr__(name: str) -> Any:
    """``RMSocket``, ``socket`` and ``DEFAULT_LINGER``, imported on first use."""
    if name in SOCKET_NAMES:
        return getattr(import_module("pgm.rm.sock"), name)
    raise AttributeError(f"module 'pgm.rm' has no attribute {name!r}")
