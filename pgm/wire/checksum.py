"""The PGM checksum (RFC 3208 §8): the 16-bit one's complement of the one's complement sum of the
whole PGM packet (header, body, options, payload) with the checksum field zeroed.  Unlike UDP
there is no pseudo-header.  A computed 0 is transmitted as 0xFFFF; a received 0 means "no
checksum".

Speed: the one's complement sum of 16-bit big-endian words is congruent, modulo 0xFFFF, to the
whole packet read as one big-endian integer (2**16 ≡ 1 mod 0xFFFF), so CPython's big-integer
``%`` does the folding in C, about 1 µs per 1400 bytes instead of a Python loop.
"""

from __future__ import annotations

__all__ = ["checksum", "checksum_add", "partial_sum", "verify_checksum"]

_M = 0xFFFF
_from_bytes = int.from_bytes
_MASKS: dict[int, int] = {}


def _mod(v: int, nbytes: int) -> int:
    """``v % 0xFFFF`` for the integer value of ``nbytes`` bytes, faster for long packets.

    CPython divides a big integer digit by digit; halving it twice first by folding at
    multiples of 16 bits (2**(16k) ≡ 1 mod 0xFFFF) is cheaper (≈1.4 µs instead of ≈1.9 µs for
    1424 bytes).
    """
    if nbytes < 256:
        return v % _M
    k = (nbytes << 2) & ~15
    m = _MASKS.get(k) or _mask(k)
    v = (v >> k) + (v & m)
    k = (k >> 1) & ~15
    m = _MASKS.get(k) or _mask(k)
    return ((v >> k) + (v & m)) % _M


def _mask(k: int) -> int:
    m = _MASKS[k] = (1 << k) - 1
    return m


def partial_sum(data: bytes | bytearray | memoryview) -> int:
    """One's complement sum (mod 0xFFFF, 0 … 0xFFFE) of ``data`` taken at an even offset.

    An odd-length buffer is padded with one zero byte, as RFC 1071 says.  Sums of pieces that
    start at even offsets add up (:func:`checksum_add`): the engine keeps a payload's partial
    sum and re-checksums an RDATA by summing only its new header.
    """
    n = len(data)
    v = _from_bytes(data, "big")
    if n & 1:
        v <<= 8
    return _mod(v, n)


def checksum_add(a: int, b: int) -> int:
    """Combine two partial sums of pieces that each start at an even offset."""
    return (a + b) % _M


def checksum(data: bytes | bytearray | memoryview, *, pre: int = 0) -> int:
    """The value to write into the checksum field, for ``data`` with that field zeroed.

    ``pre`` is a partial sum (:func:`partial_sum`) of further even-aligned bytes that belong to
    the same packet.  The result is never 0: a computed 0 is sent as 0xFFFF (RFC 3208 §8).
    """
    n = len(data)
    s = _mod(_from_bytes(data, "big") << (8 if n & 1 else 0), n + 1)
    s = (s + pre) % _M
    # s == 0 here means the true one's complement sum was 0xFFFF ("negative zero") or all bytes
    # were zero; either way the complement is 0, which is sent as 0xFFFF.
    return _M - s if s else _M


def verify_checksum(data: bytes | bytearray | memoryview) -> bool:
    """True if ``data`` (a whole PGM packet, checksum field included) sums to one's complement
    zero.  A zero checksum field ("none") is the caller's business; this only does the sum."""
    n = len(data)
    v = _from_bytes(data, "big")
    if n & 1:
        v <<= 8
    return v != 0 and _mod(v, n + 1) == 0
