"""Late join over real sockets: ``pgm recv`` started while ``pgm send`` is already sending.

With ``pgm send --late-join 75`` a receiver that joins within the join window NAKs back to
OPT_JOIN_MIN (RFC 3208 §9.5) and gets the whole file (exit 0, content exact).  Without late
join it can only have a suffix: it exits 3 naming the missed range ("joined at sequence N;
0..N-1 not received"), its output is exactly the input from packet N on, and with
``--join-mid-stream`` the same suffix is a success (exit 0) whose JSON still says where it
joined.  The receivers start once the sender's interface has sent a few hundred packets, so
they join mid-transfer however slowly a loaded machine starts the processes.

These run as root on Linux (CI) in network namespaces (tests/testbed/netbed.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.testbed.netbed import GROUP4, NetBed, NetHost

pytestmark = pytest.mark.netns

SIZE = 2 * 1024 * 1024
RATE_KBITS = 4000  # 2 MB in about 4.5 s
TSDU_UDP = 1448  # the default message size over UDP/IPv4
_port = [7800]


def _next_port() -> int:
    _port[0] += 1
    return _port[0]


def _tx_packets(host: NetHost) -> int:
    out = host.run(["ip", "-j", "-s", "link", "show", "dev", host.ifname], check=True).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["packets"])


def _send(bed: NetBed, src_file: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    src = bed.source
    return src.python_popen(
        ["-m", "pgm", "send", GROUP4, str(src_file), "--port", str(port), "--iface",
         src.ifname, "--transport", "udp", "--rate", str(RATE_KBITS), "--window-ms", "30000",
         "--linger", "8", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_sending(bed: NetBed, sender: subprocess.Popen[str], packets: int = 400) -> None:
    """Until the source's interface sent ``packets`` more (the transfer is under way)."""
    before = _tx_packets(bed.source)
    end = time.monotonic() + 60
    while _tx_packets(bed.source) - before < packets:
        assert time.monotonic() < end and sender.poll() is None, "the sender sent nothing"
        time.sleep(0.05)


def _recv(host: NetHost, port: int, out: Path, *extra: str) -> subprocess.Popen[str]:
    return host.python_popen(
        ["-m", "pgm", "recv", GROUP4, "--port", str(port), "--iface", host.ifname,
         "--transport", "udp", "--out", str(out), "--timeout", "60", "--json", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        so, se = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        so, se = proc.communicate()
        return -9, so, se
    return proc.returncode, so, se


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(SIZE)
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("netbed_star", [2], indirect=True)
def test_late_recv_with_late_join_gets_the_whole_file(
    netbed_star: NetBed, payload: tuple[Path, bytes], tmp_path: Path
) -> None:
    bed = netbed_star
    src_file, data = payload
    port = _next_port()
    sender = _send(bed, src_file, port, "--late-join", "75")
    _wait_sending(bed, sender)
    outs = [tmp_path / f"out{i}.bin" for i in range(2)]
    procs = [_recv(h, port, o) for h, o in zip(bed.receivers, outs, strict=True)]
    results = [_finish(p) for p in procs]
    sender.terminate()
    _finish(sender, 10)
    for (rc, so, se), out in zip(results, outs, strict=True):
        assert rc == 0, f"exit {rc}: {se[-2000:]}"
        assert out.read_bytes() == data
        report = json.loads(so.strip().splitlines()[-1])
        joined = report["joined"]
        # It heard the session mid-transfer, NAKed back to OPT_JOIN_MIN = the session's first
        # number (still inside the join window) and got OPT_SYN there by repair.
        assert joined["join_min"] is not None and joined["first_sqn"] == 0, report
        assert joined["syn_seen"] and joined["from_start"] and joined["missed"] is None
        assert report["repairs_received"] > 0 and report["lost_packets"] == 0


@pytest.mark.parametrize("netbed_star", [2], indirect=True)
def test_late_recv_without_late_join_exits_3_with_a_clean_suffix(
    netbed_star: NetBed, payload: tuple[Path, bytes], tmp_path: Path
) -> None:
    bed = netbed_star
    src_file, data = payload
    port = _next_port()
    sender = _send(bed, src_file, port)
    _wait_sending(bed, sender)
    outs = [tmp_path / "strict.bin", tmp_path / "mid.bin"]
    procs = [
        _recv(bed.receivers[0], port, outs[0]),
        _recv(bed.receivers[1], port, outs[1], "--join-mid-stream"),
    ]
    (rc, so, se), (rc_mid, so_mid, se_mid) = (_finish(p) for p in procs)
    sender.terminate()
    _finish(sender, 10)
    assert rc == 3, f"exit {rc}: {se[-2000:]}"
    m = re.search(r"joined at sequence (\d+); 0\.\.(\d+) not received", se)
    assert m is not None, se
    first = int(m.group(1))
    assert first > 0 and int(m.group(2)) == first - 1
    got = outs[0].read_bytes()
    assert got and got == data[first * TSDU_UDP :], (len(got), first)  # a clean suffix
    report = json.loads(so.strip().splitlines()[-1])
    assert report["exit_status"] == 3 and report["lost_packets"] == 0
    assert report["joined"] == {
        "first_sqn": first,
        "syn_seen": False,
        "missed": [0, first - 1],
        "join_min": None,
        "from_start": False,
    }
    # --join-mid-stream: the same kind of suffix is what was asked for; it still says where.
    assert rc_mid == 0, f"exit {rc_mid}: {se_mid[-2000:]}"
    mid = json.loads(so_mid.strip().splitlines()[-1])["joined"]
    assert mid["missed"] == [0, mid["first_sqn"] - 1] and mid["first_sqn"] > 0
    assert outs[1].read_bytes() == data[mid["first_sqn"] * TSDU_UDP :]
    assert "joined at sequence" in se_mid and "--join-mid-stream" in se_mid
