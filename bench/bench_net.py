"""Goodput over a real veth pair: pgm against OpenPGM (libpgm directly, and ZeroMQ pgm://).

    sudo python bench/bench_net.py                         # raw IP, 0 % and 5 % loss, 2 Gbit/s cap
    sudo python bench/bench_net.py --transport udp --rate 4000 --loss 0
    sudo python bench/bench_net.py --impl pgm --impl pgm-old --old-root /tmp/pgm-before --loss 0

Needs root (network namespaces, raw sockets), iproute2, nftables, gcc + pkg-config + libpgm-dev
for the libpgm peer, and Debian's python3-zmq (run with /usr/bin/python3) for the ZeroMQ one.
It first checks the machine is quiet (1-minute load average below 1) and says so: figures taken
under load are marked.  For each loss rate it builds two namespaces joined by a veth pair
(bench/netpair.py), drops that share of packets at random in the receiver's input hook (loss on
the wire, invisible to the sender), and moves ``--mib`` MiB in messages of ``--size`` bytes:

  * pgm: the project's pgm peer, tests/helpers/pgm_peer.py (pure Python, both sides);
  * pgm-old: the same peer from another tree (``--old-root``), for before/after ratios;
  * pgm-nv: pgm with the receiver's ``--no-verify`` (UDP only: no PGM checksum verification);
  * libpgm: OpenPGM 5.3 driven directly, tests/interop/openpgm_peer.c compiled here;
  * zmq: OpenPGM through ZeroMQ, tests/interop/zmq_peer.py.

Every stack is capped at ``--rate`` Mbit/s.  The implementations of one loss rate run in turn,
``--repeat`` rounds alternating between them (A B A B ...), so slow phases of a shared machine
hit them alike; the best run of each is kept and the ratios are taken between those.

Goodput = payload bits delivered / (last message at the receiver - the moment the sender was
told to go).  CPU = user + system seconds of each process (including interpreter start-up).
Completion = messages delivered / sent.  Peers are run by path; bench/ imports nothing from the
tests package.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from netpair import GROUP4, NetPair  # sibling module

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ZMQ_PYTHON = "/usr/bin/python3"
ZMQ_PEER = os.path.join(ROOT, "tests", "interop", "zmq_peer.py")
OPENPGM_SRC = os.path.join(ROOT, "tests", "interop", "openpgm_peer.c")


def pgm_peer(root: str) -> str:
    return os.path.join(root, "tests", "helpers", "pgm_peer.py")


def quiet_check() -> tuple[float, bool]:
    """The 1-minute load average and whether it is below 1 (printed either way)."""
    load = os.getloadavg()[0]
    quiet = load < 1.0
    if quiet:
        print(f"machine quiet: load average {load:.2f}")
    else:
        print(f"WARNING: load average {load:.2f} >= 1: figures are taken under load "
              "(compare ratios of the same run, not absolute figures)")
    return load, quiet


def build_libpgm_peer(dest: str) -> str:
    exe = os.path.join(dest, "openpgm_peer")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openpgm-5.3"],
                           capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-rdynamic", "-o", exe, OPENPGM_SRC, *flags], check=True)
    return exe


def write_messages(path: str, n: int, size: int) -> None:
    """The libpgm peer's input: [4-byte big-endian length][bytes] records."""
    head, body = size.to_bytes(4, "big"), os.urandom(max(size - 8, 0))
    with open(path, "wb") as f:  # distinct messages: the receiver stops at the last one
        for i in range(n):
            f.write(head + i.to_bytes(8, "big")[: size] + body)


