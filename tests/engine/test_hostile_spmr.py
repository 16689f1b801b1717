"""SPMR suppression of the FIN probe in a big group (issue 13, docs/security.md).

A receiver asks the source (SPMR) whether a FIN is real.  Without suppression every one of N
receivers multicasts its SPMR and the source answers each: N² deliveries.  The probe now waits
a random back-off and is dropped when an SPM is heard first; a peer's multicast SPMR defers
it until the answer.  In memory, on virtual time (:mod:`pgm.sim`), 50 receivers.
"""

from __future__ import annotations

from pgm import wire
from pgm.engine import SessionEnded, SourceConfig
from pgm.sim import Link
from pgm.sim.links import type_code
from tests.helpers.hostile import add_attacker, send
from tests.helpers.world import GROUP4, World, make_world

N = 50
COUNT = 200
_SPM = type_code("SPM")
_SPMR = type_code("SPMR")


def _until_asked() -> object:
    """A drop rule: the source's FIN SPMs are lost until some SPMR has gone by, so the
    receivers learn of the FIN from the data alone and must probe it."""
    asked = False

    def predicate(data: bytes) -> bool:
        nonlocal asked
        if data[4] == _SPMR:
            asked = True
        if asked or data[4] != _SPM:
            return False
        pkt = wire.parse(data, verify=False)
        return pkt.option(wire.OptFin) is not None

    return predicate


def _world(drop: object = None) -> tuple[World, list[bytes]]:
    scfg = SourceConfig(rate_bps=10_000_000, window_secs=30, linger_secs=5)
    link = Link(delay=0.002, drop=drop)  # type: ignore[arg-type]
    w = make_world(N, seed=7, source_config=scfg, link=link)
    msgs = [i.to_bytes(4, "big") * 100 for i in range(COUNT)]
    return w, msgs


def _ended_fin(w: World, msgs: list[bytes], limit: float = 30.0) -> None:
    w.run_until_ended(limit=limit)
    assert w.net.now < limit, "a session did not end in time"
    for i, node in enumerate(w.rx_nodes):
        got = [e.data for e in w.delivered(i)]
        assert got == msgs, f"receiver {i}: {len(got)} of {len(msgs)} messages"
        assert not w.losses(i)
        ends = [e.reason for e in node.events if isinstance(e, SessionEnded)]
        assert ends == ["fin"], f"receiver {i} ended {ends}"


def _sum(w: World, field: str) -> int:
    total = 0
    for r in w.receivers:
        info = r.session_info(w.source.tsi)
        assert info is not None
        total += getattr(info.stats, field)
    return total


def test_fin_probes_are_suppressed_in_a_big_group() -> None:
    w, msgs = _world(_until_asked())
    w.send_all(msgs)
    _ended_fin(w, msgs)
    sent = _sum(w, "spmrs_sent")
    assert 1 <= sent <= 10, f"{sent} SPMRs from {N} receivers"
    assert _sum(w, "spmrs_suppressed") >= N - sent
    assert w.source.stats.spmrs_received <= 2 * sent  # unicast + multicast copy each
    assert len(w.packets(type="SPMR")) <= 2 * sent


def test_fin_probe_dropped_when_the_source_repeats_its_fin() -> None:
    # The source's own FIN SPMs arrive right behind the FIN on the last data: nobody asks.
    w, msgs = _world()
    w.send_all(msgs)
    _ended_fin(w, msgs)
    assert _sum(w, "spmrs_sent") <= 5
    assert _sum(w, "spmrs_suppressed") >= N - 5


def test_forged_fin_on_an_idle_source_is_still_cancelled_by_few_probes() -> None:
    # The source sends half, falls idle (between heartbeats), a forged FIN SPM comes: the
    # first probe's SPMR defers the others, the real source answers without FIN, and every
    # receiver cancels the FIN.  Then the source sends the rest and closes.
    w, msgs = _world()
    node = add_attacker(w.net, w.source.tsi, GROUP4)
    half = len(msgs) // 2
    w.send_all(msgs[:half], close=False)
    w.net.call_at(3.0, lambda: send(node, node.engine.forger.spm(options=[wire.OptFin()])))
    w.send_all(msgs[half:], at=4.0)
    _ended_fin(w, msgs)
    assert _sum(w, "suspect_fins") >= N  # every receiver cancelled it
    probes = [t for t, _ in w.packets(type="SPMR") if 3.0 <= t < 4.0]
    assert 1 <= len(probes) <= 20, f"{len(probes)} SPMR packets for the forged FIN"


def test_a_forged_spmr_does_not_silence_the_probe() -> None:
    # A forged FIN SPM and at once a forged multicast SPMR (as if a peer had asked, but the
    # source never hears it): the probe waits for an answer, none comes, so it asks itself.
    scfg = SourceConfig(rate_bps=10_000_000, window_secs=30, linger_secs=5)
    w = make_world(1, seed=7, source_config=scfg, link=Link(delay=0.002))
    msgs = [i.to_bytes(4, "big") * 100 for i in range(COUNT)]
    node = add_attacker(w.net, w.source.tsi, GROUP4)
    w.net.set_link(node, w.src_node, Link(up=False))  # the source never hears the attacker
    f = node.engine.forger
    spmr = wire.SPMR(source_port=f.dport, destination_port=f.tsi.source_port, gsi=f.tsi.gsi)
    w.send_all(msgs[:100], close=False)
    w.net.call_at(3.0, lambda: send(node, f.spm(options=[wire.OptFin()])))
    w.net.call_at(3.0005, lambda: send(node, spmr.encode()))
    w.send_all(msgs[100:], at=4.0)
    _ended_fin(w, msgs)
    info = w.receivers[0].session_info(w.source.tsi)
    assert info is not None and info.stats.suspect_fins >= 1
    mine = w.packets(w.rx_nodes[0], type="SPMR")
    assert any(3.0 < t < 3.3 for t, _ in mine), "the receiver asked the source itself"
