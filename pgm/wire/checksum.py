"""The PGM checksum (RFC 3208 §8): the 16-bit one's complement of the one's complement sum of the
whole PGM packet (header, body, options, payload) with the checksum field zeroed.  Unlike UDP
there is no pseudo-header.  A computed 0 is transmitted as 0xFFFF; a received 0 means "no
checksum".

Speed: the one's complement sum of 16-bit big-endian words is congruent, modulo 0xFFFF, to the
whole packet read as one big-endian integer (2**16 ≡ 1 mod 0xFFFF), so CPython's big-integer
``%`` does the folding in C.  Before it, the integer is folded at multiples of 16 bits (``v >> k
+ (v & mask)`` keeps ``v mod 0xFFFF``, and a nonzero ``v`` nonzero): each fold halves it and is
cheaper than the division's digit loop.  The shifts and masks for a size (:func:`fold_plan`,
by 32-byte class) are computed once and kept for sizes up to a jumbo frame; four folds take a
1424-byte packet from 11392 bits to about 720 before the ``%``.

A raw IPv4 datagram can be verified whole (:func:`verify_ipv4_datagram`): its header (a
multiple of 4 bytes long, so the PGM packet starts at an even offset) sums to zero when its
own checksum is right, which the kernel has checked; no slice of the PGM packet is needed.
The raw receive path does not use it: the engine needs the PGM packet as its own bytes anyway,
so it would save only that slice (measured: within the noise, docs/performance.md).
"""

from __future__ import annotations

__all__ = [
    "checksum",
    "checksum_add",
    "fold_plan",
    "partial_sum",
    "verify_checksum",
    "verify_ipv4_datagram",
]

_M = 0xFFFF
_from_bytes = int.from_bytes
_MASKS: dict[int, int] = {}
_PLANS: dict[int, tuple[tuple[int, int], ...]] = {}
_PLAN_CACHE_BYTES = 9216
"""Plans are kept for datagrams up to this size (a jumbo frame): the cache stays under 1 MB."""
_FOLD_DOWN_TO = 768
"""Fold until the integer has at most this many bits, then ``%``."""


def fold_plan(nbytes: int) -> tuple[tuple[int, int], ...]:
    """The ``(shift, mask)`` folds for an integer of ``nbytes`` bytes (plus one pad byte), by
    32-byte size class: any shift that is a multiple of 16 keeps the value mod 0xFFFF, so a
    class's plan (made for its largest size) serves all its sizes."""
    key = nbytes >> 5
    plan = _PLANS.get(key)
    if plan is None:
        plan = _make_plan(key)
    return plan


def _make_plan(key: int) -> tuple[tuple[int, int], ...]:
    bits = ((key + 1) << 8) + 8  # the class's largest size, in bits, with the odd-length pad
    steps = []
    while bits > _FOLD_DOWN_TO:
        k = ((bits >> 1) + 15) & ~15
        steps.append((k, _MASKS.get(k) or _mask(k)))
        bits = max(k, bits - k) + 1
    plan = tuple(steps)
    if key << 5 <= _PLAN_CACHE_BYTES:
        _PLANS[key] = plan
    return plan


def _mod(v: int, nbytes: int) -> int:
    """``v % 0xFFFF`` for the integer value of ``nbytes`` bytes, folded first (see above)."""
    if nbytes >= 256:
        for k, m in _PLANS.get(nbytes >> 5) or fold_plan(nbytes):
            v = (v >> k) + (v & m)
    return v % _M


def _mask(k: int) -> int:
    m = (1 << k) - 1
    if k <= _PLAN_CACHE_BYTES * 8:
        _MASKS[k] = m
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


def verify_ipv4_datagram(datagram: bytes | bytearray | memoryview) -> bool:
    """True if the PGM packet in a raw IPv4 ``datagram`` (IP header included, as a raw socket
    returns it) verifies, summing the whole datagram at once: a correct IPv4 header sums to
    zero, so the total is the PGM packet's sum.  Use it only on headers the kernel checked; on
    False, :func:`verify_checksum` of the PGM packet alone tells a bad packet from a header the
    sum cannot vouch for (both then fail or pass together for every kernel-checked header)."""
    n = len(datagram)
    v = _from_bytes(datagram, "big")
    if n & 1:
        v <<= 8
    return _mod(v, n + 1) == 0
