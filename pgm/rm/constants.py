"""Windows' Reliable Multicast constants (``wsrm.h``, ``winsock2.h``) with Windows' values.

Theory of operation: plain module-level integers, so a program written for the Windows PGM
provider finds every name it uses — the protocol and socket-type numbers, the fourteen ``RM_*``
option numbers and the ``wsrm.h`` defaults and limits — with the same value.  The Winsock error
codes live in :mod:`pgm.rm.errors`.
"""

from __future__ import annotations

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
"""Returned by WSARecv (here: :meth:`pgm.rm.RMSocket.recvmsg`) when only part of a message
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

# -- pgm extensions (not Windows: numbers far outside the RM_* range) ----------------------------

RM_PGM_OPTIONSBASE = 0x50470000
"""Base of this facade's own options ("PG" in the high bytes); Windows defines none here."""
RM_PGM_ONLY_SOURCE = RM_PGM_OPTIONSBASE + 1
"""Receiver, before ``listen()``: accept only sessions from this source address (pgm
extension; ``ReceiverConfig.only_source``, docs/security.md "Session choice")."""
RM_PGM_ONLY_TSI = RM_PGM_OPTIONSBASE + 2
"""Receiver, before ``listen()``: accept only this session, by TSI (pgm extension;
``ReceiverConfig.only_tsi``)."""

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

#: The largest ULONG (a 32-bit unsigned ``optval``).
ULONG_MAX = 0xFFFFFFFF
