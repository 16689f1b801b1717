"""The simulated network: fan-out, unicast, link conditions, scripted drops, clock and timers.

The engines here are tiny fakes (no PGM logic), so these tests pin down the simulator alone.
"""

from __future__ import annotations

from collections import deque
from ipaddress import IPv4Address, ip_address

import pytest

from pgm import wire
from pgm.sim import (
    Engine,
    Link,
    Network,
    Node,
    TraceEntry,
    drop_all,
    drop_sqns,
    drop_types,
)
from pgm.wire import NLA

GROUP = IPv4Address("239.1.2.3")
OTHER_GROUP = IPv4Address("239.9.9.9")
GSI = bytes.fromhex("0a0b0c0d0e0f")


class Ping:
    """A fake engine: sends scripted datagrams at timers, records (and optionally echoes) input.

    ``at(t, data, dst)`` schedules a send at virtual time ``t``; ``send`` queues one now (call
    ``node.poke()`` afterwards, as the application would after an API call).
    """

    def __init__(self, *, echo: bool = False) -> None:
        self.echo = echo
        self.out: list[tuple[bytes, NLA, int | None]] = []
        self.got: list[tuple[float, bytes, NLA, NLA | None]] = []
        self.schedule: list[tuple[float, bytes, NLA, int | None]] = []
        self.timer_calls: list[float] = []
        self.pending_events: deque[object] = deque()

    # -- application API --
    def send(self, data: bytes, dst: NLA, ttl: int | None = None) -> None:
        self.out.append((data, dst, ttl))

    def at(self, t: float, data: bytes, dst: NLA, ttl: int | None = None) -> None:
        self.schedule.append((t, data, dst, ttl))
        self.schedule.sort(key=lambda s: s[0])

    # -- Engine protocol --
    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        self.got.append((now, datagram, src, dst))
        self.pending_events.append(("rx", datagram))
        if self.echo:
            self.out.append((b"echo:" + datagram, src, None))

    def handle_timer(self, now: float) -> None:
        self.timer_calls.append(now)
        while self.schedule and self.schedule[0][0] <= now:
            _, data, dst, ttl = self.schedule.pop(0)
            self.out.append((data, dst, ttl))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, NLA, int | None]]:
        out, self.out = self.out, []
        return out

    def next_timer(self) -> float | None:
        return self.schedule[0][0] if self.schedule else None

    def next_event(self) -> object | None:
        return self.pending_events.popleft() if self.pending_events else None

    # -- helpers --
    @property
    def payloads(self) -> list[bytes]:
        return [g[1] for g in self.got]


class Ticker(Ping):
    """Fires every ``period`` seconds forever (a heartbeat), sending nothing."""

    def __init__(self, period: float) -> None:
        super().__init__()
        self.period = period
        self.deadline = period

    def handle_timer(self, now: float) -> None:
        self.timer_calls.append(now)
        if now >= self.deadline:
            self.deadline += self.period

    def next_timer(self) -> float | None:
        return self.deadline


def odata(sqn: int, data: bytes = b"x") -> bytes:
    return wire.ODATA(
        source_port=40000, destination_port=7500, gsi=GSI, data_sqn=sqn, data_trail=0, data=data
    ).encode()


def rdata(sqn: int) -> bytes:
    return wire.RDATA(
        source_port=40000, destination_port=7500, gsi=GSI, data_sqn=sqn, data_trail=0, data=b"r"
    ).encode()


def star(net: Network, n: int, *, sender_joins: bool = True) -> tuple[Node[Ping], list[Node[Ping]]]:
    """A sender at 10.0.0.1 and ``n`` group members at 10.0.0.2, ...; names s, r1, r2, ..."""
    groups = [GROUP] if sender_joins else []
    s = net.add_node(Ping(), "10.0.0.1", groups, name="s")
    rs = [net.add_node(Ping(), f"10.0.0.{i + 2}", [GROUP], name=f"r{i + 1}") for i in range(n)]
    return s, rs


def blast(net: Network, s: Node[Ping], packets: list[bytes], dst: NLA = GROUP) -> None:
    for p in packets:
        s.engine.send(p, dst)
    s.poke()