class Watch:
    """A peer process whose stdout lines are timestamped as they arrive."""

    def __init__(self, p: subprocess.Popen[str]) -> None:
        self.p = p
        self.lines: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.rusage: Any = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            with self.cond:
                self.lines.append((time.monotonic(), line.strip()))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic(), "<EOF>"))
            self.cond.notify_all()

    def wait_line(self, prefix: str, timeout: float) -> tuple[float, str]:
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, line in self.lines:
                    if line.upper().startswith(prefix.upper()):
                        return t, line
                    if line == "<EOF>":
                        raise RuntimeError(f"peer ended before {prefix!r}: {self.lines[-5:]}")
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"no {prefix!r} line in {timeout} s: {self.lines[-5:]}")
                self.cond.wait(left)

    def wait(self, timeout: float) -> float:
        """Wait for the exit; CPU seconds (user + system) of the process."""
        end = time.monotonic() + timeout
        while True:
            pid, _status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.p.returncode = 0
                return float(ru.ru_utime + ru.ru_stime)
            if time.monotonic() > end:
                self.p.kill()
            time.sleep(0.02)

    def last_json(self) -> dict[str, Any]:
        with self.cond:
            for _, line in reversed(self.lines):
                if line.startswith("{"):
                    return dict(json.loads(line))
        raise RuntimeError(f"no JSON result: {self.lines[-5:]}")


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"no JSON result in: {text[-500:]}")


