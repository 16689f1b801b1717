"""The session demultiplexer (pgm.sessions): pure, fed with engine events by hand."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgm.engine import DataReceived, SessionEnded, SessionStarted, SourceClosed, UnrecoverableLoss
from pgm.sessions import (
    Admit,
    DemuxConfig,
    DemuxSession,
    EndReason,
    LossRecord,
    SessionDemux,
)
from pgm.wire import TSI

T1 = TSI(b"\x01\x02\x03\x04\x05\x06", 40001)
T2 = TSI(b"\x0a\x0b\x0c\x0d\x0e\x0f", 40002)
T3 = TSI(b"\x0a\x0b\x0c\x0d\x0e\x10", 40003)
SRC = IPv4Address("10.0.0.1")


def start(tsi: TSI = T1) -> SessionStarted:
    return SessionStarted(tsi, SRC)


def data(payload: bytes, tsi: TSI = T1, sqn: int = 0) -> DataReceived:
    return DataReceived(tsi, payload, sqn)


def accept(d: SessionDemux) -> DemuxSession:
    s = d.accept()
    assert s is not None
    return s


def test_visible_on_first_data_and_accept_order() -> None:
    d = SessionDemux()
    assert d.feed([start(T1), start(T2)]) == []
    assert d.pending == 0 and d.accept() is None  # SPMs only: nothing to accept
    changed = d.feed([data(b"b", T2), data(b"a", T1), data(b"a2", T1)])
    assert [s.tsi for s in changed] == [T2, T1]
    assert d.pending == 2
    s2, s1 = accept(d), accept(d)
    assert (s2.tsi, s1.tsi) == (T2, T1) and s1.source == SRC
    assert s1.accepted and s1.visible and s1.queued_messages == 2 and s1.queued_bytes == 3
    assert d.buffered == 4
    assert s1.pop_all() == [b"a", b"a2"] and d.buffered == 1
    assert s1.pop_message() is None


def test_admit_on_start() -> None:
    d = SessionDemux(DemuxConfig(admit=Admit.ON_START))
    assert [s.tsi for s in d.feed([start()])] == [T1]
    s = accept(d)
    d.feed([SessionEnded(T1, "rst")])
    assert s.at_end and s.end is not None and s.end.reason is EndReason.RST
    assert not s.end.graceful and "OPT_RST" in s.end.detail


def test_message_and_stream_reads() -> None:
    d = SessionDemux()
    d.feed([start(), data(b"0123456789"), data(b"abc"), data(b"XY")])
    s = accept(d)
    assert s.read_message(4) == (b"0123", 6)
    assert s.read_message(4) == (b"4567", 2)
    assert s.queued_messages == 3  # the message read in part still counts
    assert s.read_message(4) == (b"89", 0)
    assert s.read_stream(4) == b"abcX"
    assert s.pop_message() == b"Y"  # the unread rest
    assert s.read_message(10) == (b"", 0) and s.read_stream(10) == b""
    assert d.buffered == 0 and s.queued_bytes == 0


def test_end_markers_follow_the_data() -> None:
    d = SessionDemux()
    d.feed([start(), data(b"last"), SessionEnded(T1, "fin"), data(b"after")])
    s = accept(d)
    assert s.readable and not s.at_end
    assert s.end is not None and s.end.graceful and s.end.reason is EndReason.FIN
    assert s.pop_all() == [b"last"]  # nothing queued after the end
    assert s.at_end and s.readable


@pytest.mark.parametrize(
    ("event", "reason", "words"),
    [
        (UnrecoverableLoss(T1, 7, 9, "retries"), EndReason.LOSS, "sequence numbers 7-9"),
        (SessionEnded(T1, "rst"), EndReason.RST, "OPT_RST"),
        (SessionEnded(T1, "expired"), EndReason.EXPIRED, "expired"),
    ],
)
def test_resets(event: object, reason: EndReason, words: str) -> None:
    d = SessionDemux()
    d.feed([start(), data(b"before"), event, data(b"after"), SessionEnded(T1, "fin")])  # type: ignore[list-item]
    s = accept(d)
    assert s.pop_all() == [b"before"]
    assert s.end is not None and s.end.reason is reason and words in s.end.detail
    assert not s.end.graceful


def test_loss_recorded_when_it_does_not_end_the_session() -> None:
    d = SessionDemux(DemuxConfig(loss_ends_session=False, max_loss_records=1))
    d.feed([start(), data(b"a"), UnrecoverableLoss(T1, 0xFFFFFFFF, 1, "window")])
    d.feed([UnrecoverableLoss(T1, 5, 5, "retries"), data(b"b", sqn=2)])
    s = accept(d)
    assert s.losses == [LossRecord(0xFFFFFFFF, 1, "window")] and s.losses[0].count == 3
    assert s.loss_events == 2 and s.end is None
    assert s.pop_all() == [b"a", b"b"]


def test_loss_and_end_before_visibility_are_not_queued() -> None:
    d = SessionDemux()
    d.feed([start(), UnrecoverableLoss(T1, 0, 4, "fragment"), data(b"whole")])
    s = accept(d)
    assert s.end is None and s.pop_all() == [b"whole"]
    d.feed([start(T2), SessionEnded(T2, "fin"), data(b"late", T2)])
    assert d.pending == 0 and T2 not in d.sessions  # ended unseen: forgotten


def test_empty_messages_are_messages() -> None:
    d = SessionDemux()
    d.feed([start(), data(b""), SourceClosed(T1), data(b"x"), data(b"")])
    s = accept(d)  # the empty message made it visible
    assert s.queued_messages == 3 and s.queued_bytes == 1
    assert s.read_message(10) == (b"", 0) and not s.at_end
    assert s.pop_all() == [b"x", b""] and d.buffered == 0
    d.feed([SessionEnded(T1, "fin")])
    assert s.at_end


def test_empty_messages_skipped_when_asked() -> None:
    d = SessionDemux(DemuxConfig(keep_empty=False))
    d.feed([start(), data(b"")])
    assert d.accept() is None  # an empty message alone does not make a session visible
    d.feed([data(b""), SourceClosed(T1), data(b"x"), data(b"")])
    assert accept(d).pop_all() == [b"x"]


def test_follow_first_session() -> None:
    d = SessionDemux(DemuxConfig(admit=Admit.ON_START, follow_first=True, loss_ends_session=False))
    d.feed([start(T1), start(T2), data(b"one", T1), data(b"two", T2)])
    f = d.followed
    assert f is not None and f.tsi == T1 and f.accepted
    assert d.pending == 0 and d.accept() is None and list(d.sessions) == [T1]
    assert f.pop_all() == [b"one"]
    d.feed([SessionEnded(T1, "fin")])
    assert f.at_end
    d.drop(f)  # e.g. a session that had already ended when first heard
    assert d.followed is None and not d.sessions
    d.feed([start(T3), data(b"three", T3)])
    assert d.followed is not None and d.followed.tsi == T3


def test_follow_first_on_data() -> None:
    d = SessionDemux(DemuxConfig(follow_first=True))
    d.feed([start(T1), start(T2), data(b"two", T2), data(b"one", T1)])
    assert d.followed is not None and d.followed.tsi == T2
    assert list(d.sessions) == [T2] and d.buffered == 3


def test_drop_frees_the_queue_and_stops_routing() -> None:
    d = SessionDemux()
    d.feed([start(), data(b"x" * 100)])
    s = accept(d)
    d.drop(s)
    assert s.closed and d.buffered == 0 and T1 not in d.sessions
    assert d.feed([data(b"y" * 100, sqn=1)]) == [] and d.buffered == 0


def test_stop_admitting_drops_pending_sessions_only() -> None:
    d = SessionDemux()
    d.feed([start(T1), data(b"a", T1), start(T2), data(b"b", T2), start(T3)])
    s1 = accept(d)
    d.stop_admitting()
    assert not d.admitting and d.pending == 0 and list(d.sessions) == [T1]
    assert d.buffered == 1
    d.feed([data(b"c", T1, 1), start(TSI(b"\x09" * 6, 1))])
    assert s1.pop_all() == [b"a", b"c"] and list(d.sessions) == [T1]


def test_byte_budget_is_back_pressure() -> None:
    d = SessionDemux(DemuxConfig(max_bytes=10))
    assert d.has_room
    d.feed([start(), data(b"a" * 20)])
    assert not d.has_room  # the caller stops taking events; nothing is dropped
    s = accept(d)
    assert s.pop_message() == b"a" * 20 and d.has_room


def test_session_cap() -> None:
    d = SessionDemux(DemuxConfig(max_sessions=2))
    d.feed([start(T1), start(T2), start(T3), data(b"3", T3)])
    assert list(d.sessions) == [T1, T2] and d.refused == 1 and d.pending == 0


def test_config_is_validated() -> None:
    for bad in ({"max_bytes": -1}, {"max_sessions": 0}, {"max_loss_records": -1}):
        with pytest.raises(ValueError):
            DemuxConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DemuxConfig(admit="data")  # type: ignore[arg-type]


@given(
    st.lists(
        st.tuples(st.sampled_from([T1, T2, T3]), st.integers(0, 6), st.binary(max_size=8)),
        max_size=60,
    )
)
def test_budget_accounting_matches_queues(script: list[tuple[TSI, int, bytes]]) -> None:
    """Whatever the events and reads, ``buffered`` is the sum of the queues."""
    d = SessionDemux(DemuxConfig(max_sessions=2, admit=Admit.ON_DATA))
    for tsi, op, payload in script:
        s = d.sessions.get(tsi)
        if op == 0:
            d.feed([start(tsi)])
        elif op == 1:
            d.feed([data(payload, tsi)])
        elif op == 2:
            d.feed([SessionEnded(tsi, "fin")])
        elif op == 3:
            d.feed([UnrecoverableLoss(tsi, 1, 2, "retries")])
        elif op == 4:
            d.accept()
        elif op == 5 and s is not None:
            s.read_message(3)
        elif op == 6 and s is not None:
            d.drop(s)
        assert d.buffered == sum(x.queued_bytes for x in d.sessions.values())
        assert len(d.sessions) <= 2
        for x in d.sessions.values():
            assert x.queued_bytes == 0 or x.visible