# -- topology and addressing -----------------------------------------------------------------------
def test_engine_protocol_and_add_node_validation() -> None:
    assert isinstance(Ping(), Engine)
    net = Network()
    net.add_node(Ping(), "10.0.0.1", name="a")
    with pytest.raises(TypeError):
        net.add_node(object(), "10.0.0.9")  # type: ignore[type-var]
    with pytest.raises(ValueError, match="already belongs"):
        net.add_node(Ping(), "10.0.0.1")
    with pytest.raises(ValueError, match="already exists"):
        net.add_node(Ping(), "10.0.0.2", name="a")
    with pytest.raises(ValueError, match="not a multicast group"):
        net.add_node(Ping(), "10.0.0.3", groups=["10.1.1.1"])
    with pytest.raises(ValueError, match="unicast"):
        net.add_node(Ping(), "239.0.0.1")
    assert net.node("a").address == IPv4Address("10.0.0.1")
    assert net.node("10.0.0.1").name == "a"
    with pytest.raises(ValueError):
        Link(loss=1.5)
    with pytest.raises(ValueError):
        Link(delay=-1)


def test_multicast_fans_out_to_members_but_not_sender() -> None:
    net = Network()
    s, rs = star(net, 3)
    outsider = net.add_node(Ping(), "10.0.0.99", [OTHER_GROUP], name="x")
    s.engine.at(0.5, b"hello", GROUP, ttl=1)
    net.run()
    assert net.now == 0.5
    for r in rs:
        assert r.engine.got == [(0.5, b"hello", s.address, GROUP)]
        assert r.received == 1
        assert r.events == [("rx", b"hello")]
    assert s.engine.got == [] and outsider.engine.got == []
    (entry,) = net.trace
    assert isinstance(entry, TraceEntry)
    assert (entry.time, entry.src, entry.dst_addr, entry.data, entry.ttl) == (
        0.5,
        s,
        GROUP,
        b"hello",
        1,
    )
    assert entry.delivered_to == ["r1", "r2", "r3"] and entry.dropped_for == []
    assert s.sent == 1 and net.stats.sent == 1 and net.stats.delivered == 3


def test_multicast_loopback_and_join_leave() -> None:
    net = Network()
    s = net.add_node(Ping(), "10.0.0.1", [GROUP], name="s", loopback=True)
    r = net.add_node(Ping(), "10.0.0.2", name="r")
    blast(net, s, [b"1"])
    net.run()
    assert s.engine.payloads == [b"1"] and r.engine.payloads == []
    r.join("239.1.2.3")
    assert net.members(GROUP) == [s, r]
    blast(net, s, [b"2"])
    net.run()
    assert r.engine.payloads == [b"2"]
    r.leave(GROUP)
    blast(net, s, [b"3"])
    net.run()
    assert r.engine.payloads == [b"2"]


def test_unicast_delivery_and_unknown_destination_counted() -> None:
    net = Network()
    s, (r1, r2) = star(net, 2)
    blast(net, s, [b"to-r2"], dst=r2.address)
    blast(net, s, [b"nowhere"], dst=IPv4Address("10.9.9.9"))
    net.run()
    assert r2.engine.got == [(0.0, b"to-r2", s.address, r2.address)]
    assert r1.engine.got == []
    assert net.stats.unroutable == 1 and s.unroutable == 1
    assert net.trace[-1].delivered_to == [] and net.trace[-1].dropped_for == []
    # A multicast group nobody joined is not an error.
    blast(net, s, [b"empty"], dst=OTHER_GROUP)
    net.run()
    assert net.stats.unroutable == 1


def test_echo_round_trip_and_ipv6() -> None:
    net = Network()
    a = net.add_node(Ping(), "fd00::1", name="a")
    b = net.add_node(Ping(echo=True), "fd00::2", name="b")
    net.default_link = Link(delay=0.01)
    a.engine.at(1.0, b"ping", b.address)
    net.run()
    ((t, data, src, dst),) = a.engine.got
    assert t == pytest.approx(1.02) and (data, src, dst) == (b"echo:ping", b.address, a.address)
    assert b.engine.got[0][2] == ip_address("fd00::1")


def test_two_tuple_output_is_accepted() -> None:
    """An engine may return ``(bytes, dst)`` pairs without a TTL; the network takes that too."""
    net = Network()
    s, (r,) = star(net, 1)
    s.engine.out.append((b"pair", GROUP))  # type: ignore[arg-type]
    s.poke()
    net.run()
    assert r.engine.payloads == [b"pair"] and net.trace[0].ttl is None


