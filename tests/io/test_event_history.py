"""PgmSender keeps its source's events in a bounded EventHistory (pgm.io.history)."""

from __future__ import annotations

import pytest

from pgm.engine import SourceClosed
from pgm.io import PgmSender
from pgm.io.history import EVENT_HISTORY, EventHistory
from pgm.wire import TSI

T1 = TSI(b"\x01\x02\x03\x04\x05\x06", 40001)


def closed(n: int) -> list[SourceClosed]:
    return [SourceClosed(TSI(T1.gsi, 1 + i)) for i in range(n)]


def test_keeps_the_newest_and_counts_the_dropped() -> None:
    h = EventHistory(cap=4)
    evs = closed(10)
    h.extend(evs[:3])
    assert len(h) == 3 and h.dropped == 0
    h.extend(evs[3:])
    assert len(h) == 4 and h.dropped == 6
    assert h.take() == evs[6:]
    assert len(h) == 0 and h.take() == [] and h.dropped == 6
    h.extend(evs[:2])
    assert h.take() == evs[:2] and h.dropped == 6


def test_default_cap_and_validation() -> None:
    assert EventHistory().cap == EVENT_HISTORY
    with pytest.raises(ValueError):
        EventHistory(cap=0)


def test_a_sender_nobody_reads_stays_bounded() -> None:
    h = EventHistory()
    for _ in range(100):
        h.extend(closed(100))
    assert len(h) == EVENT_HISTORY and h.dropped == 100 * 100 - EVENT_HISTORY


def test_pgm_sender_take_events() -> None:
    tx = PgmSender("239.192.0.1", 7599, iface="lo", transport="udp")
    try:
        tx.send(b"x")
    finally:
        tx.close(linger=0.1)
    evs = tx.take_events()
    assert [type(e) for e in evs] == [SourceClosed] and evs[0].tsi == tx.tsi
    assert tx.take_events() == [] and tx.events_dropped == 0
