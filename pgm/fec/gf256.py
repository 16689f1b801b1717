"""Arithmetic in GF(2^8) with the primitive polynomial 0x11D (RFC 3208 Appendix A; docs/fec.md).

Theory of operation
-------------------
The field has 256 elements, the bytes.  Addition is XOR.  Multiplication goes through
logarithms: the generator 2 (``α``) has order 255 under the polynomial
x^8 + x^4 + x^3 + x^2 + 1 (0x11D), so every non-zero byte is ``α^i`` for one ``i`` in 0..254;
:data:`EXP` lists ``α^i`` (doubled to 510 entries so ``EXP[LOG[a] + LOG[b]]`` needs no reduction)
and :data:`LOG` the inverse map.

Whole packets are multiplied by a constant without a Python loop: :data:`MUL` holds, for each
constant ``c``, a 256-byte translation table ``x -> c·x``, so ``packet.translate(MUL[c])`` is the
product of every byte of the packet with ``c``, at memory speed; :mod:`pgm.fec.rs` adds packets
by XOR of their ``int.from_bytes`` values.  The code's coefficients use the scalar :func:`mul`,
:func:`div`, :func:`inv` and :func:`power`.
"""

from __future__ import annotations

__all__ = ["EXP", "LOG", "MUL", "POLYNOMIAL", "div", "inv", "mul", "power"]

#: x^8 + x^4 + x^3 + x^2 + 1, the polynomial of Luigi Rizzo's ``fec.c`` and OpenPGM.
POLYNOMIAL = 0x11D


def _tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    exp = [0] * 510
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= POLYNOMIAL
    for i in range(255, 510):
        exp[i] = exp[i - 255]
    return tuple(exp), tuple(log)


#: ``EXP[i] = α^i`` for 0 <= i < 510 (the second half repeats the first).
#: ``LOG[a]`` for a != 0 is the ``i`` with ``α^i = a`` (``LOG[0]`` is meaningless, 0).
EXP, LOG = _tables()


def mul(a: int, b: int) -> int:
    """The product ``a·b`` of two field elements."""
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def inv(a: int) -> int:
    """The multiplicative inverse of a non-zero element (ZeroDivisionError for 0)."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    return EXP[255 - LOG[a]]


def div(a: int, b: int) -> int:
    """``a / b`` (ZeroDivisionError for ``b == 0``)."""
    if b == 0:
        raise ZeroDivisionError("division by 0 in GF(2^8)")
    if a == 0:
        return 0
    return EXP[LOG[a] + 255 - LOG[b]]


def power(a: int, e: int) -> int:
    """``a^e`` for ``e >= 0`` (with ``0^0 = 1``, as in a Vandermonde matrix)."""
    if e == 0:
        return 1
    if a == 0:
        return 0
    return EXP[(LOG[a] * e) % 255]


def _mul_tables() -> tuple[bytes, ...]:
    # MUL[c][x] = EXP[LOG[c] + LOG[x]] (0 for x = 0): the logarithms of 1..255 translated
    # through a slice of EXP, in C (a loop over every pair would cost ~10 ms at each import).
    exp = bytes(EXP)
    logs = bytes(LOG[1:])
    tables = [bytes(256)]
    for c in range(1, 256):
        lc = LOG[c]
        tables.append(b"\0" + logs.translate(exp[lc : lc + 256]))
    return tuple(tables)


#: ``MUL[c]`` is the ``bytes.translate`` table of multiplication by ``c``.
MUL = _mul_tables()
