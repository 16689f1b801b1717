"""The asyncio API over real sockets in network namespaces: one source, three receivers.

The pgm peer in its asyncio mode (``tests/helpers/pgm_peer.py --asyncio``, i.e.
tests/helpers/aio_peer.py on :mod:`pgm.asyncio`) sends 3 MB of messages of mixed sizes
(fragmented ones included) over raw IP (protocol 113) and UDP encapsulation, with 5 % random
loss in every receiver's input hook (nftables: loss on the wire, invisible to the sender).  Two
receivers run the asyncio API, the third the threaded one (the two APIs share the engine and
the wire); then the threaded source to asyncio receivers.  Every receiver must get every
message, byte for byte, in order, having repaired its losses with NAKs.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.peerio import read_messages, write_messages
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "tests" / "helpers" / "pgm_peer.py"
RATE_BPS = 50_000_000  # four Python processes share two cores
LOSS = 5
_port = [7800]


def _next_port() -> int:
    _port[0] += 1
    return _port[0]


def _payload(seed: int, total: int = 3 * 1024 * 1024) -> list[bytes]:
    rng = random.Random(seed)
    out, n = [], 0
    while n < total:
        size = rng.choice([1, 200, 1400, 3000, 9000])
        out.append(rng.randbytes(size))
        n += size
    return out


def _wait(p: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        return -9, so, se
    return p.returncode, so, se


def _transfer(
    bed: NetBed, tmp: Path, transport: str, source_aio: bool, receivers_aio: list[bool]
) -> None:
    msgs = _payload(len(receivers_aio) + (transport == "raw"))
    src_file = tmp / "in.bin"
    write_messages(src_file, msgs)
    port = _next_port()
    for host in bed.receivers:
        host.set_loss(LOSS)
    outs = [tmp / f"out-{i}.bin" for i in range(len(bed.receivers))]
    rx = []
    for host, out, aio in zip(bed.receivers, outs, receivers_aio, strict=True):
        argv = [
            str(PEER),
            "recv",
            GROUP4,
            str(port),
            host.ifname,
            transport,
            "--out",
            str(out),
            "--timeout",
            "120",
        ] + (["--asyncio"] if aio else [])
        rx.append(
            host.python_popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    time.sleep(1.0)  # the receivers join first
    sargv = [
        str(PEER),
        "send",
        GROUP4,
        str(port),
        bed.source.ifname,
        transport,
        "--in",
        str(src_file),
        "--rate",
        str(RATE_BPS),
        "--linger",
        "30",
    ]
    sender = bed.source.python_popen(
        sargv + (["--asyncio"] if source_aio else []),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        results = [_wait(p, 150) for p in rx]
    finally:
        sender.terminate()  # every receiver is done: skip the rest of the linger
        src_rc, _so, src_err = _wait(sender, 15)
        drops = [h.nft_counters()["total"] for h in bed.receivers]
        for host in bed.receivers:
            host.set_loss(0)
    note = f"\n[sender exited {src_rc}: {src_err[-1500:]}]"
    for i, ((rc, so, se), out, aio) in enumerate(zip(results, outs, receivers_aio, strict=True)):
        assert rc == 0, f"receiver {i} exited {rc}: {se[-2000:]} {so[-500:]}{note}"
        got = read_messages(out)
        assert len(got) == len(msgs) and got == msgs, f"receiver {i}: content differs{note}"
        result = json.loads(so.strip().splitlines()[-1])
        assert result["ended"] == "fin" and not result["lost"], result
        assert (result.get("api") == "asyncio") is aio
        assert result["session"]["selective_naks_sent"] > 0, result["session"]
        assert result["session"]["rdata_packets_received"] > 0, result["session"]
    assert all(d > 0 for d in drops), f"the {LOSS} % loss rule dropped nothing: {drops}"


@pytest.mark.parametrize("transport", ["raw", "udp"])
def test_asyncio_source_to_three_receivers_at_5_percent_loss(
    netbed_star_module: NetBed, tmp_path: Path, transport: str
) -> None:
    bed = netbed_star_module
    bed.reset()
    _transfer(bed, tmp_path, transport, source_aio=True, receivers_aio=[True, True, False])


@pytest.mark.parametrize("transport", ["raw", "udp"])
def test_threaded_source_to_asyncio_receivers_at_5_percent_loss(
    netbed_star_module: NetBed, tmp_path: Path, transport: str
) -> None:
    bed = netbed_star_module
    bed.reset()
    _transfer(bed, tmp_path, transport, source_aio=False, receivers_aio=[True, True, True])


@pytest.mark.raw
def test_asyncio_api_in_process_in_a_namespace(netbed_pair: NetBed) -> None:
    """The API itself (not the peer) in this process: a loop in a thread inside each namespace
    (``NetNs.call``), raw sockets through ``loop.add_reader``."""
    import asyncio
    import threading

    from pgm.asyncio import open_receiver, open_source
    from pgm.engine import SourceConfig

    port = _next_port()
    msgs = [os.urandom(n) for n in (1, 1400, 5000, 20_000)] * 10
    got: list[bytes] = []
    ready = threading.Event()

    async def receive() -> None:
        async with open_receiver(GROUP4, port, iface=netbed_pair.b.ifname) as rx:
            ready.set()
            async for m in rx.messages():
                got.append(m)  # type: ignore[arg-type]

    async def send() -> None:
        cfg = SourceConfig(linger_secs=1.0)
        async with open_source(GROUP4, port, iface=netbed_pair.a.ifname, config=cfg) as src:
            for m in msgs:
                await src.send(m)
            await src.drain()
            assert src.engine.pending_bytes == 0
        assert src.closed

    def run_rx() -> None:
        netbed_pair.b.call(lambda: asyncio.run(asyncio.wait_for(receive(), 60)))

    t = threading.Thread(target=run_rx)
    t.start()
    assert ready.wait(30)
    netbed_pair.a.call(lambda: asyncio.run(asyncio.wait_for(send(), 60)))
    t.join(60)
    assert got == msgs


@pytest.mark.raw
def test_the_example_pair_at_5_percent_loss(netbed_pair: NetBed) -> None:
    """examples/asyncio_sender.py to examples/asyncio_receiver.py, as docs/asyncio.md says."""
    bed = netbed_pair
    bed.b.set_loss(LOSS)
    group, port = GROUP4, str(_next_port())
    rx = bed.b.python_popen(
        [
            "examples/asyncio_receiver.py",
            group,
            "--port",
            port,
            "--iface",
            bed.b.ifname,
            "--timeout",
            "90",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    tx = bed.a.python_popen(
        [
            "examples/asyncio_sender.py",
            group,
            "--port",
            port,
            "--iface",
            bed.a.ifname,
            "--count",
            "2000",
            "--rate-kbps",
            "50000",
            "--linger",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rrc, rso, rse = _wait(rx, 120)
    trc, tso, tse = _wait(tx, 60)
    assert trc == 0, tse[-2000:]
    assert rrc == 0, f"{rso} {rse[-2000:]}"
    sent, got = json.loads(tso.splitlines()[-1]), json.loads(rso.splitlines()[-1])
    assert got["messages"] == sent["messages"] == 2000
    assert got["sha256"] == sent["sha256"] and got["ended"] == "fin" and not got["lost"]
    assert bed.b.nft_counters()["total"] > 0
