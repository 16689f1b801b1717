"""The ``pgm`` command line: parsing, usage errors, unit conversions, loss messages, statistics.

No packets leave the test process here: ``send``/``recv`` run against fake
:class:`~pgm.io.PgmSender` / :class:`~pgm.io.PgmReceiver` objects that script the engine's
events, so every exit status and message is checked without a network.  The end-to-end runs
over network namespaces live with the namespace fixture.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest

import pgm.io
from pgm import __version__, cli
from pgm.engine import (
    DataReceived,
    Event,
    SessionEnded,
    SessionStarted,
    UnrecoverableLoss,
)
from pgm.progress import ProgressLine, format_bytes, format_rate
from pgm.wire import TSI

TSI1 = TSI(bytes([1, 2, 3, 4, 5, 6]), 7500)
TSI2 = TSI(bytes([9, 9, 9, 9, 9, 9]), 1234)
SRC = IPv4Address("10.0.0.1")
GROUP = "239.192.0.1"


def run(argv: Sequence[str]) -> int:
    """main() with argparse's SystemExit turned into a status."""
    try:
        return cli.main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


# -- version and usage errors --------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pgm {__version__}"


def test_version_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pgm", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"pgm {__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    assert "send" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "10.0.0.1", "--port", "7500"],  # not multicast
        ["send", "not-an-address", "--port", "7500"],
        ["send", GROUP],  # --port is required
        ["send", GROUP, "--port", "0"],
        ["send", GROUP, "--port", "65536"],
        ["send", GROUP, "--port", "x"],
        ["send", GROUP, "--port", "7500", "--transport", "tcp"],
        ["send", GROUP, "--port", "7500", "--rate", "0"],
        ["send", GROUP, "--port", "7500", "--rate", "-5"],
        ["send", GROUP, "--port", "7500", "--rate", "nan"],
        ["send", GROUP, "--port", "7500", "--window-ms", "0"],
        ["send", GROUP, "--port", "7500", "--message-size", "0"],
        ["send", GROUP, "--port", "7500", "--ttl", "256"],
        ["send", GROUP, "--port", "7500", "--linger", "-1"],
        ["send", GROUP, "a", "b", "--port", "7500"],  # two files
        ["send", GROUP, "--port", "7500", "--bogus"],
        ["recv", "192.168.1.1", "--port", "7500"],
        ["recv", GROUP],
        ["recv", GROUP, "--port", "7500", "--timeout", "0"],
        ["recv", GROUP, "--port", "7500", "--loss", "100"],
        ["recv", GROUP, "--port", "7500", "--json"],  # stdout carries the data
        ["recv", GROUP, "--port", "7500", "--no-verify"],  # raw: nothing else checks
        ["demo", "--size", "4x"],
        ["demo", "--loss", "100"],
        ["demo", "--loss", "-1"],
        ["demo", "--receivers", "0"],
        ["demo", "--transport", "tcp"],
        ["demo", "--group", "10.1.1.1"],
        ["demo", "--group", "ff08::1"],  # the demo is IPv4
        ["decode", "zz"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    assert capsys.readouterr().err  # says why


def test_bad_group_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["send", "10.0.0.1", "--port", "7500"]) == 2
    assert "10.0.0.1 is not a multicast group address" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["send", "recv"])
