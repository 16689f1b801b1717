"""The source's read-only views: :meth:`Source.info` snapshots and rates reading never moves."""

from __future__ import annotations

import random

import pytest

from pgm.engine import Source, SourceConfig
from pgm.engine.rate import RateMeter
from pgm.engine.source import SourceInfo, SourceState


def _source(now: float = 0.0) -> Source:
    cfg = SourceConfig(rate_bps=10**9)
    return Source(cfg, group="239.1.2.3", nla="10.0.0.1", rng=random.Random(1), now=now)


def test_info_is_a_snapshot_that_changes_nothing() -> None:
    src = _source()
    src.send(b"x" * 100, 0.0)
    src.datagrams_to_send(0.5)
    a = src.info(1.5)
    b = src.info(1.5)
    assert a == b and isinstance(a, SourceInfo)
    assert a.state is SourceState.OPEN and a.state == "open"
    assert (a.trail64, a.lead64, a.pending_bytes) == (0, 0, 0)
    assert a.stats.odata_packets_sent == 1 and a.stats is not src.stats
    assert a.tsi == src.tsi and a.max_tsdu == src.max_tsdu
    with pytest.raises(AttributeError):
        a.lead64 = 5  # type: ignore[misc]
    src.send(b"y", 1.5)
    src.datagrams_to_send(1.6)
    assert a.stats.odata_packets_sent == 1  # the copy did not follow


def test_rates_are_the_same_for_every_poller() -> None:
    src = _source()
    src.send(b"x" * 1000, 0.0)
    out = src.datagrams_to_send(0.2)
    sent = sum(len(p) for p, _d, _t in out)
    first = src.rates_kbps(1.5)
    assert first == src.rates_kbps(1.5) == src.rates_kbps(1.5)
    assert first[1] == pytest.approx(sent * 8 / 1000)
    assert src.info(1.5).rate_kbps_last == first[1]
    assert src.rates_kbps(2.5)[1] == 0.0  # nothing was sent in second 1


def test_rate_meter_keeps_the_last_completed_second() -> None:
    m = RateMeter(10.0)
    m.add(1000, 10.1)
    m.add(500, 10.9)
    assert m.last_kbps(10.95) == 0.0  # second 0 not complete yet
    assert m.last_kbps(11.0) == 12.0
    m.add(250, 11.5)
    assert m.last_kbps(11.9) == 12.0  # still second 0's figure
    assert m.last_kbps(12.2) == 2.0
    assert m.last_kbps(13.2) == 0.0
    m.add(125, 14.0)  # a gap: seconds 2 and 3 were silent
    assert m.last_kbps(14.5) == 0.0
    assert m.last_kbps(15.0) == 1.0


def test_lead_is_the_last_odata_sent_when_the_bucket_stops_the_batch() -> None:
    from pgm import wire

    # 1 kB/s with a one-MTU bucket: two 1000-byte ODATA leave (the second into debt), one waits.
    cfg = SourceConfig(rate_bps=8000, burst_secs=0.0)
    src = Source(cfg, group="239.1.2.3", nla="10.0.0.1", rng=random.Random(1), sport=40000)
    for _ in range(3):
        src.send(b"z" * 1000, 0.0)
    sent = [wire.parse(p) for p, _d, _t in src.datagrams_to_send(0.0)]
    assert [type(p) for p in sent].count(wire.ODATA) == 2
    assert (src.trail64, src.lead64) == (0, 1)
    nak = wire.NAK(
        source_port=7500,
        destination_port=40000,
        gsi=src.gsi,
        nak_sqn=2,  # queued, never sent: out of window, not a crash
        source_nla=src.nla,
        group_nla=src.group,
    )
    src.receive(nak.encode(), src.nla, 0.1)
    assert src.stats.naks_out_of_window == 1 and src.outstanding_repairs == 0


def test_a_source_held_back_by_the_rate_wakes_for_batches_at_the_exact_rate() -> None:
    # 100 Mbit/s, 1 ms bucket (12.5 kB, nine 1400-byte packets): a source in debt asks to be
    # woken when half the bucket has refilled, not for every packet (docs/performance.md),
    # and over the run its IP bytes per second stay the configured rate.
    cfg = SourceConfig(rate_bps=100_000_000, window_secs=30)
    src = Source(cfg, group="239.1.2.3", nla="10.0.0.1", rng=random.Random(1), sport=40000)
    for _ in range(4000):
        src.send(b"z" * 1400, 0.0)
    now, sizes, wire_bytes = 0.0, [], 0
    while True:
        out = src.datagrams_to_send(now)
        wire_bytes += sum(len(p) + cfg.header_overhead for p, _d, _t in out)
        sizes.append(len(out))
        # by ``now``: at most rate x time + the bucket's depth + the packet that went into
        # debt + the start's SPM burst (not rate-limited, as OpenPGM's)
        assert wire_bytes <= cfg.rate_bps / 8 * now + 12_500 + 1444 + 3 * 100
        if not src.pending_bytes:
            break
        t = src.next_timer()
        assert t is not None and t > now
        now = t
    assert len(sizes) < 4000 / 3  # about five packets per wake-up (one per packet before)
    assert min(sizes[1:-1]) >= 3
    assert wire_bytes / now == pytest.approx(cfg.rate_bps / 8, rel=0.01)  # the rate is exact
