"""Hostile peers against the receiver (issue 13, docs/security.md), in memory on virtual time.

Each test runs a real transfer (one Source, one or two Receivers on :mod:`pgm.sim`) while an
attacker in the group forges packets from what it overhears (:mod:`tests.helpers.hostile`),
and asserts that the legitimate transfer arrives intact and in time, that the bad input was
counted, and that memory stayed within the documented caps.
"""

from __future__ import annotations

from collections.abc import Callable

from pgm import wire
from pgm.engine import ReceiverConfig, SessionEnded, SourceConfig
from pgm.sim import Link
from pgm.sim.links import drop_sqns, drop_types
from tests.helpers.hostile import Attacker, add_attacker, send
from tests.helpers.world import GROUP4, World, make_world

COUNT = 2000
SIZE = 1000


def _scene(
    n: int = 1, *, rcfg: ReceiverConfig | None = None, link: Link | None = None
) -> tuple[World, Attacker, list[bytes]]:
    scfg = SourceConfig(rate_bps=10_000_000, window_secs=30, linger_secs=5)
    w = make_world(n, seed=3, source_config=scfg, receiver_config=rcfg, link=link)
    node = add_attacker(w.net, w.source.tsi, GROUP4)
    msgs = [i.to_bytes(4, "big") * (SIZE // 4) for i in range(COUNT)]
    w.send_all(msgs, at=0.01)
    return w, node.engine, msgs


def _at(w: World, t: float, fn: Callable[[], object]) -> None:
    w.net.call_at(t, fn)


def _attack(w: World, t: float, make: Callable[[Attacker], bytes], dst: str | None = None) -> None:
    node = w.net.node("attacker")
    _at(w, t, lambda: send(node, make(node.engine), dst))


def _intact(w: World, msgs: list[bytes], i: int = 0, limit: float = 60.0) -> None:
    w.run_until_ended(limit=limit)
    assert w.net.now < limit, "the session did not end in time"
    got = [e.data for e in w.delivered(i)]
    assert len(got) == len(msgs) and got == msgs, f"{len(got)} of {len(msgs)} messages"
    assert not w.losses(i)
    ends = [e for e in w.rx_nodes[i].events if isinstance(e, SessionEnded)]
    assert [e.reason for e in ends] == ["fin"]


def _stats(w: World, i: int = 0) -> object:
    info = w.receivers[i].session_info(w.source.tsi)
    assert info is not None
    return info.stats


# -- forged state changes --------------------------------------------------------------------


def test_forged_fin_spm_does_not_truncate() -> None:
    w, _, msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.spm(options=[wire.OptFin()]))
    _intact(w, msgs)
    assert _stats(w).suspect_fins >= 1  # type: ignore[attr-defined]


def test_forged_fin_spm_far_ahead_in_sequence_does_not_truncate() -> None:
    w, _, msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.spm(sqn_ahead=5, options=[wire.OptFin()]))
    _attack(w, 0.6, lambda a: a.forger.spm(sqn_ahead=6, options=[wire.OptFin()]))
    _intact(w, msgs)


def test_forged_fin_on_data_does_not_end_the_session() -> None:
    w, _, msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.odata(a.forger.lead + 50, options=[wire.OptFin()]))
    w.run_until_ended(limit=60)
    got = [e.data for e in w.delivered(0)]
    # PGM has no integrity protection: the forged payload took its sequence number (the real
    # one came second and was a duplicate, docs/security.md) - but nothing is cut short.
    assert len(got) == COUNT and sum(a != b for a, b in zip(got, msgs, strict=True)) == 1
    assert not w.losses(0)
    assert _stats(w).suspect_fins >= 1  # type: ignore[attr-defined]


def test_forged_fin_on_data_beyond_the_real_end_declares_nothing_lost() -> None:
    # After the last data: the real FIN SPMs (lead = the real last number) roll it back.
    for at in (1.5, 1.72):  # before and after the real FIN (it ends ~1.87 s)
        w, _, msgs = _scene()
        _attack(w, at, lambda a: a.forger.odata(COUNT + 49, options=[wire.OptFin()]))
        _intact(w, msgs)
        assert _stats(w).suspect_packets >= 1  # type: ignore[attr-defined]