# -- link conditions ------------------------------------------------------------------------------
def test_delay_keeps_order_and_jitter_reorders() -> None:
    packets = [i.to_bytes(2, "big") for i in range(200)]

    net = Network(seed=1)
    s, (r,) = star(net, 1)
    net.default_link = Link(delay=0.1)
    blast(net, s, packets)
    net.run()
    assert r.engine.payloads == packets
    assert {g[0] for g in r.engine.got} == {0.1}

    net = Network(seed=1)
    s, (r,) = star(net, 1)
    net.set_link(s, r, Link(delay=0.1, jitter=0.05))
    blast(net, s, packets)
    net.run()
    assert sorted(r.engine.payloads) == packets
    assert r.engine.payloads != packets  # reordered
    times = [g[0] for g in r.engine.got]
    assert times == sorted(times)
    assert all(0.1 <= t < 0.15 for t in times)


def run_lossy(seed: int, n: int = 5000) -> tuple[Network, Node[Ping]]:
    net = Network(seed=seed)
    s, (r,) = star(net, 1)
    net.default_link = Link(loss=0.2)
    blast(net, s, [i.to_bytes(4, "big") for i in range(n)])
    net.run()
    return net, r


def test_seeded_loss_rate_and_reproducibility() -> None:
    net, r = run_lossy(7)
    assert 0.17 < r.dropped / 5000 < 0.23
    assert r.received + r.dropped == 5000 == net.stats.delivered + net.stats.dropped
    _, again = run_lossy(7)
    assert again.engine.payloads == r.engine.payloads
    _, other = run_lossy(8)
    assert other.engine.payloads != r.engine.payloads


def test_duplication() -> None:
    net = Network(seed=3)
    s, (r,) = star(net, 1)
    net.default_link = Link(duplicate=1.0)
    blast(net, s, [b"a", b"b"])
    net.run()
    assert r.engine.payloads == [b"a", b"b", b"a", b"b"] or r.engine.payloads == [
        b"a",
        b"a",
        b"b",
        b"b",
    ]
    assert net.trace[0].delivered_to == ["r1", "r1"]

    net = Network(seed=3)
    s, (r,) = star(net, 1)
    net.default_link = Link(duplicate=0.3)
    blast(net, s, [i.to_bytes(2, "big") for i in range(2000)])
    net.run()
    assert 500 < r.received - 2000 < 700 and net.stats.duplicated == r.received - 2000


def test_same_seed_same_trace() -> None:
    def script(seed: int) -> list[tuple[float, str, NLA, bytes, list[str], list[str]]]:
        net = Network(seed=seed)
        s, rs = star(net, 3)
        for r in rs:
            r.engine.echo = True
        net.default_link = Link(loss=0.1, delay=0.01, jitter=0.02, duplicate=0.05)
        for i in range(100):
            s.engine.at(i * 0.001, i.to_bytes(2, "big"), GROUP)
        net.run()
        return [
            (e.time, e.src.name, e.dst_addr, e.data, e.delivered_to, e.dropped_for)
            for e in net.trace
        ]

    first = script(42)
    assert len(first) > 300
    assert script(42) == first
    assert script(43) != first


# -- scripted drops --------------------------------------------------------------------------------
def test_drop_sqns_first_time_only() -> None:
    net = Network()
    s, (r,) = star(net, 1)
    net.set_link(s, r, Link(drop=drop_sqns([2, 4])))
    blast(net, s, [odata(i) for i in range(6)])
    net.run()
    got = [wire.parse(p) for p in r.engine.payloads]
    assert [p.data_sqn for p in got] == [0, 1, 3, 5]  # type: ignore[attr-defined]
    assert r.dropped == 2 and net.trace[2].dropped_for == ["r1"]
    # The retransmission of the same SQN passes (times=1); RDATA is not a listed type.
    blast(net, s, [odata(2), rdata(4)])
    net.run()
    assert [wire.parse(p).NAME for p in r.engine.payloads[-2:]] == ["ODATA", "RDATA"]


