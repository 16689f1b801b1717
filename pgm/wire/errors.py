"""Errors raised by the PGM codec.

Every error the parser or the encoder raises is a :class:`PacketError` (a ``ValueError``), so a
network path can write ``except PacketError`` and count the drop.  Each subclass names one way a
packet can be malformed; ``str(err)`` gives a human-readable reason.
"""

from __future__ import annotations

__all__ = [
    "BadAFI",
    "BadChecksum",
    "BadLength",
    "BadOption",
    "BadVersion",
    "MissingChecksum",
    "NakListTooLong",
    "OptionChainError",
    "OptionDiscarded",
    "PacketError",
    "TruncatedPacket",
    "UnknownPacketType",
]


class PacketError(ValueError):
    """Base class: the bytes are not a valid PGM packet (or cannot be encoded as one)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TruncatedPacket(PacketError):
    """The datagram ends before a header, body, NLA or option it announces."""


class BadVersion(PacketError):
    """The version bits (top two bits of the type byte, RFC 3208 §8) are not 0."""


class UnknownPacketType(PacketError):
    """The type code is not one RFC 3208 (or OpenPGM's PGMCC ACK) defines."""


class BadLength(PacketError):
    """The TSDU length disagrees with the datagram, or a length field is inconsistent."""


class BadChecksum(PacketError):
    """The checksum does not verify (RFC 3208 §8: one's complement over the whole packet)."""


class MissingChecksum(PacketError):
    """ODATA/RDATA with a zero ("none") checksum; OpenPGM drops these, so do we."""


class BadAFI(PacketError):
    """An NLA with an address family other than 1 (IPv4) or 2 (IPv6)."""


class BadOption(PacketError):
    """An option extension whose length or content is invalid for its type."""


class OptionChainError(BadOption):
    """The option chain is malformed: missing OPT_LENGTH, overrun, no OPT_END, too many."""


class NakListTooLong(BadOption):
    """OPT_NAK_LIST with more than 62 sequence numbers (RFC 3208 §9.3.1)."""


class OptionDiscarded(PacketError):
    """An unknown option whose OPX bits say "discard the packet" (RFC 3208 §9.1)."""