def test_forged_rst_is_reported_as_rst() -> None:
    w, _, _msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.spm(options=[wire.OptRst()]))
    w.run_until_ended(limit=60)
    ends = [e for e in w.rx_nodes[0].events if isinstance(e, SessionEnded)]
    assert [e.reason for e in ends] == ["rst"]  # never a clean end: the caller sees it


def test_far_future_spm_writes_nothing_off() -> None:
    w, _, msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.spm(lead=a.forger.lead + (1 << 20) - 10))
    _intact(w, msgs)
    st = _stats(w)
    assert st.suspect_packets >= 1 and st.lost_sqns == 0  # type: ignore[attr-defined]
    assert st.selective_naks_sent < 100  # type: ignore[attr-defined]


def test_far_future_odata_and_ncf_write_nothing_off() -> None:
    w, _, msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.odata(a.forger.lead + (1 << 19)))
    _attack(w, 0.7, lambda a: a.forger.ncf([a.forger.lead + (1 << 19) + 7]))
    _intact(w, msgs)
    st = _stats(w)
    assert st.suspect_packets >= 2 and st.selective_naks_sent < 100  # type: ignore[attr-defined]


def test_trail_ahead_of_sqn_is_dropped() -> None:
    w, _, msgs = _scene()
    _attack(w, 0.5, lambda a: a.forger.odata(a.forger.lead + 1, trail=a.forger.lead + 100_000))
    _attack(w, 0.6, lambda a: a.forger.spm(trail=a.forger.lead + 100_000))
    _intact(w, msgs)
    assert _stats(w).suspect_packets >= 2  # type: ignore[attr-defined]


def test_spm_sequence_jump_with_another_path_nla_redirects_nothing() -> None:
    w, _, msgs = _scene(link=Link(loss=0.02))
    for k, ahead in enumerate((1 << 30, 100)):
        _attack(w, 0.3 + k * 0.2, lambda a, d=ahead: a.forger.spm(sqn_ahead=d, path="10.0.0.66"))
    _intact(w, msgs)
    naks = w.packets(w.rx_nodes[0], type="NAK")
    assert naks and all(p.source_nla == w.source.nla for _, p in naks)  # type: ignore[attr-defined]
    st = _stats(w)
    assert st.path_nla_changes_damped >= 2  # type: ignore[attr-defined]


def test_peer_nak_suppression_is_bounded() -> None:
    # r0 misses some data; a member multicasts NAKs for them every 10 ms, "suppressing" r0.
    lost = list(range(300, 340))
    w, _, msgs = _scene()
    w.net.set_link(w.src_node, w.rx_nodes[0], Link(drop=drop_sqns(lost, types=("ODATA",))))
    # The member's NAKs reach the other receivers only (as with TTL 1 behind a router).
    w.net.set_link(w.net.node("attacker"), w.src_node, Link(drop=drop_types("NAK")))
    for k in range(300):
        _attack(w, 0.2 + k * 0.01, lambda a: a.forger.nak(lost), dst=GROUP4)
    _intact(w, msgs)
    assert _stats(w).peer_naks_ignored > 0  # type: ignore[attr-defined]


# -- session choice ------------------------------------------------------------------------------


def test_a_pinned_receiver_ignores_a_forged_session_sent_first() -> None:
    from pgm.wire import TSI, as_nla

    real = TSI(bytes([1, 2, 3, 4, 5, 3]), 40000)  # make_world's source with seed 3
    for rcfg in (ReceiverConfig(only_source=as_nla("10.0.0.1")), ReceiverConfig(only_tsi=real)):
        w, _, msgs = _scene(rcfg=rcfg)
        assert w.source.tsi == real
        node = w.net.node("attacker")
        forged = TSI(b"forged", 4242)

        def go(node: object = node, forged: TSI = forged) -> None:
            f = node.engine.forger  # type: ignore[attr-defined]
            old, f.tsi = f.tsi, forged
            for q in range(24):
                opts = [wire.OptFin()] if q == 23 else []
                send(node, f.odata(q, b"attacker data", trail=0, options=opts))  # type: ignore[arg-type]
            f.tsi = old

        _at(w, 0.001, go)
        _intact(w, msgs)
        assert w.receivers[0].session_info(forged) is None
        assert w.receivers[0].stats.sessions_not_chosen >= 24
