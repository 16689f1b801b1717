"""pgm sim benchmark: events per second and how run time grows with the number of receivers.

    python bench/bench_sim.py                          # 1, 10, 100, 1000 receivers x 1000 packets
    python bench/bench_sim.py --receivers 10,100 --packets 500 --loss 0.05
    python bench/bench_sim.py --rate 100e6             # a source fast enough for the repairs
    python bench/bench_sim.py --json                   # machine-readable

Each point runs one scenario — one source, N receivers, ``--packets`` messages of 1000 bytes,
independent ``--loss`` per receiver, ``--delay`` one way — on the real engines through
:func:`pgm.sim.experiment.run`, the code behind ``pgm sim``.  It reports wall and CPU seconds
(and the CPU time against the previous group size: how run time grows with receivers),
network events (deliveries, timers, pokes) per second, deliveries per receiver and packet, and
the time per receiver-packet: with no implosion that last figure stays flat as N grows (the
fan-out is linear); NCFs multicast for every NAK make it grow with the NAKs that reach the
source.  The load average is printed too: on a shared machine, compare runs made together.
Figures depend on the machine and its load (docs/performance.md, docs/sim.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.sim import experiment
from pgm.sim.scenario import parse


def point(
    receivers: int, packets: int, loss: float, delay: float, rate: float = 10e6
) -> dict[str, Any]:
    """Run one scenario; its figures."""
    sc = parse(
        {
            "name": "bench",
            "seed": 1,
            "time_limit": 3600.0,
            "transfer": {"messages": packets, "message_size": 1000},
            "source": {"rate_bps": int(rate)},
            "receivers": {"count": receivers, "link": {"loss": loss, "delay": delay}},
        }
    )
    cpu = time.process_time()
    s = experiment.run(sc).summary
    cpu = time.process_time() - cpu
    wall = s["wall_seconds"]
    return {
        "receivers": receivers,
        "packets": packets,
        "loss": loss,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "events": s["events"],
        "events_per_s": round(s["events"] / wall),
        "events_per_cpu_s": round(s["events"] / cpu) if cpu > 0 else None,
        "deliveries_per_rx_packet": round(s["deliveries"] / (receivers * packets), 2),
        "us_per_rx_packet": round(wall / (receivers * packets) * 1e6, 2),
        "naks_at_source": s["naks_at_source"],
        "latency_p50_s": round(s["latency_p50"], 4),
        "complete": s["complete_receivers"],
        "virtual_s": round(s["virtual_seconds"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--receivers", default="1,10,100,1000", help="comma-separated group sizes")
    ap.add_argument("--packets", type=int, default=1000)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--delay", type=float, default=0.001, help="one-way delay, seconds")
    ap.add_argument("--rate", type=float, default=10e6, help="source rate, bit/s")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sizes = [int(x) for x in a.receivers.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if not a.json:
        print(
            f"pgm sim benchmark: {a.packets} packets x 1000 bytes, {a.loss:.0%} loss, "
            f"{a.delay * 1000:g} ms delay, {a.rate / 1e6:g} Mbit/s; "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.2f}",
            flush=True,
        )
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows.append(point(n, a.packets, a.loss, a.delay, a.rate))
        r = rows[-1]
        prev = rows[-2] if len(rows) > 1 else None
        r["cpu_vs_previous"] = round(r["cpu_s"] / prev["cpu_s"], 2) if prev else None
        if not a.json:
            growth = f"x{r['cpu_vs_previous']:<6}" if prev else " " * 7
            print(
                f"{n:>6} receivers: {r['wall_s']:8.2f} s wall {r['cpu_s']:8.2f} s CPU {growth} "
                f"{r['events']:>9} events {r['events_per_s']:>8} events/s  "
                f"{r['us_per_rx_packet']:6.2f} us/receiver-packet  "
                f"{r['deliveries_per_rx_packet']:5.2f} deliveries/receiver-packet  "
                f"{r['naks_at_source']} NAKs at source  "
                f"repair p50 {r['latency_p50_s'] * 1000:.0f} ms  {r['complete']}/{n} complete",
                flush=True,
            )
    if a.json:
        meta = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": load,
        }
        print(json.dumps({"meta": meta, "points": rows}, indent=2))


if __name__ == "__main__":
    main()
