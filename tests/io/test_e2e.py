"""End to end over real sockets in network namespaces: one source, three receivers on a bridge.

A 20 MB file goes from the source to three receivers over raw IP (protocol 113) and UDP
encapsulation, IPv4 and IPv6, at 0/1/5/10 % random loss on every receiver and with one receiver
behind 20 % loss (nftables in each receiver's input hook: loss on the wire, invisible to the
sender).  Every receiver's output must have the source's SHA-256 — through the command line
(`pgm send` / `pgm recv` as subprocesses) and through the library API (the one pgm peer,
tests/helpers/pgm_peer.py, with the file as 1400-byte messages).
Then loss beyond recovery: exit status 3 and the lost range.

These run as root on Linux (CI); elsewhere they skip, saying so.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.interop.peerio import read_messages, write_messages
from tests.testbed.netbed import GROUP4, GROUP6, NetBed

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "tests" / "helpers" / "pgm_peer.py"
CHUNK = 1400  # bytes per message through the API
SIZE = 20 * 1024 * 1024
RATE_BPS = 120_000_000  # 4 Python processes share 2 cores: a rate they all keep up with
LOSSES = [
    pytest.param((0, 0, 0), id="loss0"),
    pytest.param((1, 1, 1), id="loss1"),
    pytest.param((5, 5, 5), id="loss5"),
    pytest.param((10, 10, 10), id="loss10"),
    pytest.param((20, 0, 0), id="one-at-20"),
]
_port = [7600]


def _next_port() -> int:
    _port[0] += 1
    return _port[0]


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("e2e") / "payload.bin"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _as_messages(src_file: Path, tmp: Path) -> Path:
    """The file as a message file of CHUNK-byte messages (the peer's input format)."""
    data = src_file.read_bytes()
    path = tmp / "messages.bin"
    write_messages(path, (data[i : i + CHUNK] for i in range(0, len(data), CHUNK)))
    return path


def _output_bytes(out: Path, via: str) -> bytes:
    """What a receiver wrote: the file itself (CLI) or its messages joined (API)."""
    return out.read_bytes() if via == "cli" else b"".join(read_messages(out))


def _cli(*args: str) -> list[str]:
    return ["-m", "pgm", *args]


def _wait_all(procs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str, str]]:
    end = time.monotonic() + timeout
    out = []
    for p in procs:
        try:
            so, se = p.communicate(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
            out.append((-9, so, se))
            continue
        out.append((p.returncode, so, se))
    return out


def _transfer(
    bed: NetBed,
    tmp: Path,
    src_file: Path,
    *,
    via: str,
    transport: str,
    v6: bool,
    losses: tuple[int, ...],
    timeout: float = 150.0,
) -> list[tuple[int, str, str, Path]]:
    group = GROUP6 if v6 else GROUP4
    port = _next_port()
    for host, pct in zip(bed.receivers, losses, strict=True):
        # The first 8 KiB pass: a receiver that loses the whole SPM burst and the first data
        # starts at the next packet and (rightly) reports the start missed (RFC 3208 §6.1).
        host.set_loss(pct, spare_bytes=8192)
    outs = [tmp / f"out-{i}.bin" for i in range(len(bed.receivers))]
    rx_procs = []
    for host, out in zip(bed.receivers, outs, strict=True):
        if via == "cli":
            args = _cli(
                "recv", group, "--port", str(port), "--iface", host.ifname,
                "--transport", transport, "--out", str(out), "--timeout", "30", "--json",
            )
        else:
            args = [str(PEER), "recv", group, str(port), host.ifname, transport,
                    "--out", str(out), "--timeout", str(timeout - 10)]
        rx_procs.append(host.python_popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
    for host, proc in zip(bed.receivers, rx_procs, strict=True):
        host.wait_joined(group, proc=proc)  # receivers join before the source starts
    src = bed.source
    if via == "cli":
        sargs = _cli(
            "send", group, str(src_file), "--port", str(port), "--iface", src.ifname,
            "--transport", transport, "--rate", str(RATE_BPS // 1000), "--linger", "20",
            "--json",
        )
    else:
        # stdin at /dev/null: "go" at once, then "close" as soon as everything is sent
        sargs = [str(PEER), "send", group, str(port), src.ifname, transport,
                 "--in", str(_as_messages(src_file, tmp)), "--rate", str(RATE_BPS),
                 "--linger", "20"]
    sender = src.python_popen(sargs, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    results = _wait_all(rx_procs, timeout)
    sender.terminate()  # everyone has what they need; skip the rest of the linger
    ((src_rc, _src_out, src_err),) = _wait_all([sender], 10)
    for host in bed.receivers:
        host.set_loss(0)
    # a receiver's failure message also says how the sender fared (-15: terminated, as usual)
    sender_note = f"\n[sender exited {src_rc}: {src_err[-1000:]}]"
    return [(rc, so, se + sender_note, out)
            for (rc, so, se), out in zip(results, outs, strict=True)]


def _check(results: list[tuple[int, str, str, Path]], digest: str, bed: NetBed,
           losses: tuple[int, ...], via: str) -> None:
    for i, (rc, so, se, out) in enumerate(results):
        assert rc == 0, f"receiver {i} exited {rc}: {se[-2000:]} {so[-500:]}"
        got = hashlib.sha256(_output_bytes(out, via)).hexdigest()
        assert got == digest, f"receiver {i}: output differs ({out.stat().st_size} bytes)"
    for host, pct in zip(bed.receivers, losses, strict=True):
        dropped = host.nft_counters()["total"]
        if pct:
            assert dropped > 0, f"{host.name}: the {pct} % loss rule dropped nothing"


@pytest.mark.parametrize("losses", LOSSES)
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("transport", ["raw", "udp"])
@pytest.mark.parametrize("via", ["api", "cli"])
def test_file_reaches_every_receiver_intact(
    netbed_star_module: NetBed,
    payload: tuple[Path, str],
    tmp_path: Path,
    via: str,
    transport: str,
    v6: bool,
    losses: tuple[int, ...],
) -> None:
    bed = netbed_star_module
    bed.reset()
    src_file, digest = payload
    results = _transfer(bed, tmp_path, src_file, via=via, transport=transport, v6=v6,
                        losses=losses)
    _check(results, digest, bed, losses, via)
    if via == "api" and any(losses):
        stats = [json.loads(so.strip().splitlines()[-1]) for _, so, _, _ in results]
        lossy = [s for s, pct in zip(stats, losses, strict=True) if pct]
        sessions = [s["session"] for s in lossy]
        assert all(
            s["selective_naks_sent"] > 0 and s["rdata_packets_received"] > 0 for s in sessions
        ), stats


def _common_prefix(a: bytes, b: bytes, step: int = 4096) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n : n + step] == b[n : n + step]:
        n += step
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_loss_beyond_recovery_exits_3_naming_the_range(
    netbed_star_module: NetBed, tmp_path: Path
) -> None:
    bed = netbed_star_module
    bed.reset()
    group, port = GROUP4, _next_port()
    data = os.urandom(8 * 1024 * 1024)
    src_file = tmp_path / "in.bin"
    src_file.write_bytes(data)
    victim = bed.receivers[0]
    out = tmp_path / "out.bin"
    rx = victim.python_popen(
        _cli("recv", group, "--port", str(port), "--iface", victim.ifname, "--transport", "udp",
             "--out", str(out), "--timeout", "60", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    victim.wait_joined(group, proc=rx)
    before = victim.udp_datagrams_received()
    # 8 MB at 8 Mbit/s takes 8 s; the window holds 0.5 s of data.  Once data flows, the
    # receiver hears nothing for 2.5 s, so the window moves past what it missed (however slowly
    # a loaded machine starts the processes: the cut is timed from the traffic, not a clock).
    sender = bed.source.python_popen(
        _cli("send", group, str(src_file), "--port", str(port), "--iface", bed.source.ifname,
             "--transport", "udp", "--rate", "8000", "--window-ms", "500", "--linger", "2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    end = time.monotonic() + 60
    while victim.udp_datagrams_received() - before < 300:
        assert time.monotonic() < end and sender.poll() is None, "no data reached the receiver"
        time.sleep(0.05)
    victim.drop_all(True)
    time.sleep(2.5)
    victim.drop_all(False)
    ((rc, so, se),) = _wait_all([rx], 90)
    _wait_all([sender], 30)
    assert rc == 3, f"expected exit 3, got {rc}: {se}"
    assert "unrecoverable loss" in se.lower()
    report = json.loads(so.strip().splitlines()[-1])
    lost, ranges = report["lost_packets"], report["lost_ranges"]
    assert ranges and lost == sum(b - a + 1 for a, b in ranges) > 0, report
    for a, b in ranges:  # the message names every lost range
        assert (f"{a}-{b}" if a != b else f"number {a} ") in se, (a, b, se)
    # the output is the input less exactly the lost packets: one TSDU of the file each,
    # numbered from 0 (the receiver joined before the first packet)
    got = out.read_bytes()
    head = _common_prefix(got, data)
    first = ranges[0][0]
    tsdu = head // first
    assert first > 0 and head == first * tsdu and 1000 <= tsdu <= 1500, (head, ranges)
    gone = {i for a, b in ranges for i in range(a, b + 1)}
    kept = (data[i : i + tsdu] for i in range(0, len(data), tsdu) if i // tsdu not in gone)
    assert got == b"".join(kept), (len(got), len(data), ranges)


def test_raw_socket_without_privilege_says_what_is_needed(netbed_pair: NetBed) -> None:
    import shutil
    import tempfile

    import ifaddr

    a = netbed_pair.a
    # An unprivileged user may not be able to read root's site-packages: give it a copy.
    deps = tempfile.mkdtemp(prefix="pgm-deps-")
    shutil.copytree(Path(ifaddr.__file__).parent, Path(deps) / "ifaddr")
    for d, _dirs, files in os.walk(deps):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    code = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, {deps!r}]\n"
        "from pgm.io import PgmReceiver\n"
        "try:\n"
        f"    PgmReceiver('239.192.0.1', 7500, ifaces={a.ifname!r}, transport='raw')\n"
        "except PermissionError as e:\n"
        "    print('PERM', e)\n"
    )
    r = a.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
               "-c", code])
    shutil.rmtree(deps, ignore_errors=True)
    assert "PERM" in r.stdout, r.stdout + r.stderr
    assert "CAP_NET_RAW" in r.stdout and "udp" in r.stdout.lower()
