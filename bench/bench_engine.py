"""Engine-only throughput: one Source and one Receiver joined in memory, no sockets.

    python bench/bench_engine.py                 # 200 000 packets, 0 % and 5 % loss
    python bench/bench_engine.py --packets 50000 --loss 0 --loss 0.1 --json

Each packet is a 1400-byte message (one TSDU).  A tight driver hands the source's datagrams to
the receiver (dropping a seeded random share), returns the receiver's NAKs to the source and
runs both engines' timers on a virtual clock that advances at 1 Gbit/s of wire time.  The time
spent inside each engine's calls is measured separately, so the figures are per side — on a
real host each side runs on its own core:

  * source: packets/s and MB/s it can emit (send + datagrams_to_send + NAK handling + timers)
  * receiver: packets/s and MB/s it can take in and deliver (receive + events + timers)

The issue's bar: the engine must not be the bottleneck of a real socket path, i.e. at least
150 000 delivered packets/s per core without loss.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from ipaddress import ip_address

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.engine import (
    DataReceived,
    Receiver,
    ReceiverConfig,
    SessionEnded,
    Source,
    SourceConfig,
)

GROUP = ip_address("239.192.0.1")
SRC = ip_address("10.0.0.1")
RCV = ip_address("10.0.0.2")


def run(
    n_packets: int, loss: float, size: int = 1400, seed: int = 1, verify: bool = True
) -> dict[str, float]:
    """Move ``n_packets`` messages through the pair; return timings and counts."""
    cfg = SourceConfig(rate_bps=10**12, window_secs=60, linger_secs=60)
    src = Source(cfg, group=GROUP, nla=SRC, rng=random.Random(seed), sport=40000)
    # At 1 Gbit/s a repair that needs a few NAK rounds (200 ms each by default) keeps hundreds
    # of MB of later data waiting: size the receive buffer for that, as a user at this rate must.
    rcfg = ReceiverConfig(
        max_buffer_bytes=512 * 1024 * 1024, max_pending_naks=1 << 17, verify_checksum=verify
    )
    rcv = Receiver(rcfg, group=GROUP, rng=random.Random(seed + 1))
    rng = random.Random(seed + 2)
    payload = random.Random(seed + 3).randbytes(size)
    pc = time.perf_counter
    now = 0.0
    tick = (size + 24 + 20) * 8 / 1e9  # wire time of one packet at 1 Gbit/s
    t_src = t_rcv = 0.0
    queued = delivered = delivered_bytes = 0
    ended = False
    wall0 = pc()
    while not ended:
        t0 = pc()
        while queued < n_packets and src.pending_bytes < 256 * size:
            src.send(payload, now)
            queued += 1
        if queued == n_packets and src.state == "open":
            src.close(now)
        if (t := src.next_timer()) is not None and t <= now:
            src.handle_timer(now)
        out = src.datagrams_to_send(now)
        t1 = pc()
        t_src += t1 - t0
        if loss:
            rnd = rng.random
            rcv.receive_many([(p, SRC, GROUP) for p, _d, _t in out if rnd() >= loss], now)
        else:
            rcv.receive_many([(p, SRC, GROUP) for p, _d, _t in out], now)
        if (t := rcv.next_timer()) is not None and t <= now:
            rcv.handle_timer(now)
        naks = rcv.datagrams_to_send(now)
        nxt = rcv.next_event
        while (e := nxt()) is not None:
            if type(e) is DataReceived:
                delivered += 1
                delivered_bytes += len(e.data)
            elif type(e) is SessionEnded:
                ended = True
        t2 = pc()
        t_rcv += t2 - t1
        for pkt, _dst, _ttl in naks:
            if loss and rng.random() < loss:
                continue
            src.receive(pkt, RCV, now)
        t_src += pc() - t2
        now += tick * max(1, len(out))
        if not out and not naks:
            # idle: jump to the next deadline of either side
            cands = [t for t in (src.next_timer(), rcv.next_timer()) if t is not None]
            if cands:
                now = max(now, min(cands))
        if now > 600:
            raise RuntimeError("benchmark did not finish in 600 virtual seconds")
    wall = pc() - wall0
    assert delivered == n_packets, (delivered, n_packets)
    return {
        "loss": loss,
        "verify_checksum": verify,
        "packets": n_packets,
        "delivered_packets": delivered,
        "source_cpu_s": t_src,
        "receiver_cpu_s": t_rcv,
        "wall_s": wall,
        "source_pkts_per_s": n_packets / t_src,
        "receiver_pkts_per_s": delivered / t_rcv,
        "source_MB_per_s": delivered_bytes / t_src / 1e6,
        "receiver_MB_per_s": delivered_bytes / t_rcv / 1e6,
        "both_on_one_core_pkts_per_s": delivered / (t_src + t_rcv),
        "naks_sent": float(src.stats.naks_received),
        "repairs_sent": float(src.stats.repair_packets_sent),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="engine-only throughput (in memory)")
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--loss", type=float, action="append", help="loss rate(s); default 0, 0.05")
    ap.add_argument("--repeat", type=int, default=3, help="runs per loss rate; the best is kept")
    ap.add_argument(
        "--no-verify", action="store_true", help="also run receivers with verify_checksum=False"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    # Best of several runs: a shared 2-core machine adds noise, never speed.
    rows = [
        min(
            (run(args.packets, p, seed=i + 1, verify=v) for i in range(args.repeat)),
            key=lambda r: r["source_cpu_s"] + r["receiver_cpu_s"],
        )
        for v in ((True, False) if args.no_verify else (True,))
        for p in (args.loss or [0.0, 0.05])
    ]
    if args.json:
        print(json.dumps({"python": platform.python_version(), "runs": rows}, indent=2))
        return
    print(
        f"pgm engine benchmark — Python {platform.python_version()}, 1400-byte TSDUs, "
        f"{args.packets} packets, in memory"
    )
    print(f"{'loss':>5} {'side':<9} {'pkts/s':>10} {'MB/s':>8} {'CPU s':>7}   repairs")
    for r in rows:
        if not r["verify_checksum"]:
            print("      (receiver with verify_checksum=False)")
        print(
            f"{r['loss']:>5.0%} {'source':<9} {r['source_pkts_per_s']:>10,.0f} "
            f"{r['source_MB_per_s']:>8.1f} {r['source_cpu_s']:>7.2f}   {r['repairs_sent']:.0f}"
        )
        print(
            f"{'':>5} {'receiver':<9} {r['receiver_pkts_per_s']:>10,.0f} "
            f"{r['receiver_MB_per_s']:>8.1f} {r['receiver_cpu_s']:>7.2f}"
        )
        print(f"{'':>5} {'one core':<9} {r['both_on_one_core_pkts_per_s']:>10,.0f}")


if __name__ == "__main__":
    main()
