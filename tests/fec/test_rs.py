"""The Reed–Solomon code (pgm.fec): published vectors, any-k-of-n decoding, argument checks.

The vectors are OpenPGM's (``reed_solomon.c``, Luigi Rizzo's construction; docs/fec.md):
generator rows k..k+2 for k = 4, row k for k = 8, and the parity of the four 8-byte packets
"ringo000", "ichigo00", "momo0000", "yakitori".
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgm.fec import DECODE_CACHE_SIZE, FecError, ReedSolomon
from pgm.fec.rs import _decode_plan

RINGO = [b"ringo000", b"ichigo00", b"momo0000", b"yakitori"]
group_sizes = st.sampled_from([2, 4, 8, 16, 32, 64, 128])


def test_generator_rows_k4() -> None:
    rs = ReedSolomon(4)
    assert rs.coefficients(0) == (119, 64, 56, 14)
    assert rs.coefficients(1) == (199, 167, 13, 108)
    assert rs.coefficients(2) == (83, 2, 111, 63)


def test_generator_row_k8() -> None:
    assert ReedSolomon(8).coefficients(0) == (137, 24, 208, 125, 146, 164, 245, 254)


def test_ringo_vector() -> None:
    rs = ReedSolomon(4)
    assert rs.encode(RINGO, 0) == bytes.fromhex("4c338d49a3738b09")
    assert rs.encode(RINGO, 1) == bytes.fromhex("1d024d99bff1ea97")
    assert rs.encode_many(RINGO, [1, 0]) == [rs.encode(RINGO, 1), rs.encode(RINGO, 0)]
    assert rs.encode_many(RINGO, []) == []
    p0, p1 = rs.encode_many(RINGO, [0, 1])
    assert rs.decode({4: p0, 1: RINGO[1], 5: p1, 3: RINGO[3]}, 8) == RINGO
    assert rs.decode({0: RINGO[0], 1: RINGO[1], 2: RINGO[2], 5: p1}, 8) == RINGO


def test_rows_do_not_depend_on_n() -> None:
    data = [bytes([i]) * 5 for i in range(8)]
    assert ReedSolomon(8, 10).encode(data, 1) == ReedSolomon(8).encode(data, 1)


def test_parity_is_linear_in_each_packet() -> None:
    """P_h = XOR_c row[c]·D_c: a single non-zero byte in packet c gives row[c] times it."""
    rs = ReedSolomon(16)
    for h in (0, 7, 238):
        row = rs.coefficients(h)
        for c in range(16):
            data = [bytes(3)] * 16
            data[c] = b"\x01\x00\x00"
            assert rs.encode(data, h) == bytes([row[c], 0, 0])


@settings(max_examples=150, deadline=None)
@given(k=group_sizes, extra=st.integers(1, 254), length=st.integers(0, 64), seed=st.randoms())
def test_any_k_of_n_decode(k: int, extra: int, length: int, seed: random.Random) -> None:
    n = min(255, k + extra)
    rs = ReedSolomon(k, n)
    data = [seed.randbytes(length) for _ in range(k)]
    chosen = sorted(seed.sample(range(n), k))
    hs = [r - k for r in chosen if r >= k]
    parity = dict(zip(hs, rs.encode_many(data, hs), strict=True))
    received = {r: data[r] if r < k else parity[r - k] for r in chosen}
    assert rs.decode(received, length) == data


@settings(max_examples=60, deadline=None)
@given(k=st.sampled_from([2, 4, 8, 16]), length=st.integers(1, 1500), seed=st.randoms())
def test_decode_with_spare_packets(k: int, length: int, seed: random.Random) -> None:
    """More than k packets received: any k of them are used, the result is exact."""
    rs = ReedSolomon(k, 2 * k + 1)
    data = [seed.randbytes(length) for _ in range(k)]
    parity = rs.encode_many(data, range(k + 1))
    every = {i: data[i] for i in range(k)} | {k + h: p for h, p in enumerate(parity)}
    lost = seed.sample(range(2 * k + 1), seed.randint(0, k + 1))
    received = {i: p for i, p in every.items() if i not in lost}
    assert rs.decode(received, length) == data


def test_systematic_decode_returns_data() -> None:
    rs = ReedSolomon(2, 3)
    assert rs.decode({1: b"b", 0: bytearray(b"a"), 2: b"?"}, 1) == [b"a", b"b"]
    assert rs.decode({0: b"", 1: b""}, 0) == [b"", b""]


def test_bytes_like_inputs() -> None:
    rs = ReedSolomon(4)
    views = [memoryview(p) for p in RINGO]
    assert rs.encode(views, 0) == rs.encode(RINGO, 0)
    parity = rs.encode(RINGO, 0)
    assert rs.decode({0: views[0], 1: views[1], 2: bytearray(RINGO[2]), 4: parity}, 8) == RINGO


def test_decode_cache_is_bounded() -> None:
    assert _decode_plan.cache_info().maxsize == DECODE_CACHE_SIZE
    rs = ReedSolomon(8)
    data = [bytes([i]) for i in range(8)]
    for h in range(DECODE_CACHE_SIZE + 10):
        received = {i: data[i] for i in range(1, 8)} | {8 + h % 247: rs.encode(data, h % 247)}
        assert rs.decode(received, 1) == data
    assert _decode_plan.cache_info().currsize <= DECODE_CACHE_SIZE


@pytest.mark.parametrize(
    ("k", "n"),
    [
        (0, 255),
        (1, 255),
        (3, 255),
        (6, 255),
        (256, 255),
        (True, 255),
        (2.0, 255),
        ("4", 255),
        (4, 4),
        (4, 3),
        (4, 256),
        (128, 128),
        (4, True),
        (4, 8.0),
    ],
)
def test_bad_parameters(k: object, n: object) -> None:
    with pytest.raises(ValueError):
        ReedSolomon(k, n)  # type: ignore[arg-type]


def test_limits_accepted() -> None:
    assert ReedSolomon(2, 3).n == 3 and ReedSolomon(128).k == 128
    assert ReedSolomon(128, 255).coefficients(126)
    assert repr(ReedSolomon(8, 12)) == "ReedSolomon(k=8, n=12)"


def test_bad_encode_arguments() -> None:
    rs = ReedSolomon(4, 7)
    for h in (-1, 3, True, 1.0):
        with pytest.raises(ValueError, match="parity index"):
            rs.encode(RINGO, h)  # type: ignore[arg-type]
    with pytest.raises(FecError, match="k = 4"):
        rs.encode(RINGO[:3], 0)
    with pytest.raises(FecError, match="bytes"):
        rs.encode([*RINGO[:3], b"short"], 0)
    with pytest.raises(ValueError):
        rs.encode_many(RINGO, [0, 3])


def test_bad_decode_arguments() -> None:
    rs = ReedSolomon(4, 7)
    parity = rs.encode(RINGO, 0)
    with pytest.raises(FecError, match="4 needed"):
        rs.decode({0: RINGO[0], 1: RINGO[1], 4: parity}, 8)
    with pytest.raises(FecError, match="expected 8"):
        rs.decode({0: RINGO[0], 1: RINGO[1], 2: b"short", 4: parity}, 8)
    for index in (-1, 7, "x", None, 4.0):
        with pytest.raises(FecError, match="outside"):
            rs.decode({0: RINGO[0], 1: RINGO[1], 2: RINGO[2], index: parity}, 8)  # type: ignore[dict-item]
    with pytest.raises(FecError, match="length"):
        rs.decode({0: RINGO[0], 1: RINGO[1], 2: RINGO[2], 3: RINGO[3]}, -1)
    assert issubclass(FecError, ValueError)
