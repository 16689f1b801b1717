"""pgm.driver.EngineDriver, the one driver step, and pgm.net.lossy.LossyTransport.

Fakes pin down the step itself (what is called, when, how often); a real Source and Receiver
joined by two drivers and a hand-stepped clock show the step is all a runner needs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Any

import pytest

from pgm import wire
from pgm.driver import EngineDriver
from pgm.engine import DataReceived, Outgoing, Receiver, SessionStarted, Source
from pgm.net.lossy import LossyTransport
from pgm.wire import NLA

GROUP = IPv4Address("239.192.0.1")
SRC = IPv4Address("10.0.0.1")
RCV = IPv4Address("10.0.0.2")
GSI = bytes.fromhex("0a0b0c0d0e0f")


class Fake:
    """An engine that records calls; ``deadline`` is its next timer."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self.calls: list[tuple[str, float]] = []
        self.out: list[Outgoing] = []
        self.events: deque[object] = deque()

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        self.calls.append(("receive", now))
        self.events.append(datagram)

    def handle_timer(self, now: float) -> None:
        self.calls.append(("timer", now))
        self.out.append((b"tick", GROUP, None))
        self.deadline = None

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        out, self.out = self.out, []
        return out

    def next_timer(self) -> float | None:
        return self.deadline

    def next_event(self) -> object | None:
        return self.events.popleft() if self.events else None


class FakeBatching(Fake):
    """A fake with the batch calls (``receive_many``, ``take_events``) the Receiver has."""

    def receive_many(self, items: Sequence[tuple[bytes, NLA, NLA | None]], now: float) -> None:
        self.calls.append(("receive_many", now))
        self.events.extend(d for d, _, _ in items)

    def take_events(self) -> deque[object]:
        self.calls.append(("take_events", 0.0))
        evs, self.events = self.events, deque()
        return evs


def _driver(engine: Any) -> tuple[EngineDriver, list[list[Outgoing]], list[list[object]]]:
    sent: list[list[Outgoing]] = []
    got: list[list[object]] = []
    return (
        EngineDriver(engine, lambda o: sent.append(list(o)), lambda e: got.append(list(e))),
        sent,
        got,
    )


def test_step_feeds_runs_due_timers_flushes_once_and_drains() -> None:
    eng = Fake(deadline=1.0)
    d, sent, got = _driver(eng)
    assert d.step(0.5, [(b"a", SRC, None), (b"b", SRC, GROUP)]) == 1.0
    assert eng.calls == [("receive", 0.5), ("receive", 0.5)]  # not due: no timer call
    assert sent == [] and got == [[b"a", b"b"]]
    assert d.step(1.0) is None
    assert eng.calls[-1] == ("timer", 1.0)
    assert sent == [[(b"tick", GROUP, None)]]  # one transmit call per flush
    assert got == [[b"a", b"b"]]  # no empty batch delivered


def test_batch_calls_are_used_when_the_engine_has_them() -> None:
    eng = FakeBatching()
    d, _, got = _driver(eng)
    d.step(2.0, [(b"x", SRC, None), (b"y", SRC, None)])
    assert eng.calls == [("receive_many", 2.0), ("take_events", 0.0)]
    assert got == [[b"x", b"y"]]
    d.feed([], 3.0)  # an empty batch still tells the engine the time
    assert eng.calls[-1] == ("receive_many", 3.0)


def test_parts_of_the_step() -> None:
    eng = Fake(deadline=5.0)
    d, sent, got = _driver(eng)
    d.feed_one(b"one", SRC, GROUP, 1.0)
    assert not d.tick(4.9) and d.tick(5.0)
    assert d.flush(5.0) == [(b"tick", GROUP, None)] and sent == [[(b"tick", GROUP, None)]]
    assert d.flush(5.0) == [] and len(sent) == 1
    assert list(d.events()) == [b"one"] and got == [[b"one"]]
    assert d.next_deadline() is None


