"""Sequence-number arithmetic on the 32-bit circle (RFC 3208 §3: "sequence numbers ... are
compared using serial number arithmetic"; OpenPGM ``pgm_uint32_lt``).

``a`` precedes ``b`` when ``(a - b) mod 2**32`` has bit 31 set.  Two numbers exactly half the
circle apart compare as "a < b" in both directions' negation, as in OpenPGM; windows are kept
below 2**31 - 1 sequence numbers so that case never arises in practice.
"""

from __future__ import annotations

__all__ = [
    "SQN_HALF",
    "SQN_MASK",
    "SQN_MODULUS",
    "sqn_add",
    "sqn_distance",
    "sqn_ge",
    "sqn_gt",
    "sqn_le",
    "sqn_lt",
    "sqn_max",
    "sqn_min",
    "sqn_unwrap",
]

SQN_MODULUS = 1 << 32
SQN_MASK = SQN_MODULUS - 1
SQN_HALF = 1 << 31


def sqn_lt(a: int, b: int) -> bool:
    """``a`` comes strictly before ``b`` on the circle."""
    return ((a - b) & SQN_MASK) >= SQN_HALF


def sqn_le(a: int, b: int) -> bool:
    """``a`` equals ``b`` or comes before it."""
    return a == b or ((a - b) & SQN_MASK) >= SQN_HALF


def sqn_gt(a: int, b: int) -> bool:
    """``a`` comes strictly after ``b``."""
    return ((b - a) & SQN_MASK) >= SQN_HALF


def sqn_ge(a: int, b: int) -> bool:
    """``a`` equals ``b`` or comes after it."""
    return a == b or ((b - a) & SQN_MASK) >= SQN_HALF


def sqn_distance(a: int, b: int) -> int:
    """Steps forward from ``a`` to ``b``: ``(b - a) mod 2**32`` (0 … 2**32 - 1)."""
    return (b - a) & SQN_MASK


def sqn_add(a: int, n: int) -> int:
    """``a + n`` on the circle (``n`` may be negative)."""
    return (a + n) & SQN_MASK


def sqn_max(a: int, b: int) -> int:
    """The later of two sequence numbers."""
    return b if sqn_lt(a, b) else a


def sqn_min(a: int, b: int) -> int:
    """The earlier of two sequence numbers."""
    return a if sqn_lt(a, b) else b


def sqn_unwrap(s32: int, ref: int) -> int:
    """The unbounded sequence number nearest ``ref`` whose low 32 bits are ``s32``.

    ``ref`` is an unbounded (64-bit style, never wrapping) counter such as a window's leading
    edge; it may be negative (an empty window before sequence number 0 has lead -1).  The result
    lies in ``ref - 2**31 … ref + 2**31 - 1`` (RFC 3208 §3 serial-number arithmetic), so
    ``sqn_unwrap(s, ref) & SQN_MASK == s`` for every wire number ``s``.
    """
    d = (s32 - ref) & SQN_MASK
    return ref + (d - SQN_MODULUS if d >= SQN_HALF else d)