def _run_pair(bed: NetPair, rx_argv: list[str], tx_argv: list[str],
              timeout: float) -> tuple[dict[str, Any], dict[str, Any]]:
    rx = bed.b.popen(rx_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the receiver has joined
    assert rx.stdout is not None
    line = rx.stdout.readline()
    if "ready" not in line.lower():
        rx.kill()
        err = rx.stderr.read() if rx.stderr else ""
        raise RuntimeError(f"receiver did not start: {line} {err}")
    time.sleep(0.3)
    tx = bed.a.popen(tx_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    assert tx.stdin is not None and tx.stdout is not None
    # both peers: READY once connected; end of stdin means "go" (and "close")
    line = tx.stdout.readline()
    if not line.startswith("READY"):
        tx.kill()
        raise RuntimeError(f"sender did not start: {line}")
    time.sleep(0.5)
    tx.stdin.close()
    tx.stdin = None  # closed: communicate() must not flush it
    try:
        rout, rerr = rx.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        rx.kill()
        rout, rerr = rx.communicate()
    tout, terr = tx.communicate(timeout=timeout)
    return _last_json(rout or rerr), _last_json(tout or terr)


class Bench:
    """Runs one transfer of one implementation over the pair."""

    def __init__(self, bed: NetPair, args: argparse.Namespace, work: str) -> None:
        self.bed = bed
        self.args = args
        self.n = args.mib * (1 << 20) // args.size
        self.msgs = os.path.join(work, "messages.bin")
        self.libpgm = ""
        if "libpgm" in args.impl:
            write_messages(self.msgs, self.n, args.size)
            self.libpgm = build_libpgm_peer(work)
        self.port = 7500
        self.errlog = open(os.path.join(tempfile.gettempdir(), "bench_net.stderr"), "w")  # noqa: SIM115

    def _argv(self, impl: str, port: int) -> tuple[list[str], list[str], dict[str, str]]:
        a, b, t = self.bed.a, self.bed.b, self.args.transport
        rate_bps = self.args.rate * 1_000_000
        if impl in ("pgm", "pgm-old", "pgm-nv"):
            root = self.args.old_root if impl == "pgm-old" else ROOT
            peer = pgm_peer(root)
            common = [GROUP4, str(port)]
            rx = [sys.executable, peer, "recv", *common, b.ifname, t, "--count", str(self.n),
                  "--max-pending-naks", str(1 << 17), "--timeout", "110"]
            if impl == "pgm-nv":
                rx.append("--no-verify")  # UDP: checksums left to the kernel's UDP check
            tx = [sys.executable, peer, "send", *common, a.ifname, t, "--count", str(self.n),
                  "--size", str(self.args.size), "--rate", str(rate_bps), "--window", "10",
                  "--send-buffer", str(4 << 20), "--linger", "4"]
            return rx, tx, {**os.environ, "PYTHONPATH": root}
        if impl == "libpgm":
            net = ["-p", str(port), "-m", "1500", "-t", "110", "-w", "65535"]
            if t == "udp":
                net.append("-u")
            rx = [self.libpgm, "recv", "-n", f"{b.ip4};{GROUP4}", *net, "-o", os.devnull,
                  "-e", self.msgs]
            tx = [self.libpgm, "send", "-n", f"{a.ip4};{GROUP4}", *net, "-i", self.msgs,
                  "-r", str(rate_bps // 8), "-s", str(port + 1000), "-l", "4"]
            return rx, tx, dict(os.environ)
        scheme = "pgm" if t == "raw" else "epgm"
        common = ["--rate", str(rate_bps // 1000), "--recovery-ivl", "10000",
                  "--count", str(self.n)]
        rx = [ZMQ_PYTHON, ZMQ_PEER, "sub", f"{scheme}://{b.ip4};{GROUP4}:{port}", *common,
              "--idle", "15", "--timeout", "110"]
        tx = [ZMQ_PYTHON, ZMQ_PEER, "pub", f"{scheme}://{a.ip4};{GROUP4}:{port}", *common,
              "--size", str(self.args.size), "--linger", "4"]
        return rx, tx, dict(os.environ)

    def measure(self, impl: str) -> dict[str, Any]:
        self.port += 2
        rx_argv, tx_argv, env = self._argv(impl, self.port)
        pipe = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errlog,
                    text=True, env=env)
        rx = Watch(self.bed.b.popen(rx_argv, **pipe))
        rx.wait_line("READY", 30)
        time.sleep(0.3)
        tx = Watch(self.bed.a.popen(tx_argv, **pipe))
        tx.wait_line("READY", 30)
        time.sleep(0.5)
        assert tx.p.stdin is not None
        t_go = time.monotonic()
        if impl == "libpgm":
            tx.p.stdin.write("go\n")
            tx.p.stdin.flush()
        else:
            tx.p.stdin.close()  # end of stdin: go (and close after the last message)
        last_t, delivered, nbytes = self._arrival(impl, rx)
        if impl == "libpgm":
            with contextlib.suppress(BrokenPipeError):  # it may have lingered out already
                tx.p.stdin.write("close\n")
                tx.p.stdin.close()
        cpu_rx = rx.wait(120)
        cpu_tx = tx.wait(30)
        if impl != "libpgm":
            r = rx.last_json()
            delivered, nbytes, last_t = r["messages"], r["bytes"], r["last_time"]
        span = max(last_t - t_go, 1e-9)
        return {
            "impl": impl, "transport": self.args.transport, "messages": self.n,
            "delivered": delivered, "completion": delivered / self.n,
            "goodput_mbit": nbytes * 8 / span / 1e6 if delivered > 1 else 0.0,
            "cpu_sender_s": cpu_tx, "cpu_receiver_s": cpu_rx,
        }

    def _arrival(self, impl: str, rx: Watch) -> tuple[float, int, int]:
        if impl != "libpgm":
            return 0.0, 0, 0  # from the peer's JSON once it exits
        try:
            t, _ = rx.wait_line("LAST", 110)
        except RuntimeError:
            t = time.monotonic()
        assert rx.p.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            rx.p.stdin.write("stop\n")
            rx.p.stdin.flush()
        _, line = rx.wait_line("RESULT", 30)
        f = dict(kv.split("=", 1) for kv in line.split()[1:])
        return t, int(f["messages"]), int(f["bytes"])


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load: float) -> None:
    print(f"goodput over a veth pair, {args.size}-byte messages, {args.mib} MiB per run, "
          f"{args.transport}, cap {args.rate} Mbit/s, best of {args.repeat}, load {load:.2f}")
    print(f"{'loss':>5} {'impl':<8} {'goodput':>12} {'complete':>9} {'CPU tx':>7} {'CPU rx':>7}"
          f" {'us/pkt tx':>9} {'us/pkt rx':>9}   runs")
    for r in rows:
        n = max(r["delivered"], 1)
        print(f"{r['loss_pct']:>4.0f}% {r['impl']:<8} {r['goodput_mbit']:>7.0f} Mbit/s "
              f"{r['completion']:>8.1%} {r['cpu_sender_s']:>7.2f} {r['cpu_receiver_s']:>7.2f}"
              f" {r['cpu_sender_s'] / n * 1e6:>9.1f} {r['cpu_receiver_s'] / n * 1e6:>9.1f}"
              f"   {r['runs_goodput_mbit']}")
    by = {(r["loss_pct"], r["impl"]): r for r in rows}
    for loss, mine in ((x, m) for x in sorted({r["loss_pct"] for r in rows})
                       for m in ("pgm", "pgm-nv")):  # fmt: skip
        ours = by.get((loss, mine))
        for ref in args.impl:
            other = by.get((loss, ref))
            if ours is None or other is None or ref in ("pgm", "pgm-nv"):
                continue
            if not other["goodput_mbit"]:
                continue
            print(f"  {loss:.0f}% loss: {mine} / {ref}: goodput "
                  f"{ours['goodput_mbit'] / other['goodput_mbit']:.2f}x, CPU sender "
                  f"{ours['cpu_sender_s'] / max(other['cpu_sender_s'], 1e-9):.2f}x, receiver "
                  f"{ours['cpu_receiver_s'] / max(other['cpu_receiver_s'], 1e-9):.2f}x")
    if (0.0, "pgm") in by:
        base = by[(0.0, "pgm")]["goodput_mbit"]
        for loss in sorted({r["loss_pct"] for r in rows} - {0.0}):
            print(f"  pgm at {loss:.0f}% loss: {by[(loss, 'pgm')]['goodput_mbit'] / base:.0%} of "
                  "its lossless goodput")


def main() -> None:
    ap = argparse.ArgumentParser(description="pgm vs OpenPGM goodput over a veth pair")
    ap.add_argument("--mib", type=int, default=128, help="MiB per transfer")
    ap.add_argument("--size", type=int, default=1400)
    ap.add_argument("--rate", type=int, default=2000, help="Mbit/s cap for every stack")
    ap.add_argument("--loss", type=float, action="append", help="percent; default 0 and 5")
    ap.add_argument("--transport", choices=["raw", "udp"], default="raw")
    ap.add_argument("--impl", action="append",
                    choices=["pgm", "pgm-old", "pgm-nv", "libpgm", "zmq"],
                    help="default: libpgm and pgm")
    ap.add_argument("--old-root", default="/tmp/pgm-before", help="tree for pgm-old")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.impl = args.impl or ["libpgm", "pgm"]
    if "pgm-nv" in args.impl and args.transport != "udp":
        ap.error("pgm-nv (no checksum verification) is for --transport udp")
    load, _quiet = quiet_check()
    rows = []
    work = tempfile.mkdtemp(prefix="bench-net-")
    try:
        with NetPair() as bed:
            bench = Bench(bed, args, work)
            for loss in args.loss or [0.0, 5.0]:
                bed.reset()
                if loss:
                    bed.b.set_loss(loss)
                runs: dict[str, list[dict[str, Any]]] = {i: [] for i in args.impl}
                for _ in range(args.repeat):  # alternate: A B A B ...
                    for impl in args.impl:
                        runs[impl].append(bench.measure(impl))
                for rs in runs.values():
                    best = max(rs, key=lambda r: (r["completion"], r["goodput_mbit"]))
                    best["loss_pct"] = loss
                    best["runs_goodput_mbit"] = [round(r["goodput_mbit"], 1) for r in rs]
                    rows.append(best)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"load_average": load, "rows": rows}, indent=2))
        return
    report(rows, args, load)


if __name__ == "__main__":
    main()