def test_without_a_deliver_sink_service_leaves_events_in_the_engine() -> None:
    eng = Fake()
    d = EngineDriver(eng, lambda o: None)
    d.step(0.0, [(b"kept", SRC, None)])
    assert eng.next_event() == b"kept"


def test_two_drivers_carry_a_session_from_source_to_receiver() -> None:
    """The driver step is all a runner needs: a two-ended pair on a hand-stepped clock."""
    src = Source(group=GROUP, nla=SRC, now=0.0)
    rcv = Receiver(group=GROUP, now=0.0)
    to_rcv: list[tuple[bytes, NLA, NLA | None]] = []
    to_src: list[tuple[bytes, NLA, NLA | None]] = []
    events: list[object] = []
    ds = EngineDriver(src, lambda out: to_rcv.extend((p, SRC, dst) for p, dst, _ in out))
    dr = EngineDriver(
        rcv, lambda out: to_src.extend((p, RCV, dst) for p, dst, _ in out), events.extend
    )
    src.send(b"hello", 0.0)
    src.send(b"world", 0.0)
    now = 0.0
    while now < 1.0:
        ds.step(now, to_src[:])
        to_src.clear()
        dr.step(now, to_rcv[:])
        to_rcv.clear()
        now += 0.01
    assert isinstance(events[0], SessionStarted)
    assert [e.data for e in events if isinstance(e, DataReceived)] == [b"hello", b"world"]


# -- LossyTransport --------------------------------------------------------------------------------
def _data(sqn: int) -> bytes:
    return wire.ODATA(
        source_port=40000, destination_port=7500, gsi=GSI, data_sqn=sqn, data_trail=0, data=b"d"
    ).encode()


def _spm(sqn: int) -> bytes:
    return wire.SPM(
        source_port=40000,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=sqn,
        spm_trail=0,
        spm_lead=0,
        path_nla=SRC,
    ).encode()


class Inner:
    """A transport that hands out a scripted batch and records sends."""

    kind = "udp"
    buffer_warning: str | None = None
    tx_errors = 0
    ttl = 7

    def __init__(self, batch: list[tuple[bytes, NLA, NLA | None]]) -> None:
        self.batch = batch
        self.sent: list[tuple[bytes, NLA, int | None]] = []
        self.closed = False

    def fileno(self) -> int:
        return 42

    def send(self, packet: bytes, dst: NLA, ttl: int | None = None) -> None:
        self.sent.append((packet, dst, ttl))

    def send_all(self, datagrams: Sequence[tuple[bytes, NLA, int | None]]) -> None:
        self.sent.extend(datagrams)

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        return list(self.batch)

    def close(self) -> None:
        self.closed = True


def test_lossy_transport_drops_only_data_and_counts() -> None:
    batch = [(_data(i), SRC, GROUP) for i in range(50)] + [(_spm(1), SRC, GROUP)]
    inner = Inner(batch)
    everything = LossyTransport(inner, 1.0, seed=3)
    assert [b[0] for b in everything.recv_batch()] == [_spm(1)]
    assert everything.drops == 50
    assert LossyTransport(inner, 0.0).recv_batch() == batch


def test_lossy_transport_is_seeded_and_passes_the_rest_through() -> None:
    batch = [(_data(i), SRC, GROUP) for i in range(200)]
    a = LossyTransport(Inner(batch), 0.3, seed=11)
    b = LossyTransport(Inner(batch), 0.3, seed=11)
    kept = a.recv_batch()
    assert kept == b.recv_batch() and 0 < a.drops < 200 and len(kept) + a.drops == 200
    inner = Inner([])
    t = LossyTransport(inner, 0.5, seed=1)
    t.send(b"p", GROUP, 2)
    t.send_all([(b"q", GROUP, None)])
    assert inner.sent == [(b"p", GROUP, 2), (b"q", GROUP, None)]
    assert (t.fileno(), t.kind, t.tx_errors, t.buffer_warning, t.ttl) == (42, "udp", 0, None, 7)
    t.close()
    assert inner.closed
    with pytest.raises(ValueError):
        LossyTransport(inner, 1.5)
