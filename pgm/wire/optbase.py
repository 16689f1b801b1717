"""The PGM option header and the base class of every option (RFC 3208 §9).

Theory of operation
-------------------
Each option starts with a 4-byte header::

    byte 0   E(0x80) | type(0x7F)
    byte 1   length of this option including these 4 bytes
    byte 2   reserved bits, F / OP_ENCODED (RFC 0x04; OpenPGM writes 0x08), OPX (0x03)
    byte 3   U / OP_ENCODED_NULL (0x80) | 7 option-specific bits

:class:`Option` writes that header around the body its subclass supplies (``_body``,
``_bits3``) and decodes the reverse (``_decode``); the option types themselves and the chain
codec (OPT_LENGTH first, OPT_END on the last) are in :mod:`.options`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from .errors import BadOption

__all__ = [
    "MAX_NAK_LIST",
    "MAX_OPTIONS",
    "OPTION_HEADER",
    "OPT_END",
    "OPT_F_OPENPGM",
    "OPT_F_RFC",
    "OPT_INVALID",
    "OPT_LENGTH_TYPE",
    "OPT_U",
    "OPX_DISCARD",
    "OPX_IGNORE",
    "OPX_INVALIDATE",
    "OPX_RESERVED",
    "Option",
    "UnknownOption",
]

OPT_END = 0x80
#: OPX values (RFC 3208 §9): what a node that does not know the option does with it.
OPX_IGNORE = 0
OPX_INVALIDATE = 1
OPX_DISCARD = 2
OPX_RESERVED = 3

OPT_F_RFC = 0x04  # F / OP_ENCODED as RFC 3208's figure places it
OPT_F_OPENPGM = 0x08  # ... and as OpenPGM writes it (docs/protocol.md §6)
OPT_U = 0x80  # U / OP_ENCODED_NULL in byte 3

#: RFC 3208 §9: "a maximum of 16 options" per packet (OPT_LENGTH not counted here).
MAX_OPTIONS = 16
#: RFC 3208 §9: OPT_NAK_LIST lists up to 62 sequence numbers beyond the packet's own.
MAX_NAK_LIST = 62

OPT_LENGTH_TYPE = 0x00
OPT_INVALID = 0x7F

OPTION_HEADER = struct.Struct(">BBBB")
"""The 4-byte option header: type|E, length, byte 2, byte 3."""


@dataclass(slots=True)
class Option:
    """Base of every option.  ``opx``/``f_bits``/``u`` are the generic header bits."""

    TYPE: ClassVar[int] = -1
    NAME: ClassVar[str] = "OPT_?"
    LENGTH: ClassVar[int | None] = 4  # fixed total length, or None if variable
    NETWORK_SIGNIFICANT: ClassVar[bool] = False

    opx: int = field(default=0, kw_only=True)
    f_bits: int = field(default=0, kw_only=True)
    u: bool = field(default=False, kw_only=True)

    @property
    def encoded(self) -> bool:
        """F / OP_ENCODED: the option was FEC-encoded in a parity packet (either bit value)."""
        return bool(self.f_bits & (OPT_F_RFC | OPT_F_OPENPGM))

    def network_significant(self, packet_type: int) -> bool:
        """Whether this option makes the header's OPT_NETWORK flag apply on ``packet_type``."""
        return self.NETWORK_SIGNIFICANT

    # -- codec hooks ---------------------------------------------------------------------------
    def _type_code(self) -> int:
        """The 7-bit option type written to byte 0."""
        return self.TYPE

    def _bits3(self) -> int:
        """Option-specific low 7 bits of byte 3."""
        return 0

    def _body(self) -> bytes:
        return b""

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        if body:
            raise BadOption(f"{cls.NAME}: expected no body, got {len(body)} bytes")
        return cls()

    def encode(self, last: bool) -> bytes:
        """The option's bytes; ``last`` sets OPT_END."""
        body = self._body()
        length = 4 + len(body)
        if length > 255:
            raise BadOption(f"{self.NAME}: {length} bytes do not fit the 1-byte length field")
        t = self._type_code() | (OPT_END if last else 0)
        b2 = (self.f_bits & 0xFC) | (self.opx & 0x03)
        b3 = (OPT_U if self.u else 0) | (self._bits3() & 0x7F)
        return OPTION_HEADER.pack(t, length, b2, b3) + body


@dataclass(slots=True)
class UnknownOption(Option):
    """An option type this codec does not know (or OPT_INVALID, 0x7F), kept verbatim.

    Also used for OpenPGM's PGMCC options (0x12, 0x13), which RFC 3208 does not define.
    """

    NAME: ClassVar[str] = "OPT_UNKNOWN"
    LENGTH: ClassVar[int | None] = None

    type: int = OPT_INVALID
    """The 7-bit option type."""
    body: bytes = b""
    """Everything after the 4-byte option header."""
    bits3: int = 0
    """The 7 low bits of byte 3."""

    def network_significant(self, packet_type: int) -> bool:
        return False

    def _bits3(self) -> int:
        return self.bits3

    def _body(self) -> bytes:
        return self.body

    def _type_code(self) -> int:
        return self.type & 0x7F
