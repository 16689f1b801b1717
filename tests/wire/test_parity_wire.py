"""FEC wire arithmetic (pgm.wire.parity): TG numbering, parity NAK SQNs, VAR_PKTLEN padding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgm import wire
from pgm.wire import parity

u32 = st.integers(0, 0xFFFFFFFF)
tgss = st.sampled_from([2, 4, 8, 16, 64, 128])


def test_transmission_groups() -> None:
    assert parity.tg_sqn(13, 8) == 8 and parity.tg_index(13, 8) == 5
    assert parity.tg_sqn(0xFFFFFFFF, 16) == 0xFFFFFFF0
    assert parity.parity_packet_sqn(8, 3, 8) == (11, None)
    assert parity.parity_packet_sqn(8, 9, 8) == (9, 1)  # OPT_PARITY_GRP from j = k on
    assert parity.parity_nak_sqn(16, 3, 8) == 18
    assert parity.split_parity_nak(18, 8) == (16, 3)
    with pytest.raises(ValueError):
        parity.tg_sqn(1, 6)
    with pytest.raises(ValueError):
        parity.parity_nak_sqn(16, 0, 8)


@given(sqn=u32, tgs=tgss, count=st.integers(1, 128))
def test_parity_nak_round_trip(sqn: int, tgs: int, count: int) -> None:
    count = min(count, tgs)
    tg = parity.tg_sqn(sqn, tgs)
    assert parity.split_parity_nak(parity.parity_nak_sqn(tg, count, tgs), tgs) == (tg, count)


@given(data=st.binary(max_size=300), extra=st.integers(0, 50), big=st.booleans())
def test_var_pktlen_round_trip(data: bytes, extra: int, big: bool) -> None:
    order = "big" if big else "little"
    block = parity.var_pktlen_pad(data, len(data) + extra, byteorder=order)
    assert len(block) == len(data) + extra + 2
    assert parity.var_pktlen_unpad(block, byteorder=order) == data


def test_var_pktlen_is_host_order_like_openpgm_by_default() -> None:
    assert parity.var_pktlen_pad(b"ab", 4) == b"ab\0\0\x02\x00"
    with pytest.raises(wire.BadLength):
        parity.var_pktlen_unpad(b"ab\x09\x00")
    with pytest.raises(ValueError):
        parity.var_pktlen_pad(b"abc", 2)
