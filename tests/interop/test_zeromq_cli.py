"""``pgm send --zmq`` / ``pgm recv --zmq`` against libzmq (issue 14): the command line
publishes to a ZeroMQ SUB and subscribes from a ZeroMQ PUB (pyzmq on Debian's python3-zmq,
tests/interop/zmq_peer.py), given the endpoint in ZeroMQ's own spelling
(``epgm://IFACE;GROUP:PORT``, ``pgm://...``), over a veth pair with 2 % loss at the receiver.

A ZeroMQ SUB aborts on unframed or fragmented APDUs, so a SUB that got every message in order
and exited normally is the proof that ``--zmq`` framed each one in single-packet APDUs.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.conftest import next_port
from tests.interop.harness import ZMQ_PEER, ZMQ_PYTHON
from tests.interop.peerio import read_messages
from tests.testbed.netbed import GROUP4, GROUP6, NetBed, NetHost

pytestmark = [pytest.mark.interop, pytest.mark.netns]

TRANSPORTS = [
    pytest.param("epgm", False, id="epgm4"),
    pytest.param("pgm", False, id="pgm4"),
    pytest.param("epgm", True, id="epgm6"),
]
MSG = 1000
SIZE = 400_000


def _endpoint(scheme: str, host: NetHost, v6: bool, port: int) -> str:
    """ZeroMQ's spelling, with the interface's address as libzmq wants it (pgm takes it too)."""
    group = GROUP6 if v6 else GROUP4
    return f"{scheme}://{host.ip6 if v6 else host.ip4};{group}:{port}"


def _line(p: subprocess.Popen[str], want: str, timeout: float = 60.0) -> str:
    """Read the peer's stdout until a line starting with ``want``."""
    assert p.stdout is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = p.stdout.readline()
        if not line:
            raise AssertionError(f"peer exited ({p.poll()}) before {want!r}")
        if line.startswith(want):
            return line
    raise AssertionError(f"no {want!r} within {timeout} s")


@pytest.mark.parametrize(("scheme", "v6"), TRANSPORTS)
def test_pgm_send_zmq_feeds_a_zeromq_sub(
    bed: NetBed, tmp_path: Path, scheme: str, v6: bool
) -> None:
    bed.reset()
    port = next_port()
    data = os.urandom(SIZE)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    got = tmp_path / "sub.msgs"
    count = math.ceil(SIZE / MSG)
    sub = bed.b.popen(
        [ZMQ_PYTHON, str(ZMQ_PEER), "sub", _endpoint(scheme, bed.b, v6, port),
         "--count", str(count), "--out", str(got), "--timeout", "90"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _line(sub, "READY")
    bed.b.wait_joined(GROUP6 if v6 else GROUP4, proc=sub)
    bed.b.set_loss(2)
    send = bed.a.python_popen(
        ["-m", "pgm", "send", _endpoint(scheme, bed.a, v6, port), str(src), "--zmq",
         "--message-size", str(MSG), "--rate", "20000", "--linger", "10"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _so, sub_err = sub.communicate(timeout=120)
    finally:
        bed.b.set_loss(0)
        send.terminate()
        _o, send_err = send.communicate(timeout=30)
    assert sub.returncode == 0, f"SUB exited {sub.returncode}: {sub_err[-2000:]} / {send_err}"
    msgs = read_messages(got)
    assert len(msgs) == count and b"".join(msgs) == data
    assert all(len(m) == MSG for m in msgs[:-1])


@pytest.mark.parametrize(("scheme", "v6"), TRANSPORTS)
def test_pgm_recv_zmq_subscribes_from_a_zeromq_pub(
    bed: NetBed, tmp_path: Path, scheme: str, v6: bool
) -> None:
    bed.reset()
    port = next_port()
    out = tmp_path / "out.msgs"
    count = 300
    recv = bed.b.python_popen(
        ["-m", "pgm", "recv", _endpoint(scheme, bed.b, v6, port), "--zmq",
         "--per-message", "length", "--out", str(out), "--timeout", "60"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    bed.b.wait_joined(GROUP6 if v6 else GROUP4, proc=recv)
    bed.b.set_loss(2)
    pub = bed.a.popen(
        [ZMQ_PYTHON, str(ZMQ_PEER), "pub", _endpoint(scheme, bed.a, v6, port),
         "--count", str(count), "--size", str(MSG), "--rate", "20000", "--linger", "5",
         "--timeout", "90"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert pub.stdin is not None
    try:
        _line(pub, "READY")
        pub.stdin.write("go\n")
        pub.stdin.flush()
        _line(pub, "SENT")
        pub.stdin.write("close\n")
        pub.stdin.flush()
        _so, recv_err = recv.communicate(timeout=120)
    finally:
        bed.b.set_loss(0)
        pub.kill()
        pub.communicate(timeout=30)
    assert recv.returncode == 0, f"pgm recv exited {recv.returncode}: {recv_err[-2000:]}"
    msgs = read_messages(out)
    assert msgs == [b"x" * MSG] * count
