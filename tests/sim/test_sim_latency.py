"""Repair latency samples: one per repaired sequence number, none for repairs after the end.

In a group, repairs others asked for keep arriving after a receiver's session has ended (it
had everything); the probe must not take those for repairs of its own (it once counted the
ended session's whole total again for each of them: ten times the samples at 100 receivers,
and tens of gigabytes at 1 000 receivers x 10 000 packets).
"""

from __future__ import annotations

from pgm.sim import experiment
from pgm.sim.scenario import parse


def test_one_latency_sample_per_repair() -> None:
    sc = parse(
        {
            "name": "lat",
            "seed": 3,
            "transfer": {"messages": 300, "message_size": 500},
            "source": {"rate_bps": 50_000_000},
            "receivers": {"count": 40, "link": {"loss": 0.05, "delay": 0.001}},
        }
    )
    r = experiment.run(sc)
    assert r.summary["complete_receivers"] == 40
    assert sum(m.repairs for m in r.receivers) > 0
    for m in r.receivers:
        # A repair of data sent before the receiver joined is history, not latency.
        assert m.latency_samples == m.repairs - m.history_repairs, m
    assert len(r.latencies) == sum(m.latency_samples for m in r.receivers)
