"""Goodput of the asyncio API (pgm.asyncio) against the threaded one (pgm.io) over a veth pair.

    sudo python bench/bench_asyncio.py                      # 0 % and 5 % loss, raw IP
    sudo python bench/bench_asyncio.py --messages 20000 --loss 0 --transport udp --json

Needs root (network namespaces, raw sockets), iproute2 and nftables.  For each loss rate it
builds two namespaces joined by a veth pair (bench/netpair.py), drops that share of packets at
random in the receiver's input hook (loss on the wire, invisible to the sender), and moves N
messages of 1400 bytes with the project's one pgm peer (tests/helpers/pgm_peer.py, run by path
as bench_net.py does; bench/ imports nothing from the tests package), sender and receiver both
on the same API:

  * threaded: ``PgmSender.send_many`` / ``PgmReceiver.next_events`` (a reactor thread each)
  * asyncio:  ``await AsyncSource.send_many`` / ``async for msg in rx.messages()`` (the same
    engine on the loop: ``add_reader`` and one ``call_at`` timer), the peer's ``--asyncio``

Goodput = payload bits delivered / (last message - first message at the receiver).  CPU =
user + system seconds of each process.  Each configuration runs ``--repeat`` times and the best
goodput is kept (the machine is a shared 2-core VM: compare the two APIs within one run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from bench_net import _run_pair  # sibling module: one receiver/sender choreography
from netpair import GROUP4, NetPair  # sibling module

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PGM_PEER = os.path.join(ROOT, "tests", "helpers", "pgm_peer.py")
APIS = ("threaded", "asyncio")


def measure(bed: NetPair, api: str, n: int, size: int, transport: str) -> dict[str, Any]:
    port = 7500 + (int(time.monotonic() * 1000) % 400)
    common = [GROUP4, str(port)]
    extra = ["--asyncio"] if api == "asyncio" else []
    rx_argv = [
        sys.executable,
        PGM_PEER,
        "recv",
        *common,
        bed.b.ifname,
        transport,
        "--count",
        str(n),
        "--max-pending-naks",
        str(1 << 17),
        "--timeout",
        "110",
        *extra,
    ]
    tx_argv = [
        sys.executable,
        PGM_PEER,
        "send",
        *common,
        bed.a.ifname,
        transport,
        "--count",
        str(n),
        "--size",
        str(size),
        "--rate",
        str(1_000_000_000),
        "--window",
        "10",
        "--send-buffer",
        str(4 << 20),
        "--linger",
        "4",
        *extra,
    ]
    r, t = _run_pair(bed, rx_argv, tx_argv, timeout=120)
    if (r.get("api") == "asyncio") != (api == "asyncio"):
        raise RuntimeError(f"the peer did not run the {api} API: {r}")
    span = max(r["last_time"] - r["first_time"], 1e-9)
    return {
        "api": api,
        "transport": transport,
        "messages": n,
        "delivered": r["messages"],
        "completion": r["messages"] / n,
        "goodput_mbit": r["bytes"] * 8 / span / 1e6 if r["messages"] > 1 else 0.0,
        "cpu_sender_s": t["cpu"],
        "cpu_receiver_s": r["cpu"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="asyncio vs threaded pgm goodput over a veth pair")
    ap.add_argument("--messages", type=int, default=60_000)
    ap.add_argument("--size", type=int, default=1400)
    ap.add_argument("--loss", type=float, action="append", help="percent; default 0 and 5")
    ap.add_argument("--transport", choices=["raw", "udp"], default="raw")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with NetPair() as bed:
        for loss in args.loss or [0.0, 5.0]:
            bed.reset()
            if loss:
                bed.b.set_loss(loss)
            for api in APIS:
                runs = [
                    measure(bed, api, args.messages, args.size, args.transport)
                    for _ in range(args.repeat)
                ]
                best = max(runs, key=lambda r: (r["completion"], r["goodput_mbit"]))
                best["loss_pct"] = loss
                best["runs_goodput_mbit"] = [round(r["goodput_mbit"], 1) for r in runs]
                rows.append(best)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"goodput over a veth pair, {args.size}-byte messages, {args.messages} per run, "
        f"{args.transport}, best of {args.repeat}"
    )
    print(
        f"{'loss':>5} {'api':<9} {'goodput':>12} {'complete':>9} {'CPU tx':>7} {'CPU rx':>7}   runs"
    )
    by = {(r["loss_pct"], r["api"]): r for r in rows}
    for r in rows:
        print(
            f"{r['loss_pct']:>4.0f}% {r['api']:<9} {r['goodput_mbit']:>7.0f} Mbit/s "
            f"{r['completion']:>8.1%} {r['cpu_sender_s']:>7.2f} {r['cpu_receiver_s']:>7.2f}"
            f"   {r['runs_goodput_mbit']}"
        )
    for loss in sorted({r["loss_pct"] for r in rows}):
        ours, ref = by[(loss, "asyncio")], by[(loss, "threaded")]
        if ref["goodput_mbit"]:
            print(
                f"  {loss:.0f}% loss: asyncio / threaded goodput = "
                f"{ours['goodput_mbit'] / ref['goodput_mbit']:.2f}"
            )


if __name__ == "__main__":
    main()
