"""Wire arithmetic of PGM's forward error correction (RFC 3208 Appendix A; docs/protocol.md §13).

Theory of operation
-------------------
FEC groups data in *transmission groups* (TG) of ``tgs = k = 2**m`` consecutive sequence
numbers; a TG is named by its first SQN (the low ``m`` bits cleared).  From a TG's k packets the
source makes parity packets j = 0, 1, …; parity packet j carries SQN ``tg | (j mod k)`` and,
from j = k on, OPT_PARITY_GRP ``j div k``.  A *parity NAK* (header flag PARITY) asks for
``count`` parity packets of a TG with SQN ``tg | (count - 1)``.

When a TG's payloads differ in length they are zero-padded to the longest and each is followed
by its length in 2 bytes before encoding; parity packets then carry VAR_PKTLEN.  OpenPGM writes
that length in host byte order (little-endian on x86), so ``byteorder`` defaults to "little".

These are pure functions on 32-bit wire numbers; the header flags are
:data:`~pgm.wire.FLAG_PARITY` / :data:`~pgm.wire.FLAG_VAR_PKTLEN` and the options
:class:`~pgm.wire.OptParityGrp` / :class:`~pgm.wire.OptCurrTgsize`
(:func:`~pgm.wire.data_options` encodes them).
"""

from __future__ import annotations

from typing import Literal

from .errors import BadLength
from .sqn import SQN_MASK

__all__ = [
    "parity_nak_sqn",
    "parity_packet_sqn",
    "split_parity_nak",
    "tg_index",
    "tg_sqn",
    "var_pktlen_pad",
    "var_pktlen_unpad",
]

_LEN_BYTES = 2


def _check_tgs(tgs: int) -> None:
    if tgs < 2 or tgs & (tgs - 1):
        raise ValueError(f"transmission group size must be a power of two >= 2, not {tgs}")


def tg_sqn(sqn: int, tgs: int) -> int:
    """The transmission group (its first SQN) that wire number ``sqn`` belongs to."""
    _check_tgs(tgs)
    return sqn & ~(tgs - 1) & SQN_MASK


def tg_index(sqn: int, tgs: int) -> int:
    """Position of ``sqn`` within its transmission group (0 … tgs - 1)."""
    _check_tgs(tgs)
    return sqn & (tgs - 1)


def parity_packet_sqn(tg: int, j: int, tgs: int) -> tuple[int, int | None]:
    """``(SQN, OPT_PARITY_GRP or None)`` of parity packet ``j`` of group ``tg``."""
    _check_tgs(tgs)
    if j < 0:
        raise ValueError("parity packet index must be >= 0")
    return (tg | (j % tgs)) & SQN_MASK, (j // tgs if j >= tgs else None)


def parity_nak_sqn(tg: int, count: int, tgs: int) -> int:
    """SQN of a parity NAK asking for ``count`` (1 … tgs) parity packets of group ``tg``."""
    _check_tgs(tgs)
    if not 1 <= count <= tgs:
        raise ValueError(f"a parity NAK asks for 1..{tgs} packets, not {count}")
    return (tg_sqn(tg, tgs) | (count - 1)) & SQN_MASK


def split_parity_nak(sqn: int, tgs: int) -> tuple[int, int]:
    """``(tg, count)`` requested by a parity NAK (or NCF) with SQN ``sqn``."""
    return tg_sqn(sqn, tgs), tg_index(sqn, tgs) + 1


def var_pktlen_pad(
    tsdu: bytes, size: int, *, byteorder: Literal["little", "big"] = "little"
) -> bytes:
    """``tsdu`` zero-padded to ``size`` bytes, then its length in 2 bytes (VAR_PKTLEN)."""
    n = len(tsdu)
    if n > size or n > 0xFFFF:
        raise ValueError(f"TSDU of {n} bytes does not fit {size}")
    return tsdu + bytes(size - n) + n.to_bytes(_LEN_BYTES, byteorder)


def var_pktlen_unpad(block: bytes, *, byteorder: Literal["little", "big"] = "little") -> bytes:
    """The TSDU inside a VAR_PKTLEN block (inverse of :func:`var_pktlen_pad`).

    Raises :class:`~pgm.wire.BadLength` when the trailing length does not fit the block.
    """
    if len(block) < _LEN_BYTES:
        raise BadLength(f"VAR_PKTLEN block of {len(block)} bytes has no length field")
    n = int.from_bytes(block[-_LEN_BYTES:], byteorder)
    if n > len(block) - _LEN_BYTES:
        raise BadLength(f"VAR_PKTLEN length {n} exceeds the {len(block) - 2}-byte block")
    return bytes(block[:n])
