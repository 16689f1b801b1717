"""``--json`` of ``send`` and ``recv`` agree (issue 14): one base for sequence numbers, and the
notes that say why the wire rate differs from the goodput.  Engines in memory, no network."""

from __future__ import annotations

from ipaddress import ip_address

from pgm.cli.report import RATE_NOTES, receiver_summary, sender_summary
from pgm.engine import Receiver, ReceiverConfig, Source, SourceConfig

GROUP = ip_address("239.192.0.1")
SRC = ip_address("10.0.0.1")


def test_sender_and_receiver_count_sequence_numbers_alike() -> None:
    src = Source(SourceConfig(), group=GROUP, nla=SRC, dport=7500, now=0.0)
    rx = Receiver(ReceiverConfig(), group=GROUP, dport=7500, now=0.0)
    for i in range(3):
        src.send(b"m%d" % i, 0.0)
    for pkt, _dst, _ttl in src.datagrams_to_send(0.0):
        rx.receive(pkt, SRC, 0.0)
    tx_stats = src.stats_dict(0.1)
    (session,) = rx.sessions.values()
    rx_stats = session.stats_dict(0.1)
    assert (tx_stats["trail"], tx_stats["lead"]) == (0, 2)
    assert (rx_stats["trail"], rx_stats["lead"], rx_stats["next"]) == (0, 2, 3)
    assert rx_stats["first_sqn"] == 0


def test_summaries_explain_rate_and_goodput() -> None:
    s = sender_summary(nbytes=1000, messages=1, duration=1.0, stats={"rate_kbps_overall": 9.5})
    r = receiver_summary(nbytes=1000, messages=1, duration=1.0, session_stats={}, stats={})
    assert s["notes"] == r["notes"] == RATE_NOTES
    assert "linger included" in RATE_NOTES["rate_kbps_overall"]
    assert "lingering is not counted" in RATE_NOTES["goodput_mbps"]
