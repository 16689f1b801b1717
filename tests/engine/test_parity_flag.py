"""A data packet with the PARITY flag is FEC repair, never data (RFC 3208 §9).

From a session whose SPM advertised no FEC (docs/fec.md) the receiver counts such packets and
drops them: they are never delivered and never fill a gap; the real repair of the gap still
does.
"""

from __future__ import annotations

import random
from ipaddress import ip_address

import pytest

from pgm import wire
from pgm.engine import DataReceived, Receiver, ReceiverConfig, UnrecoverableLoss

GROUP = ip_address("239.192.0.1")
SRC = ip_address("10.0.0.1")
GSI = b"abcdef"
SPORT = 1000
TSI = wire.TSI(GSI, SPORT)


def _spm() -> bytes:
    return wire.SPM(
        source_port=SPORT,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=0,
        spm_trail=0,
        spm_lead=0xFFFFFFFF,
        path_nla=SRC,
    ).encode()


def _data(kind: type[wire.DataPacket], sqn: int, data: bytes, parity: bool = False) -> bytes:
    return kind(
        source_port=SPORT,
        destination_port=7500,
        gsi=GSI,
        data_sqn=sqn,
        data_trail=0,
        data=data,
        parity=parity,
    ).encode()


def test_decode_data_returns_the_flags() -> None:
    pkt = _data(wire.RDATA, 1, b"\x9a\x17parity", parity=True)
    tbyte, flags, sqn, trail, opts, tsdu = wire.decode_data(pkt)
    assert tbyte == wire.TYPE_RDATA and flags & wire.FLAG_PARITY
    assert (sqn, trail, opts, tsdu) == (1, 0, [], b"\x9a\x17parity")
    assert not wire.decode_data(_data(wire.ODATA, 1, b"x"))[1] & wire.FLAG_PARITY


def _events(r: Receiver) -> list[object]:
    return list(r.take_events())


@pytest.mark.parametrize("batch", [False, True], ids=["receive", "receive_many"])
def test_parity_rdata_is_counted_not_delivered_and_the_real_rdata_repairs(batch: bool) -> None:
    r = Receiver(ReceiverConfig(), group=GROUP, rng=random.Random(1))

    def feed(pkt: bytes, now: float) -> None:
        if batch:
            r.receive_many([(pkt, SRC, GROUP)], now)
        else:
            r.receive(pkt, SRC, now, GROUP)

    feed(_spm(), 0.0)
    feed(_data(wire.ODATA, 0, b"zero"), 0.001)
    # ODATA 1 is lost; OpenPGM's parity format arrives as RDATA 1 with the PARITY flag.
    feed(_data(wire.RDATA, 1, b"\x9a\x17parity", parity=True), 0.002)
    feed(_data(wire.ODATA, 2, b"two"), 0.003)
    got = [e for e in _events(r) if isinstance(e, DataReceived)]
    assert [(e.sqn, e.data) for e in got] == [(0, b"zero")]
    s = r.sessions[TSI]
    assert s.stats.parity_packets_ignored == 1 and r.stats.parity_packets_ignored == 1
    assert [q & 0xFFFFFFFF for q in s.naks] == [1]  # the gap is still open
    # A parity packet in order (next expected SQN, nothing held) is not data either.
    feed(_data(wire.ODATA, 1, b"\x9a\x17parity", parity=True), 0.004)
    assert not [e for e in _events(r) if isinstance(e, DataReceived)]
    assert s.stats.parity_packets_ignored == 2
    feed(_data(wire.RDATA, 1, b"one"), 0.005)
    evs = _events(r)
    assert [(e.sqn, e.data) for e in evs if isinstance(e, DataReceived)] == [
        (1, b"one"),
        (2, b"two"),
    ]
    assert not [e for e in evs if isinstance(e, UnrecoverableLoss)]
    assert s.stats.rdata_packets_received == 1 and s.stats.odata_packets_received == 2


def test_parity_packet_of_an_unknown_session_starts_nothing() -> None:
    r = Receiver(ReceiverConfig(), group=GROUP, rng=random.Random(1))
    r.receive(_data(wire.ODATA, 5, b"p", parity=True), SRC, 0.0, GROUP)
    assert not r.sessions and not _events(r)
    assert r.stats.parity_packets_ignored == 1


def test_in_order_parity_packet_is_dropped_on_the_fast_path() -> None:
    r = Receiver(ReceiverConfig(), group=GROUP, rng=random.Random(1))
    r.receive_many(
        [
            (_spm(), SRC, GROUP),
            (_data(wire.ODATA, 0, b"zero"), SRC, GROUP),
            (_data(wire.ODATA, 1, b"p", parity=True), SRC, GROUP),
            (_data(wire.ODATA, 1, b"one"), SRC, GROUP),
        ],
        0.0,
    )
    got = [e for e in _events(r) if isinstance(e, DataReceived)]
    assert [(e.sqn, e.data) for e in got] == [(0, b"zero"), (1, b"one")]
