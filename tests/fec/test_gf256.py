"""GF(2^8) with polynomial 0x11D (pgm.fec.gf256) against a bit-by-bit reference multiply."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgm.fec import gf256

byte = st.integers(0, 255)
nonzero = st.integers(1, 255)


def slow_mul(a: int, b: int) -> int:
    """Carry-less multiply, reduced modulo x^8 + x^4 + x^3 + x^2 + 1."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
    return product


def test_tables() -> None:
    assert gf256.POLYNOMIAL == 0x11D
    assert len(gf256.EXP) == 510 and len(gf256.LOG) == 256
    assert sorted(gf256.EXP[:255]) == list(range(1, 256))  # 2 generates the field
    assert gf256.EXP[:8] == (1, 2, 4, 8, 16, 32, 64, 128) and gf256.EXP[8] == 0x1D
    for a in range(1, 256):
        assert gf256.EXP[gf256.LOG[a]] == a
    assert gf256.EXP[255:] == gf256.EXP[:255]
    assert len(gf256.MUL) == 256 and all(len(t) == 256 for t in gf256.MUL)
    assert gf256.MUL[0] == bytes(256) and gf256.MUL[1] == bytes(range(256))


def test_mul_tables_match_reference() -> None:
    for c in range(256):
        assert gf256.MUL[c] == bytes(slow_mul(c, x) for x in range(256))


@given(byte, byte, byte)
def test_field_laws(a: int, b: int, c: int) -> None:
    assert gf256.mul(a, b) == slow_mul(a, b) == gf256.mul(b, a)
    assert gf256.mul(a, gf256.mul(b, c)) == gf256.mul(gf256.mul(a, b), c)
    assert gf256.mul(a, b ^ c) == gf256.mul(a, b) ^ gf256.mul(a, c)
    assert bytes([a]).translate(gf256.MUL[b]) == bytes([gf256.mul(a, b)])


@given(byte, nonzero, st.integers(0, 600))
def test_inverse_division_power(a: int, b: int, e: int) -> None:
    assert gf256.mul(b, gf256.inv(b)) == 1
    assert gf256.mul(gf256.div(a, b), b) == a
    expected = 1
    for _ in range(e):
        expected = slow_mul(expected, a)
    assert gf256.power(a, e) == expected


def test_zero_has_no_inverse() -> None:
    with pytest.raises(ZeroDivisionError):
        gf256.inv(0)
    with pytest.raises(ZeroDivisionError):
        gf256.div(5, 0)
    assert gf256.power(0, 0) == 1 and gf256.power(0, 3) == 0
