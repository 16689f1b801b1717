"""Everyday use of the command line and the library (issue 14): signals, interpreter exit,
``--out`` handling.

The signal and exit tests run real ``pgm`` processes against a receiver in this process, over
UDP on the loopback interface with TTL 0 (nothing leaves the host, no privileges needed); the
``--out`` tests use the scripted fake receiver of tests/cli/test_cli.py.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgm.engine import DataReceived, Event, SessionEnded, SessionStarted
from pgm.io import PgmReceiver
from tests.cli.test_cli import (
    SRC,
    TSI1,
    FakeReceiver,
    FakeSender,
    fake_receiver,
    fake_sender,
    recv,
    run,
)

__all__ = ["fake_receiver", "fake_sender"]  # the fixtures, re-used

ROOT = Path(__file__).resolve().parents[2]
GROUP = "239.192.0.77"
LO = "127.0.0.1"
_ports = itertools.count(7741)


def _pgm(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-X", "dev", "-m", "pgm", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,  # this tree's pgm, not an installed one
    )


def _until_end(rx: PgmReceiver, timeout: float = 20.0) -> list[Event]:
    got: list[Event] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got += rx.next_events(0.2)
        if any(isinstance(e, SessionEnded) for e in got):
            break
    return got


def _wait_for_data(rx: PgmReceiver, timeout: float = 20.0) -> list[Event]:
    got: list[Event] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end and not any(isinstance(e, DataReceived) for e in got):
        got += rx.next_events(0.2)
    return got


# -- SIGTERM ---------------------------------------------------------------------------------------


def test_sigterm_makes_send_abort_its_session_with_rst() -> None:
    port = next(_ports)
    with PgmReceiver(GROUP, port, ifaces=LO, transport="udp") as rx:
        args = ["send", GROUP, "--port", str(port), "--iface", LO, "--transport", "udp"]
        p = _pgm(*args, "--ttl", "0", stdin=subprocess.PIPE)
        assert p.stdin is not None
        p.stdin.write("hello\n")
        p.stdin.flush()  # stdin stays open: the sender waits for more
        events = _wait_for_data(rx)
        time.sleep(0.5)  # the sender is back in its read of stdin, waiting for more
        p.send_signal(signal.SIGTERM)
        _out, err = p.communicate(timeout=30)
        events += _until_end(rx)
    assert p.returncode == 143, err
    assert "terminated (SIGTERM): session aborted (OPT_RST)" in err
    assert "pgm send: 6 bytes in 1 messages" in err  # the statistics line, as after Ctrl-C
    assert [e.data for e in events if isinstance(e, DataReceived)] == [b"hello\n"]
    ends = [e for e in events if isinstance(e, SessionEnded)]
    assert ends and ends[0].reason == "rst"  # at once, not after the peer expiry


def test_sigterm_makes_recv_exit_cleanly_leaving_out_alone(tmp_path: Path) -> None:
    out = tmp_path / "existing.bin"
    out.write_bytes(b"keep me")
    port = next(_ports)
    args = ["recv", GROUP, "--port", str(port), "--iface", LO, "--transport", "udp"]
    p = _pgm(*args, "--out", str(out))
    time.sleep(1.5)  # started and waiting for a session
    p.send_signal(signal.SIGTERM)
    _o, err = p.communicate(timeout=30)
    assert p.returncode == 143, err
    assert "pgm recv: terminated (SIGTERM)" in err
    assert "Traceback" not in err
    assert out.read_bytes() == b"keep me"
    assert [f.name for f in tmp_path.iterdir()] == ["existing.bin"]  # no temporary left


# -- interpreter exit with an open sender ----------------------------------------------------------


def test_interpreter_exit_without_close_ends_the_session_with_fin() -> None:
    port = next(_ports)
    code = (
        "from pgm.io import PgmSender\n"
        f"tx = PgmSender({GROUP!r}, {port}, iface={LO!r}, transport='udp', ttl=0)\n"
        "for i in range(50):\n"
        "    tx.send(b'm%d' % i)\n"  # ... and no close()
    )
    with PgmReceiver(GROUP, port, ifaces=LO, transport="udp") as rx:
        r = subprocess.run(
            [sys.executable, "-X", "dev", "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        events = _until_end(rx)
    assert r.returncode == 0 and not r.stderr, r.stderr  # no ResourceWarning either
    assert [e.data for e in events if isinstance(e, DataReceived)] == [
        b"m%d" % i for i in range(50)
    ]
    ends = [e for e in events if isinstance(e, SessionEnded)]
    assert ends and ends[0].reason == "fin"


# -- --out is replaced only once data arrives ------------------------------------------------------


class _HeardOtherPorts(FakeReceiver):
    def stats(self) -> dict[str, object]:
        st = super().stats()
        st["receiver"] = {"wrong_port": 697}
        return st


def test_out_left_alone_when_no_session_and_other_ports_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pgm.io

    monkeypatch.setattr(pgm.io, "PgmReceiver", _HeardOtherPorts)
    _HeardOtherPorts.script = []
    (tmp_path / "out").write_bytes(b"precious")
    assert run(recv(tmp_path, "--timeout", "0.2")) == 4
    err = capsys.readouterr().err
    assert "no session on 239.192.0.1 port 7600 within 0.2 s" in err
    assert "heard 697 PGM packets for other ports (is --port the sender's?)" in err
    assert "left as it was" in err
    assert (tmp_path / "out").read_bytes() == b"precious"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out"]


def test_out_replaced_once_data_arrives(fake_receiver: type[FakeReceiver], tmp_path: Path) -> None:
    (tmp_path / "out").write_bytes(b"old contents, longer than the new")
    fake_receiver.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"new", 0),
        SessionEnded(TSI1, "fin"),
    ]
    assert run(recv(tmp_path, "--timeout", "5")) == 0
    assert (tmp_path / "out").read_bytes() == b"new"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out"]


def test_out_to_a_device_is_written_in_place(fake_receiver: type[FakeReceiver]) -> None:
    fake_receiver.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"x", 0),
        SessionEnded(TSI1, "fin"),
    ]
    argv = ["recv", GROUP, "--port", "7600", "--iface", LO, "--transport", "udp"]
    assert run([*argv, "--out", "/dev/null", "--timeout", "5"]) == 0
    assert Path("/dev/null").is_char_device()  # not renamed over


def test_out_refuses_a_terminal_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    argv = ["recv", GROUP, "--port", "7600", "--iface", LO, "--transport", "udp"]
    assert run(argv) == 2
    assert "not writing binary data to a terminal: add --out FILE" in capsys.readouterr().err


# -- what a user trips over ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["send", GROUP, "--port", "abc"], "argument --port: not a port number: 'abc' (1..65535)"),
        (["recv", GROUP, "--port", "1", "--timeout", "x"], "not a number: 'x'"),
        (["send", GROUP, "--port", "1", "--ttl", "1.5"], "not a whole number: '1.5'"),
    ],
)
def test_bad_values_say_what_was_expected(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "invalid literal" not in err


@pytest.mark.parametrize("cmd", ["send", "recv"])
def test_unknown_option_prints_the_commands_usage(
    cmd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([cmd, GROUP, "--port", "1", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: pgm {cmd} ")
    assert f"pgm {cmd}: error: unrecognized arguments: --bogus" in err


def test_send_says_when_it_lingers(
    fake_sender: type[FakeSender], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"abc")
    argv = ["send", GROUP, str(src), "--port", "7600", "--iface", LO, "--transport", "udp"]
    assert run([*argv, "--linger", "0.5"]) == 0
    assert "pgm send: lingering 0.5 s for repairs (--linger)" in capsys.readouterr().err


def test_send_from_a_terminal_hints_and_draws_no_progress(
    fake_sender: type[FakeSender], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import os

    from pgm import progress

    master, slave = os.openpty()
    os.write(master, b"typed\n\x04")  # a line, then Ctrl-D
    enabled: list[bool | None] = []
    real = progress.ProgressLine.__init__

    def spy(self: progress.ProgressLine, *a: object, **kw: object) -> None:
        enabled.append(kw.get("enabled"))  # type: ignore[arg-type]
        real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(progress.ProgressLine, "__init__", spy)
    err = io.StringIO()
    with open(slave, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(sys, "stderr", err)
        argv = ["send", GROUP, "--port", "7600", "--iface", LO, "--transport", "udp"]
        assert run([*argv, "--linger", "0"]) == 0
    os.close(master)
    tx = fake_sender.last
    assert tx is not None and b"".join(tx.messages) == b"typed\n"
    assert "reading standard input from the terminal, Ctrl-D to end" in err.getvalue()
    assert enabled == [False]


def test_send_refuses_a_second_source_on_the_udp_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pgm.io import PgmSender

    port = next(_ports)
    src = tmp_path / "in"
    src.write_bytes(b"abc")
    first = PgmSender(GROUP, port, iface=LO, transport="udp", ttl=0)
    try:
        argv = ["send", GROUP, str(src), "--port", str(port), "--iface", LO]
        assert run([*argv, "--transport", "udp", "--ttl", "0"]) == 2
    finally:
        first.abort()
    err = capsys.readouterr().err
    assert f"pgm send: another PGM source on this host already uses UDP port {port}" in err
    assert "give each source its own port (--port" in err


def test_sigterm_stops_the_demo_and_its_processes() -> None:
    p = _pgm("demo", "--size", "200M", "--transport", "udp")
    assert p.stdout is not None and p.stderr is not None
    # Evidence, not a sleep: the opening line is printed after SIGTERM's handler is installed
    # and just before the demo starts its processes (a loaded machine may take seconds).
    head = ""
    for _ in range(20):
        line = p.stdout.readline()
        head += line
        if not line or "from 1 source to" in line:
            break
    assert "from 1 source to" in head, head
    time.sleep(1.0)  # let the processes start: the end must be the same either way
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    out = head + out
    assert p.returncode == 143, err
    assert "pgm demo: terminated (SIGTERM)" in out + err and "Traceback" not in err


class _NoPrivilege(FakeReceiver):
    def __init__(self, group: object, port: int, **kw: object) -> None:
        raise PermissionError(1, "raw PGM sockets (IP protocol 113) need root or CAP_NET_RAW")


def test_out_left_alone_when_the_socket_cannot_be_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pgm.io

    monkeypatch.setattr(pgm.io, "PgmReceiver", _NoPrivilege)
    (tmp_path / "out").write_bytes(b"precious")
    base = ["recv", GROUP, "--port", "7600", "--iface", LO, "--transport", "raw"]
    assert run([*base, "--out", str(tmp_path / "out")]) == 2
    assert "need root or CAP_NET_RAW" in capsys.readouterr().err
    assert (tmp_path / "out").read_bytes() == b"precious"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out"]
