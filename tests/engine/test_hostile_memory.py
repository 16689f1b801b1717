"""Memory and CPU caps against hostile input (issue 13, docs/security.md).

The receiver is fed forged packets directly (virtual time).  Plausibility checks are opened
wide (``lead_jump_sqns``) so that the memory caps alone are tested: engine-held bytes by the
engine's own accounting (:meth:`Receiver.held_bytes`) must stay within the documented caps.
"""

from __future__ import annotations

import random
from typing import Any

from pgm import wire
from pgm.engine import Receiver, ReceiverConfig
from pgm.engine.config import HELD_PACKET_OVERHEAD
from pgm.wire import TSI, as_nla
from tests.helpers.hostile import Forger

GROUP = "239.192.0.1"
SRC = as_nla("10.0.0.66")
GRP = as_nla(GROUP)
MIB = 1 << 20


def _rx(**kw: Any) -> Receiver:
    cfg = ReceiverConfig(lead_jump_sqns=1 << 19, **kw)
    return Receiver(cfg, group=GROUP, rng=random.Random(1))


def _start(r: Receiver, gsi: bytes = b"attack", port: int = 4000) -> Forger:
    f = Forger(TSI(gsi, port), GROUP, 7500)
    f.path = SRC
    r.receive(f.spm(lead=0xFFFFFFFF, trail=0), SRC, 0.0, GRP)  # delivery starts at 0
    f.lead = 0xFFFFFFFF
    return f


def test_fragments_naming_the_missing_head_are_capped() -> None:
    r = _rx(max_buffer_bytes=MIB, max_apdu=MIB)
    f = _start(r)
    head = wire.OptFragment(first_sqn=0, offset=0, apdu_length=MIB)
    for q in range(1, 5000):  # SQN 0 never comes; each claims to continue its message
        frag = wire.OptFragment(first_sqn=0, offset=(q * 1000) % MIB, apdu_length=MIB)
        r.receive(f.odata(q, b"z" * 1000, options=[frag]), SRC, 0.001, GRP)
    bad = wire.OptFragment(first_sqn=9000, offset=0, apdu_length=10)  # starts after itself
    r.receive(f.odata(6000, b"z" * 1000, options=[bad]), SRC, 0.001, GRP)
    assert head.apdu_length == MIB
    assert r.held_bytes() <= 2 * MIB  # max_buffer_bytes + max_apdu for the head message
    st = r.sessions[f.tsi].stats
    assert st.buffer_drops > 0 and st.bad_fragments >= 1


def test_empty_packets_count_their_overhead() -> None:
    r = _rx(max_buffer_bytes=MIB)
    f = _start(r)
    for q in range(1, 50_000):
        r.receive(f.odata(q, b""), SRC, 0.001, GRP)
    assert r.held_bytes() <= MIB
    assert len(r.sessions[f.tsi].buf) <= MIB // HELD_PACKET_OVERHEAD


def test_a_global_budget_across_sessions() -> None:
    r = _rx(max_buffer_bytes=MIB, max_total_bytes=4 * MIB)
    forgers = [_start(r, bytes([i]) * 6, 5000 + i) for i in range(40)]
    for q in range(1, 1200):
        for f in forgers:
            r.receive(f.odata(q, b"m" * 1000), SRC, 0.001, GRP)
    # Beyond the budget only sessions under their fair share grow: at most twice it.
    assert r.held_bytes() <= 2 * 4 * MIB
    assert sum(s.stats.memory_drops for s in r.sessions.values()) > 0


def test_sessions_arriving_one_by_one_stay_within_twice_the_budget() -> None:
    # Each new session fills what its (ever smaller) fair share allows before the next comes:
    # without the ceiling the shares add up harmonically (~3.6x the budget here).
    r = _rx(max_buffer_bytes=MIB, max_total_bytes=MIB)
    for i in range(200):
        f = _start(r, i.to_bytes(6, "big"), 6000)
        for q in range(1, 60):
            r.receive(f.odata(q, b"m" * 1000), SRC, 0.001, GRP)
        assert r.held_bytes() <= 2 * MIB
    assert sum(s.stats.memory_drops for s in r.sessions.values()) > 0


def test_many_short_sessions_keep_only_a_summary() -> None:
    r = _rx()
    t = 0.0
    for i in range(1100):
        f = Forger(TSI(i.to_bytes(6, "big"), 6000), GROUP, 7500)
        f.path = SRC
        r.receive(f.odata(100, b"a"), SRC, t, GRP)
        r.receive(f.odata(105, b"b", options=[wire.OptFin()]), SRC, t, GRP)  # gap 101..104
        t += 0.01
        r.handle_timer(t)
    r.handle_timer(t + 400.0)  # FIN confirmations and expiry
    assert not r.sessions and r.held_bytes() == 0
    assert len(r.ended_sessions) <= r.config.ended_memory
    for s in r.ended_sessions.values():
        assert not s.naks and not s.lost and not s.backoff and not s.buf and not s.wait_ncf


class _CountingDict(dict[int, Any]):
    iterations = 0

    def __iter__(self) -> Any:
        _CountingDict.iterations += 1
        return super().__iter__()


def test_loss_reporting_does_not_scan_held_packets() -> None:
    # Runs of 20 packets with 1-SQN gaps, then the trail passes them all: every gap is
    # reported lost; the work must not grow with the packets held per gap.
    r = _rx()
    f = _start(r)
    s = r.sessions[f.tsi]
    s.buf = _CountingDict()
    q = 1
    for _ in range(500):
        for _ in range(20):
            r.receive(f.odata(q, b"x"), SRC, 0.001, GRP)
            q += 1
        q += 1  # a one-number gap
    _CountingDict.iterations = 0
    r.receive(f.odata(q, b"x", trail=q), SRC, 0.002, GRP)
    assert s.stats.loss_events >= 500
    assert _CountingDict.iterations < 50