def test_drop_sqns_times_types_and_nak_lists() -> None:
    rule = drop_sqns([5], types=("ODATA", "RDATA"), times=2)
    assert rule(odata(5)) and rule(rdata(5)) and not rule(odata(5))
    assert not rule(b"short") and not rule(b"\0" * 4 + b"\x04" + b"junk")

    def nak(sqn: int, more: list[int]) -> bytes:
        opts: list[wire.Option] = [wire.OptNakList(more)] if more else []
        return wire.NAK(
            source_port=7500,
            destination_port=40000,
            gsi=GSI,
            nak_sqn=sqn,
            source_nla=IPv4Address("10.0.0.1"),
            group_nla=GROUP,
            options=opts,
        ).encode()

    naks = drop_sqns([7], types=("NAK",))
    assert not naks(odata(7))
    assert not naks(nak(6, []))
    assert naks(nak(5, [6, 7]))
    assert not naks(nak(7, []))  # budget used up
    with pytest.raises(ValueError, match="unknown PGM packet type"):
        drop_sqns([1], types=("BOGUS",))


def test_shared_link_drop_rule_hits_all_receivers_once() -> None:
    """A drop rule on the default link acts once per datagram: everyone loses SQN 1."""
    net = Network()
    s, rs = star(net, 3)
    net.default_link = Link(drop=drop_sqns([1]))
    blast(net, s, [odata(0), odata(1), odata(1)])
    net.run()
    for r in rs:
        assert [wire.parse(p).data_sqn for p in r.engine.payloads] == [0, 1]  # type: ignore[attr-defined]
    assert net.trace[1].dropped_for == ["r1", "r2", "r3"]


def test_drop_types_and_drop_all() -> None:
    spm = wire.SPM(source_port=40000, destination_port=7500, gsi=GSI, spm_sqn=1).encode()
    net = Network()
    s, (r1, r2) = star(net, 2)
    net.set_link(s, r1, Link(drop=drop_types("SPM")))
    net.set_link(s, r2, Link(drop=drop_all()))
    blast(net, s, [spm, odata(0)])
    net.run()
    assert r1.engine.payloads == [odata(0)]
    assert r2.engine.payloads == [] and r2.dropped == 2


def test_partition_and_wildcard_links() -> None:
    net = Network()
    s, (r1, r2) = star(net, 2)
    net.set_link(s, r1, Link(up=False), both=True)
    blast(net, s, [b"cut"])
    blast(net, r1, [b"up"], dst=s.address)
    net.run()
    assert r1.engine.payloads == [] and r2.engine.payloads == [b"cut"]
    assert s.engine.payloads == [] and s.dropped == 1 and r1.dropped == 1
    # Heal the partition at t=1 by a scripted action; everything flows again.
    net.call_at(1.0, lambda: net.set_link(s, r1, None, both=True))
    s.engine.at(1.0, b"healed", GROUP)
    s.poke()  # the application called the engine's API: pick up its new timer
    net.run()
    assert r1.engine.got == [(1.0, b"healed", s.address, GROUP)]
    # Wildcards: everything into r2 is delayed.
    net.set_link(None, r2, Link(delay=0.5))
    assert net.link(s, r2).delay == 0.5 and net.link(s, r1).delay == 0.0
    blast(net, s, [b"late"])
    net.run()
    assert r2.engine.got[-1][0] == 1.5 and r1.engine.got[-1][0] == 1.0


# -- clock, timers and run() -----------------------------------------------------------------------
def test_timer_fires_exactly_at_deadline_without_spurious_calls() -> None:
    net = Network()
    s, (r,) = star(net, 1)
    s.engine.at(5.0, b"late", GROUP)
    net.run(until=0.5)
    assert s.engine.timer_calls == []
    s.engine.at(0.123 + 0.5, b"early", GROUP)  # an earlier deadline after an API call
    s.poke()
    net.run()
    assert s.engine.timer_calls == [0.623, 5.0]  # the superseded wake-up was not a call
    assert [(g[0], g[1]) for g in r.engine.got] == [(0.623, b"early"), (5.0, b"late")]


def test_past_deadline_runs_now_clock_never_goes_back() -> None:
    net = Network()
    s, (r,) = star(net, 1)
    net.run(until=2.0)
    assert net.now == 2.0
    s.engine.at(1.0, b"overdue", GROUP)
    s.poke()
    net.run()
    assert s.engine.timer_calls == [2.0] and r.engine.got[0][0] == 2.0 and net.now == 2.0
    with pytest.raises(ValueError):
        net.run(until=1.0)
    with pytest.raises(ValueError):
        net.call_at(1.0, lambda: None)


