"""FEC settings: SourceConfig's validation (RM_FEC_INFO's rules), the facade's RM_USE_FEC
mapping and the statistics that show parity at work (docs/fec.md)."""

from __future__ import annotations

import dataclasses

import pytest

from pgm import rm, wire
from pgm.engine import ConfigError, SourceConfig
from pgm.engine.config import FEC_ROOM
from pgm.rm.options import SocketOptions
from pgm.rm.sender import source_config
from pgm.rm.stats import receiver_stats, sender_stats
from pgm.sim import Link
from tests.helpers.world import make_world, messages


@pytest.mark.parametrize(
    ("k", "n", "pro", "ond"),
    [(3, 255, 1, False), (256, 255, 0, True), (1, 255, 0, True), (8, 8, 0, True),
     (8, 256, 0, True), (8, 12, 5, False), (8, 255, 0, False)],
)  # fmt: skip
def test_bad_fec_settings_are_refused(k: int, n: int, pro: int, ond: bool) -> None:
    with pytest.raises(ConfigError):
        SourceConfig(fec_group_size=k, fec_block_size=n, fec_proactive=pro, fec_ondemand=ond)


def test_fec_without_a_group_size_is_refused() -> None:
    with pytest.raises(ConfigError, match="fec_group_size"):
        SourceConfig(fec_proactive=2)


def test_good_fec_settings_and_the_room_they_take() -> None:
    plain = SourceConfig()
    for k in (2, 4, 64, 128):
        cfg = SourceConfig(fec_group_size=k, fec_block_size=255, fec_proactive=1)
        assert cfg.fec and cfg.max_tsdu == plain.max_tsdu - FEC_ROOM
    assert not plain.fec
    SourceConfig(fec_group_size=8, fec_block_size=12, fec_proactive=4, fec_ondemand=True)


def test_rm_use_fec_maps_onto_source_config() -> None:
    opts = dataclasses.replace(SocketOptions(), fec=rm.RM_FEC_INFO(16, 2, 8, 1))
    cfg = source_config(None, opts)
    assert (cfg.fec_block_size, cfg.fec_group_size, cfg.fec_proactive, cfg.fec_ondemand) == (
        16, 8, 2, True,
    )  # fmt: skip
    assert not source_config(None, SocketOptions()).fec


def test_statistics_show_parity_at_work() -> None:
    """On-demand parity at 5 % loss: RM_RECEIVER_STATS.TotalParityNaksSent counts the parity
    NAKs, RM_SENDER_STATS counts them in NaksReceived and the parity in RepairPacketsSent."""
    cfg = SourceConfig(rate_bps=20_000_000, window_secs=30, linger_secs=5, fec_group_size=8,
                       fec_ondemand=True)  # fmt: skip
    w = make_world(3, seed=2, source_config=cfg, link=Link(loss=0.05))
    msgs = messages(2, 150)
    w.send_all(msgs)
    w.run_until_ended(120.0)
    info = w.source.info(w.net.now)
    rs = sender_stats(info, 0)
    st = info.stats
    assert st.parity_naks_received > 0 and st.parity_packets_sent > 0
    assert rs.NaksReceived == st.naks_received + st.parity_naks_received
    assert rs.RepairPacketsSent == st.repair_packets_sent + st.parity_packets_sent
    total = 0
    for r in w.receivers:
        (tsi,) = r.ended_sessions
        si = r.session_info(tsi)
        assert si is not None
        rr = receiver_stats(si)
        assert rr.TotalParityNaksSent == si.stats.parity_naks_sent
        total += rr.TotalParityNaksSent
        assert si.stats.parity_packets_received > 0
    assert total > 0
    assert w.source.stats_dict(w.net.now)["parity_packets_sent"] == st.parity_packets_sent


def test_parity_of_a_session_without_fec_stays_ignored() -> None:
    """A PARITY-flagged packet from a session whose SPM advertised no parity is counted in
    ``parity_packets_ignored`` and dropped (never decoded, never delivered)."""
    w = make_world(1, seed=4)
    w.send_all([b"x" * 100] * 4)
    w.run_until_ended(30.0)
    r = w.receivers[0]
    (tsi,) = r.ended_sessions
    assert r.ended_sessions[tsi].fec is None
    assert wire.FLAG_PARITY  # the flag exists; the source sent none without FEC
    assert not [p for _, p in w.packets(w.src_node) if getattr(p, "parity", False)]
