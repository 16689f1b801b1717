"""FEC over real sockets: ``pgm send --fec-*`` to three ``pgm recv`` at 10 % loss (netbed_star).

Network namespaces (tests/testbed/netbed.py): the source ``s`` and receivers ``r1``..``r3`` on a
bridge; 10 % random loss in every receiver's nftables input hook (loss on the wire, invisible to
the sender).  The file goes out with pro-active parity, on-demand parity, or both, over raw IP
and UDP encapsulation.  Every receiver must write the file byte for byte, exit 0, and its
``--json`` must show parity at work; so must the sender's.  The receivers take no FEC option:
they follow the source's OPT_PARITY_PRM (docs/fec.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

LOSS = 10
SIZE = 400_000
_port = [7900]

MODES = {
    "proactive": ["--fec-group", "8", "--fec-proactive", "2"],
    "ondemand": ["--fec-group", "8", "--fec-ondemand"],
    "both": ["--fec-group", "16", "--fec-block", "32", "--fec-proactive", "2", "--fec-ondemand"],
}


_PIPES: dict[str, Any] = {
    "stdin": subprocess.DEVNULL,
    "stdout": subprocess.PIPE,
    "stderr": subprocess.PIPE,
    "text": True,
}


def _wait(p: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        return -9, so, se
    return p.returncode, so, se


def _last_json(text: str) -> dict[str, object]:
    return json.loads(text.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("transport", ["raw", "udp"])
@pytest.mark.parametrize("mode", list(MODES))
def test_file_with_fec_to_three_receivers_at_10_percent_loss(
    netbed_star_module: NetBed, tmp_path: Path, transport: str, mode: str
) -> None:
    bed = netbed_star_module
    bed.reset()
    _port[0] += 1
    port = str(_port[0])
    data = os.urandom(SIZE)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    outs = [tmp_path / f"out-{i}.bin" for i in range(len(bed.receivers))]
    for host in bed.receivers:
        host.set_loss(LOSS)
    rx = []
    for host, out in zip(bed.receivers, outs, strict=True):
        argv = [
            "-m",
            "pgm",
            "recv",
            GROUP4,
            "--port",
            port,
            "--iface",
            host.ifname,
            "--transport",
            transport,
            "--out",
            str(out),
            "--timeout",
            "60",
            "--json",
        ]
        rx.append(host.python_popen(argv, **_PIPES))
    time.sleep(1.0)  # the receivers join first
    argv = [
        "-m",
        "pgm",
        "send",
        GROUP4,
        str(src),
        "--port",
        port,
        "--iface",
        bed.source.ifname,
        "--transport",
        transport,
        "--rate",
        "20000",
        "--linger",
        "20",
        "--json",
    ]
    sender = bed.source.python_popen([*argv, *MODES[mode]], **_PIPES)
    try:
        results = [_wait(p, 120) for p in rx]
    finally:
        sender.send_signal(2)  # every receiver is done: cut the linger short (SIGINT)
        s_rc, s_out, s_err = _wait(sender, 30)
        drops = [h.nft_counters()["total"] for h in bed.receivers]
        for host in bed.receivers:
            host.set_loss(0)
    note = f"\n[sender exited {s_rc}: {s_err[-1500:]}]"
    recovered = 0
    for i, ((rc, so, se), out) in enumerate(zip(results, outs, strict=True)):
        assert rc == 0, f"receiver {i} exited {rc}: {se[-2000:]}{note}"
        assert out.read_bytes() == data, f"receiver {i}: content differs{note}"
        r = _last_json(so)
        assert r["lost_packets"] == 0 and r["end"] == "fin", r
        assert int(r["parity_packets_received"]) > 0, r  # type: ignore[call-overload]
        recovered += int(r["packets_recovered_by_parity"])  # type: ignore[call-overload]
        if mode == "ondemand":
            assert int(r["parity_naks_sent"]) > 0, r  # type: ignore[call-overload]
        assert "parity" in se, f"the summary line shows the parity counters: {se[-500:]}"
    assert recovered > 0
    assert all(d > 0 for d in drops), f"the {LOSS} % loss rule dropped nothing: {drops}"
    s = _last_json(s_out)
    assert int(s["parity_packets_sent"]) > 0, s  # type: ignore[call-overload]
    if mode != "proactive":
        assert int(s["parity_naks_received"]) > 0, s  # type: ignore[call-overload]
    assert "parity packets sent" in s_err


def test_fec_options_without_a_group_are_refused() -> None:
    from pgm.cli import main

    assert main(["send", GROUP4, "--port", "7500", "--fec-ondemand"]) == 2
    assert main(["send", GROUP4, "--port", "7500", "--fec-group", "6", "--fec-ondemand"]) == 2
    assert main(["send", GROUP4, "--port", "7500", "--fec-group", "8"]) == 2  # no mode
