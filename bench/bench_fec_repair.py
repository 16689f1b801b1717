"""Repair cost with and without FEC on the simulator: selective vs on-demand vs pro-active parity.

    python bench/bench_fec_repair.py                     # 1, 10, 50 receivers at 5 % loss
    python bench/bench_fec_repair.py --receivers 1 --receivers 20 --loss 0.1 --json

One source and N receivers on :mod:`pgm.sim` (virtual time, 0.5 ms one-way delay, independent
random loss on every copy of every packet — data, parity, NAKs and NCFs alike), the same seed
for every mode.  Each run sends ``--messages`` messages of 1400 bytes at 50 Mbit/s and ends
when every receiver has delivered the last one.  Modes:

* ``selective`` — no FEC: NAKs name sequence numbers, RDATA repairs them;
* ``on-demand`` — k = 8: parity NAKs, one fresh parity packet fills a different hole at each
  receiver;
* ``pro-active`` — k = 8, 2 parity packets after every group (25 % overhead, always paid);
* ``both`` — k = 8, 1 pro-active parity per group plus on-demand parity for the rest.

Figures per run: repair packets the source sent (RDATA + on-demand parity), pro-active parity
packets, NAK packets all receivers sent, and goodput (application bytes over the virtual time
until the last receiver finished).  Everything must arrive: a run with loss reported fails.

``--veth`` (root, iproute2, nftables) runs the real stack instead: ``pgm send`` and ``pgm recv``
(raw IP) over one veth pair (bench/netpair.py), the loss in the receiver's input hook, at 5 %
and 10 % loss, each mode; goodput is ``recv --json``'s (first packet to session end).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.engine import (
    DataReceived,
    Receiver,
    ReceiverConfig,
    Source,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.sim import Link, Network

RATE = 50_000_000
BASE = SourceConfig(rate_bps=RATE, window_secs=30, linger_secs=5)
MODES: dict[str, dict[str, Any]] = {
    "selective": {},
    "on-demand": {"fec_group_size": 8, "fec_ondemand": True},
    "pro-active": {"fec_group_size": 8, "fec_proactive": 2},
    "both": {"fec_group_size": 8, "fec_proactive": 1, "fec_ondemand": True},
}


def run(mode: str, receivers: int, loss: float, messages: int, seed: int) -> dict[str, Any]:
    """One transfer; its figures."""
    net = Network(seed=seed, trace=False)
    net.default_link = Link(loss=loss, delay=0.0005)
    cfg = dataclasses.replace(BASE, **MODES[mode])
    src = Source(cfg, group="239.192.0.1", nla="10.0.0.1", rng=random.Random(seed), sport=40000)
    src_node = net.add_node(src, "10.0.0.1", groups=["239.192.0.1"], name="source")
    nodes = []
    for i in range(receivers):
        r = Receiver(ReceiverConfig(), group="239.192.0.1", rng=random.Random(seed + i + 1))
        nodes.append(net.add_node(r, f"10.0.{1 + i // 250}.{1 + i % 250}", groups=["239.192.0.1"]))
    payload = random.Random(seed).randbytes(1400)
    finished: dict[int, float] = {}

    def go() -> None:
        for _ in range(messages):
            src.send(payload, net.now)
        src.close(net.now)
        src_node.poke()

    net.call_at(0.01, go)

    def done() -> bool:
        for i, n in enumerate(nodes):
            if i not in finished and n.engine.ended_sessions:  # its session ended (FIN)
                finished[i] = net.now
        return len(finished) == receivers

    net.run(until=600.0, stop=done)
    got = [sum(isinstance(e, DataReceived) for e in n.events) for n in nodes]
    lost = [sum(isinstance(e, UnrecoverableLoss) for e in n.events) for n in nodes]
    if lost != [0] * receivers or got != [messages] * receivers:
        raise SystemExit(f"{mode}, {receivers} receivers: delivered {got}, losses {lost}")
    st = src.stats
    naks = 0
    for n in nodes:
        (s,) = n.engine.ended_sessions.values()
        naks += s.stats.nak_packets_sent
    secs = max(finished.values()) - 0.01
    return {
        "mode": mode,
        "receivers": receivers,
        "loss": loss,
        "messages": messages,
        "odata": st.odata_packets_sent,
        "repairs": st.repair_packets_sent + st.parity_packets_sent - st.proactive_parity_sent,
        "rdata": st.repair_packets_sent,
        "ondemand_parity": st.parity_packets_sent - st.proactive_parity_sent,
        "proactive_parity": st.proactive_parity_sent,
        "nak_packets": naks,
        "seconds": round(secs, 3),
        "goodput_mbps": round(messages * 1400 * 8 / secs / 1e6, 2),
    }


CLI_MODES: dict[str, list[str]] = {
    "selective": [],
    "on-demand": ["--fec-group", "8", "--fec-ondemand"],
    "pro-active": ["--fec-group", "8", "--fec-proactive", "2"],
    "both": ["--fec-group", "8", "--fec-proactive", "1", "--fec-ondemand"],
}


def run_veth(losses: list[float], size: int, modes: list[str]) -> list[dict[str, Any]]:
    """The CLI over a veth pair: one transfer of ``size`` random bytes per (loss, mode)."""
    from netpair import NetPair  # bench/netpair.py

    rows: list[dict[str, Any]] = []
    py = [sys.executable, "-m", "pgm"]
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    with NetPair() as pair, tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.bin")
        with open(src, "wb") as f:
            f.write(random.Random(1).randbytes(size))
        for port, (loss, mode) in enumerate(((x, m) for x in losses for m in modes), 7600):
            pair.b.set_loss(loss * 100)
            out = os.path.join(tmp, "out.bin")
            rx = pair.b.popen(
                [*py, "recv", "239.192.0.1", "--port", str(port), "--iface", pair.b.ifname,
                 "--out", out, "--timeout", "60", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            )  # fmt: skip
            time.sleep(1.0)  # the receiver joins first
            tx = pair.a.popen(
                [*py, "send", "239.192.0.1", src, "--port", str(port), "--iface", pair.a.ifname,
                 "--rate", "100000", "--linger", "5", "--json", *CLI_MODES[mode]],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            )  # fmt: skip
            r = json.loads(rx.communicate(timeout=120)[0].strip().splitlines()[-1])
            tx.send_signal(2)
            s = json.loads(tx.communicate(timeout=30)[0].strip().splitlines()[-1])
            pair.b.set_loss(0)
            with open(out, "rb") as f, open(src, "rb") as g:
                intact = f.read() == g.read()
            rows.append({
                "mode": mode, "loss": loss, "bytes": size, "intact": intact,
                "repairs": s["repairs_sent"] + s["parity_packets_sent"]
                - s["stats"].get("proactive_parity_sent", 0),
                "proactive_parity": s["stats"].get("proactive_parity_sent", 0),
                "naks": r["naks_sent"] + r["parity_naks_sent"],
                "recovered_by_parity": r["packets_recovered_by_parity"],
                "goodput_mbps": r["goodput_mbps"],
            })  # fmt: skip
    return rows


def print_veth(rows: list[dict[str, Any]], size: int) -> None:
    print(f"pgm FEC over a veth pair — pgm send/recv, raw IP, {size} bytes, 100 Mbit/s")
    print(" loss  mode          repairs  pro-active  recovered  NAKs  intact  goodput Mbit/s")
    for r in rows:
        print(
            f" {r['loss']:>4.0%}  {r['mode']:<12} {r['repairs']:>8} {r['proactive_parity']:>11}"
            f" {r['recovered_by_parity']:>10} {r['naks']:>5}  {r['intact']!s:>6}"
            f"  {r['goodput_mbps']:>14.2f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--receivers", type=int, action="append", help="default: 1, 10, 50")
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", action="append", choices=list(MODES), help="default: all")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--veth", action="store_true", help="the real stack over a veth pair (root)")
    ap.add_argument("--size", type=int, default=8_000_000, help="--veth: bytes per transfer")
    args = ap.parse_args()
    if args.veth:
        vrows = run_veth([0.05, 0.10], args.size, args.mode or list(MODES))
        if args.json:
            print(json.dumps(vrows, indent=1))
        else:
            print_veth(vrows, args.size)
        return 0
    rows = [
        run(m, n, args.loss, args.messages, args.seed)
        for n in args.receivers or [1, 10, 50]
        for m in args.mode or list(MODES)
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(
        f"pgm FEC repair benchmark — simulator, {args.messages} × 1400 B at {RATE / 1e6:g} Mbit/s,"
        f" {args.loss:.0%} independent loss, 0.5 ms delay, seed {args.seed}"
    )
    print(" rcvrs mode          repairs  (RDATA + parity)  pro-active  NAK pkts  goodput Mbit/s")
    for r in rows:
        print(
            f" {r['receivers']:>5} {r['mode']:<12} {r['repairs']:>8}  ({r['rdata']:>5} + "
            f"{r['ondemand_parity']:>5})   {r['proactive_parity']:>9} {r['nak_packets']:>9}"
            f"  {r['goodput_mbps']:>14.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