def test_run_until_run_for_and_step() -> None:
    net = Network()
    t = net.add_node(Ticker(0.25), "10.0.0.1")
    net.run(until=1.1)
    assert t.engine.timer_calls == [0.25, 0.5, 0.75, 1.0] and net.now == 1.1
    net.run_for(0.4)
    assert t.engine.timer_calls[-2:] == [1.25, 1.5] and net.now == 1.5
    assert net.step() and net.now == 1.75
    assert net.next_time() == 2.0
    empty = Network()
    assert not empty.step()
    empty.run(until=3.0)
    assert empty.now == 3.0


def test_run_stop_condition() -> None:
    net = Network()
    s, (r,) = star(net, 1)
    for i in range(10):
        s.engine.at(i * 0.1, bytes([i]), GROUP)
    net.run(stop=lambda: r.received >= 3)
    assert r.received == 3 and net.now == pytest.approx(0.2)
    net.run(until=10.0, stop=lambda: False)
    assert r.received == 10 and net.now == 10.0


def test_max_events_guard() -> None:
    net = Network()
    net.add_node(Ticker(0.01), "10.0.0.1")
    with pytest.raises(RuntimeError, match="runaway"):
        net.run(max_events=1000)
    assert net.now == pytest.approx(9.99)

    class Stuck(Ticker):
        def handle_timer(self, now: float) -> None:  # never advances its deadline
            self.timer_calls.append(now)

    net = Network()
    net.add_node(Stuck(0.5), "10.0.0.1")
    with pytest.raises(RuntimeError, match="max_events"):
        net.run(until=1.0, max_events=100)
    assert net.now == 0.5


def test_ping_pong_storm_hits_guard() -> None:
    net = Network()
    a = net.add_node(Ping(echo=True), "10.0.0.1")
    b = net.add_node(Ping(echo=True), "10.0.0.2")
    a.engine.send(b"x", b.address)
    a.poke()
    with pytest.raises(RuntimeError):
        net.run(max_events=500)


# -- callbacks, trace and housekeeping -------------------------------------------------------------
def test_on_event_callback_and_keep_events() -> None:
    seen: list[tuple[str, object]] = []
    net = Network()
    s = net.add_node(Ping(), "10.0.0.1")
    r = net.add_node(
        Ping(),
        "10.0.0.2",
        [GROUP],
        name="r",
        on_event=lambda node, ev: seen.append((node.name, ev)),
        keep_events=False,
    )
    blast(net, s, [b"e"])
    net.run()
    assert seen == [("r", ("rx", b"e"))] and r.events == []


def test_sent_helper_parses_and_filters() -> None:
    net = Network()
    s, (r,) = star(net, 1)
    s.engine.at(0.05, odata(3), GROUP)
    s.engine.at(0.05, b"not a pgm packet", GROUP)
    r.engine.at(0.07, rdata(9), s.address)
    net.run()
    ((t, pkt),) = net.sent(by=s, type="ODATA")
    assert t == 0.05 and isinstance(pkt, wire.ODATA) and pkt.data_sqn == 3
    assert [p.NAME for _, p in net.sent()] == ["ODATA", "RDATA"]
    assert net.sent(by=r, type="ODATA") == []
    assert len(net.sent(to=s.address)) == 1
    assert net.trace[0].packet().NAME == "ODATA"


def test_trace_bounded_and_disabled() -> None:
    net = Network(trace_limit=10)
    s, _ = star(net, 1)
    blast(net, s, [bytes([i]) for i in range(25)])
    assert len(net.trace) == 10 and net.stats.trace_discarded == 15
    assert net.trace[0].data == bytes([15])

    quiet = Network(trace=False)
    s, (r,) = star(quiet, 1)
    blast(quiet, s, [b"a", b"b"])
    quiet.run()
    assert len(quiet.trace) == 0 and r.received == 2


def test_remove_node_discards_in_flight() -> None:
    net = Network()
    s, (r1, r2) = star(net, 2)
    net.default_link = Link(delay=1.0)
    blast(net, s, [b"x"])
    net.remove_node(r1)
    net.run()
    assert r1.engine.got == [] and r2.engine.payloads == [b"x"]
    assert net.members(GROUP) == [s, r2]
    with pytest.raises(KeyError):
        net.node("r1")


def test_rng_for_is_deterministic_and_independent() -> None:
    a, b = Network(seed=5), Network(seed=5)
    assert a.rng_for("r1").random() == b.rng_for("r1").random()
    assert a.rng_for("r1").random() != a.rng_for("r2").random()
    assert a.rng.random() == b.rng.random()