def test_bad_interface_lists_interfaces(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([cmd, GROUP, "--port", "7500", "--iface", "no-such-if0", "--transport", "udp"]) == 2
    err = capsys.readouterr().err
    assert "no-such-if0" in err
    assert "available:" in err


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    argv = ["send", GROUP, str(missing), "--port", "7500", "--iface", "127.0.0.1"]
    assert run([*argv, "--transport", "udp"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "dir"
    argv = ["recv", GROUP, "--port", "7500", "--iface", "127.0.0.1", "--out", str(out)]
    assert run([*argv, "--transport", "udp"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_file_after_options() -> None:
    """argparse alone drops an optional positional that follows options (bpo-14191)."""
    a = cli.parse_args(["send", GROUP, "--port", "7500", "/tmp/x"])
    assert a.file == "/tmp/x"
    assert cli.parse_args(["send", GROUP, "/tmp/y", "--port", "7500"]).file == "/tmp/y"
    assert cli.parse_args(["send", GROUP, "--port", "7500"]).file == "-"
    assert cli.parse_args(["send", GROUP, "--port", "7500", "-"]).file == "-"


def test_parse_defaults_and_types() -> None:
    a = cli.parse_args(["send", GROUP, "--port", "7600", "--rate", "2500", "--window-ms", "250"])
    assert a.port == 7600
    assert str(a.group) == GROUP
    assert a.transport == "raw"
    assert a.rate == 2500.0
    assert a.window_ms == 250.0
    assert a.ttl == 1
    assert a.linger is None
    assert a.message_size is None
    r = cli.parse_args(["recv", GROUP, "--port", "1", "--iface", "a", "--iface", "b"])
    assert r.iface == ["a", "b"]
    assert r.out is None  # standard output, refused on a terminal
    assert r.timeout is None
    d = cli.parse_args(["demo"])
    assert (d.size, d.loss, d.receivers, d.transport) == (4 << 20, 0.05, 3, "auto")
    d = cli.parse_args(["demo", "--size", "1M", "--loss", "10%"])
    assert (d.size, d.loss) == (1 << 20, 0.1)
    assert str(cli.parse_args(["recv", "ff08::1", "--port", "1"]).group) == "ff08::1"


# -- unit conversions ----------------------------------------------------------------------------


def test_rate_and_window_units() -> None:
    assert cli.rate_bps_from_kbits(1000) == 1_000_000
    assert cli.rate_bps_from_kbits(0.5) == 500
    assert cli.rate_bps_from_kbits(2.5e6) == 2_500_000_000
    with pytest.raises(ValueError):
        cli.rate_bps_from_kbits(0)
    assert cli.window_secs_from_ms(250) == 0.25
    assert cli.window_secs_from_ms(10_000) == 10.0
    with pytest.raises(ValueError):
        cli.window_secs_from_ms(0)


def test_build_source_config() -> None:
    cfg = cli.build_source_config(rate_kbits=2000, window_ms=500, transport="udp")
    assert cfg.rate_bps == 2_000_000
    assert cfg.window_secs == 0.5
    assert cfg.udp_encapsulation
    assert cfg.max_tsdu == 1500 - 20 - 8 - 16 - 8  # the default message size over UDP
    raw = cli.build_source_config(transport="raw")
    assert raw.max_tsdu == 1456
    assert raw.rate_bps == 10_000_000  # engine defaults kept
    assert raw.window_secs == 10.0
    assert cli.build_source_config(group=IPv4Address("239.1.1.1")).ip_version == 4
    v6 = cli.build_source_config(group=IPv6Address("ff08::1"), transport="udp")
    assert v6.ip_version == 6
    assert v6.max_tsdu == 1500 - 40 - 8 - 16 - 8


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100),
        ("512k", 512 * 1024),
        ("4M", 4 << 20),
        ("4MB", 4 << 20),
        ("4MiB", 4 << 20),
        ("4 mib", 4 << 20),
        ("1.5k", 1536),
        ("1G", 1 << 30),
        ("0", 0),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert cli.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "x", "4x", "-1", "4 M B", "1e3"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        cli.parse_size(text)


def test_parse_percent() -> None:
    assert cli.parse_percent("5") == 0.05
    assert cli.parse_percent("5%") == 0.05
    assert cli.parse_percent(" 12.5 % ") == 0.125
    assert cli.parse_percent("0") == 0.0
    for bad in ("100", "-1", "x", ""):
        with pytest.raises(ValueError):
            cli.parse_percent(bad)


# -- loss messages -------------------------------------------------------------------------------


def test_loss_message_one_range() -> None:
    assert cli.format_loss(TSI1, [(1200, 1350)]) == (
        "unrecoverable loss: sequence numbers 1200-1350 (151 packets) from TSI 1.2.3.4.5.6.7500"
    )


def test_loss_message_one_packet() -> None:
    assert cli.format_loss(TSI1, [(7, 7)]) == (
        "unrecoverable loss: sequence number 7 (1 packet) from TSI 1.2.3.4.5.6.7500"
    )


def test_loss_message_merges_and_counts() -> None:
    text = cli.format_loss(TSI1, [(10, 19), (20, 29), (40, 40)])
    assert text == (
        "unrecoverable loss: sequence numbers 10-29 (20 packets), 40 (1 packet) "
        "from TSI 1.2.3.4.5.6.7500 (21 packets in 2 ranges)"
    )


def test_loss_message_wraps_sequence_numbers() -> None:
    assert cli.range_count(0xFFFFFFF0, 5) == 22
    assert cli.merge_ranges([(0xFFFFFFF0, 0xFFFFFFFF), (0, 5)]) == [(0xFFFFFFF0, 5)]
    assert "4294967280-5 (22 packets)" in cli.format_loss(TSI1, [(0xFFFFFFF0, 0xFFFFFFFF), (0, 5)])


def test_loss_message_limit() -> None:
    ranges = [(i * 10, i * 10 + 1) for i in range(12)]
    text = cli.format_loss(TSI1, ranges, limit=3)
    assert text.startswith("unrecoverable loss: sequence numbers 0-1 (2 packets), 10-11")
    assert "and 9 more ranges" in text
    assert text.endswith("(24 packets in 12 ranges)")


def test_merge_ranges_keeps_order_and_gaps() -> None:
    assert cli.merge_ranges([]) == []
    assert cli.merge_ranges([(5, 6), (8, 9), (10, 10)]) == [(5, 6), (8, 10)]


# -- statistics ----------------------------------------------------------------------------------

SENDER_STATS: dict[str, Any] = {
    "data_bytes_sent": 4_000_000,
    "naks_received": 17,
    "repair_packets_sent": 15,
    "rate_kbps_overall": 9000.5,
}


def test_sender_summary_shape() -> None:
    s = cli.sender_summary(
        nbytes=4_000_000, messages=2763, duration=2.0, stats=SENDER_STATS, tsi=TSI1, port=7500
    )
    assert s["command"] == "send"
    assert s["bytes"] == 4_000_000
    assert s["messages"] == 2763
    assert s["duration_s"] == 2.0
    assert s["goodput_mbps"] == 16.0
    assert s["naks_received"] == 17
    assert s["repairs_sent"] == 15
    assert s["tsi"] == "1.2.3.4.5.6.7500"
    assert s["port"] == 7500
    assert s["end"] == "fin"
    assert s["exit_status"] == 0
    assert s["stats"] is SENDER_STATS
    json.dumps(s)
    line = cli.format_sender_stats(s)
    for part in ("4000000 bytes", "2763 messages", "2.00 s", "16.00 Mbit/s", "17 NAKs received"):
        assert part in line
    assert "15 repairs sent" in line


def test_receiver_summary_shape() -> None:
    sess = {"selective_naks_sent": 9, "rdata_packets_received": 8, "data_bytes_received": 1000}
    s = cli.receiver_summary(
        nbytes=1_000_000,
        messages=700,
        duration=0.5,
        session_stats=sess,
        stats={"sessions": {str(TSI1): sess}},
        lost_ranges=[(1, 2), (3, 3)],
        loss_events=2,
        tsi=TSI1,
        source=SRC,
        end="fin",
        exit_status=3,
    )
    assert s["command"] == "recv"
    assert (s["bytes"], s["messages"], s["duration_s"], s["goodput_mbps"]) == (
        1_000_000,
        700,
        0.5,
        16.0,
    )
    assert (s["naks_sent"], s["repairs_received"]) == (9, 8)
    assert (s["loss_events"], s["lost_packets"], s["lost_ranges"]) == (2, 3, [[1, 3]])
    assert (s["tsi"], s["source"], s["end"], s["exit_status"]) == (
        "1.2.3.4.5.6.7500",
        "10.0.0.1",
        "fin",
        3,
    )
    json.dumps(s)
    line = cli.format_receiver_stats(s)
    for part in ("1000000 bytes", "700 messages", "9 NAKs sent", "8 repairs received"):
        assert part in line
    assert "2 loss events, 3 packets lost" in line


def test_goodput_of_nothing() -> None:
    assert cli.goodput_mbps(0, 0.0) == 0.0
    assert cli.goodput_mbps(125_000, 1.0) == 1.0


# -- send and recv against fake I/O objects --------------------------------------------------------


class FakeSender:
    """Stands in for PgmSender: records what the CLI asks of it."""

    last: FakeSender | None = None

    def __init__(self, group: Any, port: int, **kw: Any) -> None:
        self.group, self.port, self.kw = group, port, kw
        self.messages: list[bytes] = []
        self.closed_with: float | str | None = "not closed"
        self.aborted = False
        self.tsi = TSI1
        FakeSender.last = self

    def send(self, data: bytes, timeout: float | None = None) -> int:
        self.messages.append(data)
        return len(self.messages) - 1

    def send_many(self, messages: list[bytes], timeout: float | None = None) -> int:
        self.messages.extend(messages)
        return len(self.messages) - 1

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, linger: float | None = None) -> None:
        self.closed_with = linger

    def abort(self) -> None:
        self.aborted = True

    def stats(self) -> dict[str, Any]:
        return {
            "data_bytes_sent": sum(map(len, self.messages)),
            "naks_received": 3,
            "repair_packets_sent": 2,
        }


@pytest.fixture
def fake_sender(monkeypatch: pytest.MonkeyPatch) -> type[FakeSender]:
    monkeypatch.setattr(pgm.io, "PgmSender", FakeSender)
    FakeSender.last = None
    return FakeSender


def test_send_conversions_and_json(
    fake_sender: type[FakeSender], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    data = os.urandom(2500)
    src.write_bytes(data)
    argv = ["send", GROUP, str(src), "--port", "7600", "--iface", "127.0.0.1"]
    argv += ["--transport", "udp", "--rate", "2000", "--window-ms", "500", "--ttl", "0"]
    argv += ["--linger", "0.5", "--message-size", "1000", "--json"]
    assert run(argv) == 0
    tx = fake_sender.last
    assert tx is not None
    assert [len(m) for m in tx.messages] == [1000, 1000, 500]
    assert b"".join(tx.messages) == data
    cfg = tx.kw["config"]
    assert cfg.rate_bps == 2_000_000
    assert cfg.window_secs == 0.5
    assert tx.kw["ttl"] == 0
    assert tx.kw["transport"] == "udp"
    assert tx.closed_with == 0.5
    out, err = capsys.readouterr()
    obj = json.loads(out)
    assert obj["command"] == "send"
    assert (obj["bytes"], obj["messages"], obj["naks_received"], obj["repairs_sent"]) == (
        2500,
        3,
        3,
        2,
    )
    assert obj["stats"]["data_bytes_sent"] == 2500
    assert obj["linger_s"] == 0.5
    assert "pgm send: 2500 bytes in 3 messages" in err  # the statistics line, always


def test_send_default_message_size_from_stdin(
    fake_sender: type[FakeSender], monkeypatch: pytest.MonkeyPatch
) -> None:
    r, w = os.pipe()
    data = os.urandom(5000)
    os.write(w, data)
    os.close(w)
    with open(r, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        argv = ["send", GROUP, "--port", "7600", "--iface", "127.0.0.1", "--transport", "udp"]
        assert run(argv) == 0
    tx = fake_sender.last
    assert tx is not None
    assert b"".join(tx.messages) == data
    assert max(map(len, tx.messages)) <= 1448  # one packet each over UDP/IPv4
    assert tx.closed_with is None  # linger: the engine's default (the window)


def test_send_message_too_large(
    fake_sender: type[FakeSender], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"x")
    argv = ["send", GROUP, str(src), "--port", "1", "--iface", "127.0.0.1"]
    assert run([*argv, "--message-size", str(16 * 1024 * 1024 + 1)]) == 2


class FakeReceiver:
    """Stands in for PgmReceiver: hands out scripted events."""

    last: FakeReceiver | None = None
    script: list[Event] = []
    session_stats: dict[str, dict[str, Any]] = {}

    def __init__(self, group: Any, port: int, **kw: Any) -> None:
        self.group, self.port, self.kw = group, port, kw
        self.events = list(type(self).script)
        self.closed = False
        self.simulated_drops = 0

        class T:
            buffer_warning = None

        self.transport = T()
        FakeReceiver.last = self

    def next_event(self, timeout: float | None = None) -> Event | None:
        if self.events:
            return self.events.pop(0)
        time.sleep(min(timeout or 0.0, 0.01))
        return None

    def next_events(self, timeout: float | None = None) -> list[Event]:
        """Two scripted events at a time: batches, as PgmReceiver.next_events gives them."""
        got = self.events[:2]
        del self.events[:2]
        if not got:
            time.sleep(min(timeout or 0.0, 0.01))
        return got

    def stats(self) -> dict[str, Any]:
        return {
            "receiver": {"sessions_started": 1},
            "sessions": dict(type(self).session_stats),
            "simulated_drops": 0,
        }

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_receiver(monkeypatch: pytest.MonkeyPatch) -> type[FakeReceiver]:
    monkeypatch.setattr(pgm.io, "PgmReceiver", FakeReceiver)
    FakeReceiver.script = []
    FakeReceiver.session_stats = {
        str(TSI1): {"selective_naks_sent": 4, "rdata_packets_received": 3, "spms_received": 5}
    }
    return FakeReceiver


def recv(tmp_path: Path, *extra: str) -> list[str]:
    """``pgm recv`` arguments writing to ``tmp_path/out``."""
    base = ["recv", GROUP, "--port", "7600", "--iface", "127.0.0.1", "--transport", "udp"]
    return [*base, "--out", str(tmp_path / "out"), *extra]


def test_recv_complete_session(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_receiver.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"hello ", 0),
        SessionStarted(TSI2, SRC),  # a second session: ignored
        DataReceived(TSI2, b"NOT THIS", 0),
        DataReceived(TSI1, b"world", 1),
        SessionEnded(TSI2, "fin"),
        SessionEnded(TSI1, "fin"),
    ]
    assert run(recv(tmp_path, "--json", "--timeout", "5")) == 0
    assert (tmp_path / "out").read_bytes() == b"hello world"
    out, err = capsys.readouterr()
    obj = json.loads(out)
    assert obj["command"] == "recv"
    assert (obj["bytes"], obj["messages"], obj["end"], obj["exit_status"]) == (11, 2, "fin", 0)
    assert (obj["naks_sent"], obj["repairs_received"], obj["loss_events"]) == (4, 3, 0)
    assert obj["tsi"] == str(TSI1)
    assert obj["source"] == str(SRC)
    assert obj["lost_ranges"] == []
    assert set(obj["stats"]) == {"receiver", "sessions", "simulated_drops"}
    assert "pgm recv: 11 bytes in 2 messages" in err
    rx = fake_receiver.last
    assert rx is not None
    assert rx.closed
    assert rx.kw["config"].peer_expiry == 5.0  # --timeout is also the idle expiry
    assert rx.kw["transport"] == "udp"
    assert [i.name for i in rx.kw["ifaces"]]  # resolved Interface objects


def test_recv_no_verify_over_udp_skips_checksums(
    fake_receiver: type[FakeReceiver], tmp_path: Path
) -> None:
    fake_receiver.script = [SessionStarted(TSI1, SRC), DataReceived(TSI1, b"x", 0),
                            SessionEnded(TSI1, "fin")]  # fmt: skip
    assert run(recv(tmp_path, "--no-verify")) == 0
    assert fake_receiver.last is not None
    assert fake_receiver.last.kw["config"].verify_checksum is False
    assert run(recv(tmp_path)) == 0
    assert fake_receiver.last.kw["config"].verify_checksum is True  # the default


def test_recv_loss_exits_3_after_the_session(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_receiver.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"a", 1199),
        UnrecoverableLoss(TSI1, 1200, 1300, "window"),
        UnrecoverableLoss(TSI2, 1, 5, "window"),  # not our session
        UnrecoverableLoss(TSI1, 1301, 1350, "retries"),
        DataReceived(TSI1, b"b", 1351),  # delivery goes on after the gap
        SessionEnded(TSI1, "fin"),
    ]
    assert run(recv(tmp_path, "--json")) == 3
    assert (tmp_path / "out").read_bytes() == b"ab"
    out, err = capsys.readouterr()
    assert (
        "unrecoverable loss: sequence numbers 1200-1350 (151 packets) from TSI 1.2.3.4.5.6.7500"
    ) in err
    obj = json.loads(out)
    assert obj["exit_status"] == 3
    assert obj["lost_ranges"] == [[1200, 1350]]
    assert obj["lost_packets"] == 151
    assert obj["loss_events"] == 2


@pytest.mark.parametrize(("reason", "words"), [("rst", "OPT_RST"), ("expired", "silent")])
def test_recv_abnormal_end_exits_3(
    reason: str,
    words: str,
    fake_receiver: type[FakeReceiver],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_receiver.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"partial", 0),
        SessionEnded(TSI1, reason),
    ]
    assert run(recv(tmp_path, "--timeout", "2")) == 3
    assert words in capsys.readouterr().err


def test_recv_no_session_exits_4(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.monotonic()
    assert run(recv(tmp_path, "--timeout", "0.2", "--json")) == 4
    assert time.monotonic() - t0 < 5
    out, err = capsys.readouterr()
    assert "no session on 239.192.0.1 port 7600 within 0.2 s" in err
    obj = json.loads(out)
    assert (obj["exit_status"], obj["end"], obj["tsi"], obj["bytes"]) == (4, "no-session", None, 0)


def test_recv_skips_a_session_that_had_already_ended(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Joining while an earlier sender lingers: its FIN SPM starts and ends a session at once
    (the engine says it had ended when first heard); that is not the transfer we wait for."""
    fake_receiver.script = [
        SessionStarted(TSI2, SRC, ended_when_heard=True),
        SessionEnded(TSI2, "fin"),
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"new", 0),
        SessionEnded(TSI1, "fin"),
    ]
    assert run(recv(tmp_path)) == 0
    assert (tmp_path / "out").read_bytes() == b"new"
    assert "ignoring session 9.9.9.9.9.9.1234" in capsys.readouterr().err


def test_recv_counts_empty_messages(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A zero-length message is a message (message mode): counted, nothing written."""
    fake_receiver.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"", 0),
        DataReceived(TSI1, b"ab", 1),
        DataReceived(TSI1, b"", 2),
        SessionEnded(TSI1, "fin"),
    ]
    assert run(recv(tmp_path, "--json")) == 0
    assert (tmp_path / "out").read_bytes() == b"ab"
    obj = json.loads(capsys.readouterr().out)
    assert (obj["bytes"], obj["messages"], obj["end"]) == (2, 3, "fin")


def test_recv_empty_session_is_success(fake_receiver: type[FakeReceiver], tmp_path: Path) -> None:
    fake_receiver.script = [SessionStarted(TSI1, SRC), SessionEnded(TSI1, "fin")]
    assert run(recv(tmp_path)) == 0  # spms_received 5: a real (empty) transfer
    assert (tmp_path / "out").read_bytes() == b""


def test_recv_loss_option_and_several_interfaces(
    fake_receiver: type[FakeReceiver], tmp_path: Path
) -> None:
    fake_receiver.script = [SessionStarted(TSI1, SRC), SessionEnded(TSI1, "fin")]
    argv = recv(tmp_path, "--loss", "5", "--iface", "127.0.0.1")
    assert run(argv) == 0
    rx = fake_receiver.last
    assert rx is not None
    assert rx.kw["loss"] == 0.05
    assert len(rx.kw["ifaces"]) == 2
    assert rx.kw["config"].peer_expiry == 300.0  # no --timeout: the engine default


# -- progress line ---------------------------------------------------------------------------------


def test_progress_line_draws_and_erases() -> None:
    buf = io.StringIO()
    n = [0]

    def render() -> str:
        n[0] += 1
        return f"step {n[0]}"

    p = ProgressLine(render, buf, enabled=True, interval=0.01)
    p.draw()
    p.message("a note")
    p.draw()
    p.stop()
    text = buf.getvalue()
    assert text.startswith("\rstep 1")
    assert "a note\n" in text
    assert "\rstep 2" in text
    assert text.endswith("\r")  # erased at the end


def test_progress_line_silent_when_not_a_terminal() -> None:
    buf = io.StringIO()  # isatty() is False
    with ProgressLine(lambda: "x", buf, interval=0.01) as p:
        assert not p.enabled
        time.sleep(0.05)
    assert buf.getvalue() == ""


def test_formatters() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(4 << 20) == "4.0 MiB"
    assert format_rate(12_300_000) == "12.3 Mbit/s"
    assert format_rate(999) == "999 bit/s"
    assert format_rate(2.5e9) == "2.5 Gbit/s"
