"""The folded checksum (issue 17) against the RFC 1071 reference, at every size class.

``pgm.wire.checksum`` folds the packet's integer at multiples of 16 bits with per-size-class
shift/mask plans before the final ``% 0xFFFF``; a raw IPv4 datagram is verified whole.  These
properties pin both to the straightforward RFC 1071 sum, including sizes past the plan cache.
"""

from __future__ import annotations

import importlib
import random
import struct

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgm import wire
from tests.wire.test_wire import rfc1071

ck = importlib.import_module("pgm.wire.checksum")


def ones_sum(data: bytes) -> int:
    """The one's complement sum as partial_sum reports it: 0 .. 0xFFFE (0xFFFF read as 0)."""
    return (~rfc1071(data) & 0xFFFF) % 0xFFFF


def ipv4(payload: bytes, *, options: bytes = b"") -> bytes:
    """An IPv4 header (protocol 113) with a correct header checksum, then ``payload``."""
    ihl = 5 + len(options) // 4
    hdr = (
        bytearray(
            struct.pack(
                ">BBHHHBBH4s4s",
                0x40 | ihl,
                0,
                20 + len(options) + len(payload),
                7,
                0,
                1,
                113,
                0,
                bytes([10, 0, 0, 1]),
                bytes([239, 192, 0, 1]),
            )
        )
        + options
    )
    struct.pack_into(">H", hdr, 10, rfc1071(bytes(hdr)))
    return bytes(hdr) + payload


@settings(max_examples=300)
@given(
    st.integers(min_value=0, max_value=10_000).flatmap(lambda n: st.binary(min_size=n, max_size=n))
)
@example(b"\xff" * 9216)
@example(b"\xff" * 9217)
@example(b"\xff\xff" * 4095 + b"\xfe")
def test_partial_sum_and_checksum_equal_rfc1071(data: bytes) -> None:
    assert wire.partial_sum(data) == ones_sum(data)
    ref = rfc1071(data)
    assert wire.checksum(data) == (ref or 0xFFFF)


@settings(max_examples=20)
@given(st.integers(min_value=9_000, max_value=65_535), st.integers(min_value=0))
def test_large_datagrams_past_the_plan_cache(n: int, seed: int) -> None:
    data = random.Random(seed).randbytes(n)
    assert wire.partial_sum(data) == ones_sum(data)


def test_every_size_class_boundary() -> None:
    pattern = bytes(range(256)) * 40
    for n in [*range(250, 300), *range(1400, 1530), *range(9150, 9300, 7)]:
        d = pattern[:n]
        assert wire.partial_sum(d) == ones_sum(d), n
        assert ck._mod(int.from_bytes(d, "big"), n) == int.from_bytes(d, "big") % 0xFFFF, n


def test_the_plan_cache_is_bounded() -> None:
    for n in range(0, 70_000, 97):
        ck.fold_plan(n)
    assert max(ck._PLANS) << 5 <= ck._PLAN_CACHE_BYTES
    assert max(ck._MASKS) <= ck._PLAN_CACHE_BYTES * 8


@given(st.binary(max_size=3000), st.sampled_from([b"", b"\x01\x01\x01\x00", b"\x94\x04\x00\x00"]))
def test_ipv4_datagram_verifies_whole_iff_its_pgm_packet_does(data: bytes, opts: bytes) -> None:
    pkt = wire.ODATA(source_port=1, destination_port=2, gsi=b"abcdef", data=data).encode()
    dgram = ipv4(pkt, options=opts)
    assert wire.verify_checksum(pkt)
    assert ck.verify_ipv4_datagram(dgram)
    hl = len(dgram) - len(pkt)
    for i in range(hl * 8, len(dgram) * 8, max(1, len(dgram) // 4)):
        bad = bytearray(dgram)
        bad[i // 8] ^= 1 << (i % 8)
        assert not ck.verify_ipv4_datagram(bad)
        assert not wire.verify_checksum(bytes(bad[hl:]))
