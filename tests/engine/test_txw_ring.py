"""The source's transmit window as a ring of slots, and the batched ODATA path (issue 17).

In memory, on virtual time: slots are reused (the ring stays bounded however long the session
runs), the ring grows only when queue and window outgrow it and keeps every TPDU intact, a
repair long after its slot's neighbours were reused carries the right payload, the token bucket
debited once per batch keeps the configured rate exactly, and ``Source.send_many`` takes what
the send buffer allows.
"""

from __future__ import annotations

import random
from ipaddress import ip_address

import pytest

from pgm import wire
from pgm.engine import Source, SourceConfig, TokenBucket, WouldBlock
from pgm.engine.source.txw import TransmitWindow

GROUP = ip_address("239.192.0.1")
NLA = ip_address("10.0.0.1")
RCV = ip_address("10.0.0.2")


def _source(**kw: object) -> Source:
    return Source(SourceConfig(**kw), group=GROUP, nla=NLA, rng=random.Random(7))  # type: ignore[arg-type]


def _odata(out: list[tuple[bytes, object, object]]) -> list[wire.ODATA]:
    pkts = [wire.parse(p) for p, _d, _t in out]
    return [p for p in pkts if isinstance(p, wire.ODATA)]


def test_ring_reuses_its_slots() -> None:
    w = TransmitWindow(0, capacity=10 * 100, window_secs=1.0, advance_step=0.1, slots=64)
    now = 0.0
    for k in range(5000):
        data = b"%0100d" % k
        sqn = w.push(data, wire.partial_sum(data))
        while w.nbytes + 100 > w.capacity:
            now += 0.1
            w.advance(now)
        w.sent[sqn & w.mask] = now
        w.lead = sqn
        w.added(100, now)
        assert w.lead - w.trail + 1 <= 10
    assert w.mask + 1 == 64  # never grew: slots were reused
    # Released slots no longer hold their payload.
    held = {s & w.mask for s in range(w.trail, w.lead + 1)}
    assert all(w.data[i] is None for i in range(w.mask + 1) if i not in held)


def test_ring_grows_and_keeps_every_tpdu() -> None:
    w = TransmitWindow(5, capacity=1 << 20, window_secs=10.0, advance_step=1.0, slots=64)
    msgs = [b"m%d" % i for i in range(300)]
    for m in msgs:
        w.push(m, wire.partial_sum(m))
    assert w.mask + 1 >= 300
    assert [q.data for q in w.queued] == msgs
    w.lead = w.tail - 1
    assert [w.get(5 + i).data for i in range(300)] == msgs  # type: ignore[union-attr]


def test_repair_after_the_ring_wrapped_carries_the_right_payload() -> None:
    src = _source(
        rate_bps=10**9, window_bytes=200 * 1000, window_secs=0.01, send_buffer_bytes=20_000
    )
    payloads = [random.Random(i).randbytes(1000) for i in range(1000)]
    now = 0.0
    sent: list[wire.ODATA] = []
    for p in payloads:
        src.send(p, now)
        sent += _odata(src.datagrams_to_send(now))
        now += 1e-4
        src.handle_timer(now)
    while src.pending_bytes:
        now += 1e-3
        src.handle_timer(now)
        sent += _odata(src.datagrams_to_send(now))
    assert [p.data for p in sent] == payloads
    assert src._txw.mask + 1 < len(payloads)  # the ring wrapped several times
    sqn = src.lead - 3
    nak = wire.encode_nak_list(
        wire.NAK,
        source_port=src.dport,
        destination_port=src.sport,
        gsi=src.gsi,
        sqns=[sqn],
        source_nla=NLA,
        group_nla=GROUP,
    )
    src.receive(nak, RCV, now)
    out = src.datagrams_to_send(now)
    rdata = [p for p in (wire.parse(b) for b, _d, _t in out) if isinstance(p, wire.RDATA)]
    assert len(rdata) == 1 and rdata[0].data_sqn == sqn and rdata[0].data == payloads[sqn]


def test_batched_debit_keeps_the_rate_exact() -> None:
    rate = 8_000_000  # 1 MB/s
    src = _source(rate_bps=rate, window_secs=30.0)
    overhead = src.config.header_overhead
    msg = bytes(1400)
    now = 0.0
    total = 0
    burst = max(src.config.mtu, rate / 8 * src.config.burst_secs)
    while now < 5.0:
        while True:
            try:
                src.send(msg, now)
            except WouldBlock:
                break
        for p in _odata(src.datagrams_to_send(now)):
            total += wire.DATA_HEADER_SIZE + len(p.data) + overhead
        # ODATA never above rate × time + the bucket's depth + one packet of debt.
        assert total <= rate / 8 * now + burst + 1500 + overhead
        t = src.next_timer()
        now = max(now + 1e-4, t if t is not None else now)
    assert total >= rate / 8 * 5.0 * 0.98  # and it does send at the rate


def test_bucket_available_and_debit_match_try_consume() -> None:
    a, b = TokenBucket(1000.0, 3000.0), TokenBucket(1000.0, 3000.0)
    costs = [700, 900, 1200, 400, 1500]
    let_through = 0
    for c in costs:
        if not a.try_consume(c, 1.0):
            break
        let_through += 1
    tokens = start = b.available(1.0)
    n = 0
    for c in costs:
        if tokens < 0:
            break
        tokens -= c
        n += 1
    b.debit(start - tokens)
    assert n == let_through and a.tokens == b.tokens and a.ready_at(1.0) == b.ready_at(1.0)


def test_send_many_takes_what_the_buffer_allows() -> None:
    src = _source(send_buffer_bytes=3000, rate_bps=10**9)
    msgs = [bytes([i]) * 1000 for i in range(6)]
    i = src.send_many(msgs, 0.0)
    assert i == 3 and src.pending_bytes == 3000 and src.last_sqn == 2
    with pytest.raises(WouldBlock):
        src.send_many(msgs, 0.0, i)
    out = _odata(src.datagrams_to_send(0.0))
    assert [p.data for p in out] == msgs[:3]
    assert src.send_many(msgs, 1.0, 3) == 6 and src.last_sqn == 5
    with pytest.raises(ValueError, match="max_apdu"):
        src.send_many([bytes(src.config.max_apdu + 1)], 1.0)


def test_send_many_fragments_and_options_like_send() -> None:
    """Mixed sizes through send_many and through send give the same packets."""
    msgs = [bytes(10), bytes(5000), bytes(1), bytes(3000)]
    for kw in ({}, {"late_join": 20}, {"options_on_all_data": True}):
        a, b = _source(rate_bps=10**9, **kw), _source(rate_bps=10**9, **kw)
        assert a.send_many(msgs, 0.0) == len(msgs)
        for m in msgs:
            b.send(m, 0.0)
        pa = [p for p, _d, _t in a.datagrams_to_send(0.0)]
        pb = [p for p, _d, _t in b.datagrams_to_send(0.0)]
        assert pa == pb and len(_odata([(p, 0, 0) for p in pa])) > len(msgs)
        assert all(wire.verify_checksum(p) for p in pa)
