"""Unit tests (no network, no root) for the OpenPGM accommodation in pgm's source:
``SourceConfig.options_on_all_data`` (docs/interop.md, test_openpgm.py::test_duplicate_repair_*).

An OpenPGM 5.3 receiver that discards a packet carrying options parses later option-less packets
with that packet's stale OPT_FRAGMENT and drops them.  With the option on, every ODATA and RDATA
carries options — OPT_JOIN(OPT_JOIN_MIN = its own SQN) where it has no OPT_FRAGMENT — and an RFC
receiver (ours) still delivers every message whole.  Off (the default), nothing changes on the
wire.
"""

from __future__ import annotations

import random
from ipaddress import ip_address

from pgm import wire
from pgm.engine import DataReceived, Receiver, ReceiverConfig, Source, SourceConfig
from tests.helpers.world import make_world, messages

GROUP = "239.192.0.1"


def _source(on: bool) -> Source:
    cfg = SourceConfig(rate_bps=1_000_000_000, window_secs=30, options_on_all_data=on)
    return Source(
        cfg, group=GROUP, nla="10.0.0.1", rng=random.Random(1), sport=40000, gsi=b"abcdef"
    )


def _sent(s: Source, now: float) -> list[wire.Packet]:
    return [wire.parse(p) for p, _, _ in s.datagrams_to_send(now)]


def test_every_data_packet_carries_options_and_unfragmented_ones_opt_join() -> None:
    s = _source(True)
    assert s.max_tsdu == s.config.max_tsdu - 12  # OPT_LENGTH + OPT_JOIN
    s.send(b"", 0.0)
    s.send(b"x" * s.max_tsdu, 0.0)
    s.send(b"y" * (s.max_tsdu + 1), 0.0)  # no longer fits: two fragments
    data = [p for p in _sent(s, 0.0) if isinstance(p, wire.ODATA)]
    assert [len(p.data) for p in data[:2]] == [0, s.max_tsdu]
    for p in data[:2]:
        assert p.options == [wire.OptJoin(join_min=p.data_sqn)]
    for p in data[2:]:
        assert [type(o) for o in p.options] == [wire.OptFragment]
    assert len(data) == 4
    # the repair of an unfragmented packet carries it too
    nak = wire.NAK(
        source_port=7500,
        destination_port=40000,
        gsi=b"abcdef",
        nak_sqn=1,
        source_nla=ip_address("10.0.0.1"),
        group_nla=ip_address(GROUP),
    ).encode()
    s.receive(nak, ip_address("10.0.0.2"), 0.1)
    rdata = [p for p in _sent(s, 0.1) if isinstance(p, wire.RDATA)]
    assert [p.options for p in rdata] == [[wire.OptJoin(join_min=1)]]
    # and OPT_FIN joins it on the last data packet
    s.send(b"last", 0.2)
    s.close(0.2)
    last = [p for p in _sent(s, 0.2) if isinstance(p, wire.ODATA)]
    assert [type(o) for o in last[0].options] == [wire.OptJoin, wire.OptFin]


def test_default_sends_unfragmented_data_without_options() -> None:
    s = _source(False)
    assert s.max_tsdu == s.config.max_tsdu
    s.send(b"x" * s.max_tsdu, 0.0)
    (p,) = [p for p in _sent(s, 0.0) if isinstance(p, wire.ODATA)]
    assert p.options == []


def test_receiver_delivers_everything_with_options_on_all_data() -> None:
    cfg = SourceConfig(
        rate_bps=100_000_000, window_secs=30, linger_secs=30, options_on_all_data=True
    )
    w = make_world(2, seed=3, source_config=cfg)
    msgs = [b"", *messages(4, 200, max_size=5000)]
    w.send_all(msgs)
    w.run_until_ended()
    for i in range(2):
        assert [e.data for e in w.delivered(i)] == msgs
        assert not w.losses(i)


def test_checksums_of_packets_with_opt_join_verify() -> None:
    s = _source(True)
    for m in messages(5, 50, max_size=1400):
        s.send(m, 0.0)
    raw = [p for p, _, _ in s.datagrams_to_send(0.0)]
    rcv = Receiver(ReceiverConfig(), group=GROUP)
    for p in raw:
        wire.parse(p, verify=True)  # raises on a bad checksum
        rcv.receive(p, ip_address("10.0.0.1"), 0.0)
    got = []
    while (e := rcv.next_event()) is not None:
        if isinstance(e, DataReceived):
            got.append(e.data)
    assert len(got) == 50
