"""Hostile NAKers against the source (issue 13, docs/security.md), in memory on virtual time.

A group member NAKs (valid, in-window numbers: it learns the window by listening) as fast or
as slowly as it likes.  New data must keep its guaranteed share (``repair_share``), NCFs stay
within their budget (``ncf_share``), and a legitimate receiver's repairs are still served
(round-robin over NAKers).
"""

from __future__ import annotations

from pgm.engine import ReceiverConfig, SourceConfig
from pgm.sim import Link
from pgm.sim.links import drop_sqns
from tests.helpers.hostile import Attacker, add_attacker, send
from tests.helpers.world import GROUP4, World, make_world

RATE = 10_000_000
COUNT = 2000
SIZE = 1000


def _scene(link: Link | None = None) -> tuple[World, Attacker, list[bytes]]:
    scfg = SourceConfig(rate_bps=RATE, window_secs=30, linger_secs=5)
    w = make_world(1, seed=5, source_config=scfg, receiver_config=ReceiverConfig(), link=link)
    node = add_attacker(w.net, w.source.tsi, GROUP4)
    msgs = [i.to_bytes(4, "big") * (SIZE // 4) for i in range(COUNT)]
    w.send_all(msgs, at=0.01)
    return w, node.engine, msgs


def _flood(w: World, start: float, stop: float, per_sec: float) -> None:
    """The attacker NAKs 63 numbers of the window (wrapping over it) ``per_sec`` times a second."""
    node = w.net.node("attacker")
    src = str(w.source.nla)
    n = int((stop - start) * per_sec)
    for k in range(n):

        def go(k: int = k) -> None:
            f = node.engine.forger
            lo = max(0, f.lead - 500)
            first = lo + (k * 63) % max(1, f.lead - lo - 62)
            send(node, f.nak(list(range(first, first + 63))), src)

        w.net.call_at(start + k / per_sec, go)


def _ended_intact(w: World, msgs: list[bytes], limit: float) -> None:
    w.run_until_ended(limit=limit)
    got = [e.data for e in w.delivered(0)]
    assert got == msgs and not w.losses(0)
    assert w.net.now < limit


def _odata_between(w: World, t0: float, t1: float) -> int:
    return sum(1 for t, _ in w.packets(w.src_node, type="ODATA") if t0 <= t < t1)


def test_nak_flood_leaves_new_data_its_share() -> None:
    w, _, msgs = _scene()
    _flood(w, 0.2, 1.2, 2000)  # 126 000 numbers a second: far beyond the rate
    _ended_intact(w, msgs, limit=30)
    # ODATA kept at least (1 - repair_share) of the rate during the flood.
    per_sec = RATE / 8 / (SIZE + 44)
    sent = _odata_between(w, 0.3, 1.2)
    assert sent >= 0.9 * (1 - w.source.config.repair_share) * per_sec * 0.9
    assert w.source.stats.repair_packets_sent > 0


def test_slow_hostile_naker_does_not_stop_odata() -> None:
    w, _, msgs = _scene()
    _flood(w, 0.2, 1.5, 15)  # 15 NAK lists a second (the 35 kbit/s)
    _ended_intact(w, msgs, limit=30)
    assert _odata_between(w, 0.3, 1.3) > 300


def test_ncfs_stay_within_their_budget_and_merge() -> None:
    w, _, msgs = _scene()
    _flood(w, 0.2, 1.2, 2000)
    _ended_intact(w, msgs, limit=30)
    ncf_bytes = sum(len(p.encode()) + 20 for _, p in w.packets(w.src_node, type="NCF"))
    cfg = w.source.config
    budget = cfg.rate_bps / 8 * cfg.ncf_share * w.net.now + cfg.mtu * 2
    assert ncf_bytes <= budget
    assert w.source.stats.ncfs_merged > 0


def test_legitimate_repairs_are_served_during_a_flood() -> None:
    # The receiver loses 40 packets; the attacker floods NAKs for other numbers meanwhile.
    lost = list(range(600, 640))
    w, _, msgs = _scene()
    w.net.set_link(w.src_node, w.rx_nodes[0], Link(drop=drop_sqns(lost, types=("ODATA",))))
    _flood(w, 0.2, 2.5, 2000)
    _ended_intact(w, msgs, limit=30)


def test_a_repair_not_sent_for_want_of_tokens_keeps_its_turn() -> None:
    from pgm.engine.source.budget import SourceBudget
    from pgm.engine.source.stats import SourceStats
    from pgm.wire import as_nla

    b = SourceBudget(SourceConfig(), SourceStats(), 0.0)
    queue: dict[int, None] = {}
    for naker, sqns in (("10.0.0.2", [1, 2]), ("10.0.0.3", [7])):
        mine = b.naker(as_nla(naker))
        for q in sqns:
            queue[q] = None
            mine.append(q)
    assert b.next_repair(queue) == 1  # not sent (no tokens): it stays queued ...
    assert b.next_repair(queue) == 7  # ... the other NAKer's turn ...
    assert b.next_repair(queue) == 1  # ... and then it comes again
    del queue[1]
    assert b.next_repair(queue) == 7
    del queue[7]
    assert b.next_repair(queue) == 2
