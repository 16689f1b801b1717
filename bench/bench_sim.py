"""pgm sim benchmark: events per second and how run time grows with the number of receivers.

    python bench/bench_sim.py                          # 1, 10, 100, 1000 receivers x 1000 packets
    python bench/bench_sim.py --receivers 10,100 --packets 500 --loss 0.05
    python bench/bench_sim.py --json                   # machine-readable

Each point runs one scenario — one source, N receivers, ``--packets`` messages of 1000 bytes,
independent ``--loss`` per receiver, ``--delay`` one way — on the real engines through
:func:`pgm.sim.experiment.run`, the code behind ``pgm sim``.  It reports wall seconds, network
events (deliveries, timers, pokes) per second, deliveries per receiver and packet, and the time
per receiver-packet: with no implosion that last figure stays flat as N grows (the fan-out is
linear); NCFs multicast for every NAK make it grow with the NAKs that reach the source.
Figures depend on the machine and its load (docs/performance.md, docs/sim.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.sim import experiment
from pgm.sim.scenario import parse


def point(receivers: int, packets: int, loss: float, delay: float) -> dict[str, Any]:
    """Run one scenario; its figures."""
    sc = parse(
        {
            "name": "bench",
            "seed": 1,
            "time_limit": 3600.0,
            "transfer": {"messages": packets, "message_size": 1000},
            "source": {"rate_bps": 10_000_000},
            "receivers": {"count": receivers, "link": {"loss": loss, "delay": delay}},
        }
    )
    s = experiment.run(sc).summary
    wall = s["wall_seconds"]
    return {
        "receivers": receivers,
        "packets": packets,
        "loss": loss,
        "wall_s": round(wall, 3),
        "events": s["events"],
        "events_per_s": round(s["events"] / wall),
        "deliveries_per_rx_packet": round(s["deliveries"] / (receivers * packets), 2),
        "us_per_rx_packet": round(wall / (receivers * packets) * 1e6, 2),
        "naks_at_source": s["naks_at_source"],
        "complete": s["complete_receivers"],
        "virtual_s": round(s["virtual_seconds"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--receivers", default="1,10,100,1000", help="comma-separated group sizes")
    ap.add_argument("--packets", type=int, default=1000)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--delay", type=float, default=0.001, help="one-way delay, seconds")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sizes = [int(x) for x in a.receivers.split(",")]
    rows = []
    for n in sizes:
        rows.append(point(n, a.packets, a.loss, a.delay))
        if not a.json:
            r = rows[-1]
            print(
                f"{n:>6} receivers: {r['wall_s']:8.2f} s wall  {r['events_per_s']:>8} events/s  "
                f"{r['us_per_rx_packet']:7.2f} us/receiver-packet  "
                f"{r['deliveries_per_rx_packet']:5.2f} deliveries/receiver-packet  "
                f"{r['naks_at_source']} NAKs at source  {r['complete']}/{n} complete",
                flush=True,
            )
    if a.json:
        meta = {"python": platform.python_version(), "machine": platform.machine()}
        print(json.dumps({"meta": meta, "points": rows}, indent=2))


if __name__ == "__main__":
    main()
