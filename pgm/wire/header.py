"""Constants of the common PGM header (RFC 3208 §8): packet type codes, header flags, sizes.

Theory of operation
-------------------
Every PGM packet starts with the same 16 bytes: source port, destination port, type, options
flags, checksum, GSI and TSDU length.  The values here are what real implementations put on the
wire (docs/protocol.md §1, §2); the packet classes (:mod:`.packets`) and the source's fast
builders (:mod:`.fastpath`) both take them from this one place.
"""

from __future__ import annotations

__all__ = [
    "DATA_HEADER_SIZE",
    "FLAG_NETWORK",
    "FLAG_PARITY",
    "FLAG_PRESENT",
    "FLAG_VAR_PKTLEN",
    "HEADER_SIZE",
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

HEADER_SIZE = 16
"""Bytes of the common header."""
DATA_HEADER_SIZE = 24
"""Bytes of the ODATA/RDATA fixed part: the common header, DATA_SQN and DATA_TRAIL (§8.2)."""
