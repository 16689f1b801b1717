"""Constants of the common PGM header (RFC 3208 §8): packet type codes, header flags, sizes.

Theory of operation
-------------------
Every PGM packet starts with the same 16 bytes: source port, destination port, type, options
flags, checksum, GSI and TSDU length.  The values here are what real implementations put on the
wire (docs/protocol.md §1, §2); the packet classes (:mod:`.packets`) and the source's fast
builders (:mod:`.fastpath`) both take them from this one place.
"""

from __future__ import annotations

import struct

__all__ = [
    "ACK_BODY",
    "COMMON_HEADER",
    "DATA_FIXED",
    "DATA_HEADER_SIZE",
    "FLAG_NETWORK",
    "FLAG_PARITY",
    "FLAG_PRESENT",
    "FLAG_VAR_PKTLEN",
    "HEADER_SIZE",
    "POLL_BODY",
    "POLL_TAIL",
    "POLR_BODY",
    "RESERVED_FLAGS",
    "SPM_BODY",
    "SQN_TRAIL",
    "TYPE_ACK",
    "TYPE_NAK",
    "TYPE_NCF",
    "TYPE_NNAK",
    "TYPE_ODATA",
    "TYPE_POLL",
    "TYPE_POLR",
    "TYPE_RDATA",
    "TYPE_SPM",
    "TYPE_SPMR",
    "U32",
]

TYPE_SPM = 0x00
TYPE_POLL = 0x01
TYPE_POLR = 0x02
TYPE_ODATA = 0x04
TYPE_RDATA = 0x05
TYPE_NAK = 0x08
TYPE_NNAK = 0x09
TYPE_NCF = 0x0A
TYPE_SPMR = 0x0C
TYPE_ACK = 0x0D  # OpenPGM's PGMCC extension, not RFC 3208

FLAG_PRESENT = 0x01
"""OPT_PRESENT: an option chain follows the body."""
FLAG_NETWORK = 0x02
"""OPT_NETWORK: a network-significant option is present."""
FLAG_VAR_PKTLEN = 0x40
"""OPT_VAR_PKTLEN: a parity packet over TSDUs of different lengths (FEC)."""
FLAG_PARITY = 0x80
"""OPT_PARITY: a parity packet, or a parity NAK/NCF (FEC)."""

RESERVED_FLAGS = 0xFF & ~(FLAG_PRESENT | FLAG_NETWORK | FLAG_VAR_PKTLEN | FLAG_PARITY)
"""Unassigned header flag bits (0x04-0x20)."""

HEADER_SIZE = 16
"""Bytes of the common header."""
DATA_HEADER_SIZE = 24
"""Bytes of the ODATA/RDATA fixed part: the common header, DATA_SQN and DATA_TRAIL (§8.2)."""

# Layouts (network byte order) shared by the encoders (packets, fastpath) and the parsers.
COMMON_HEADER = struct.Struct(">HHBBH6sH")
"""Ports, type, flags, checksum, GSI, TSDU length."""
DATA_FIXED = struct.Struct(">HHBBH6sHII")
"""The common header plus DATA_SQN and DATA_TRAIL: the ODATA/RDATA fixed part."""
SQN_TRAIL = struct.Struct(">II")
"""DATA_SQN, DATA_TRAIL."""
SPM_BODY = struct.Struct(">III")
"""SPM_SQN, SPM_TRAIL, SPM_LEAD."""
POLL_BODY = struct.Struct(">IHH")
"""POLL_SQN, POLL_ROUND, POLL_S_TYPE."""
POLL_TAIL = struct.Struct(">I4sI")
"""POLL_BO_IVL, POLL_RAND, POLL_MASK."""
POLR_BODY = struct.Struct(">IHH")
"""POLR_SQN, POLR_ROUND, reserved."""
ACK_BODY = struct.Struct(">II")
"""PGMCC ACK: RX_MAX, bitmap."""
U32 = struct.Struct(">I")
"""One 32-bit field (a sequence number)."""
