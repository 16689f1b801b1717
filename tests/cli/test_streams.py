"""Long-running and ZeroMQ receiving (issue 14): ``pgm recv --keep-going``, ``--per-message``,
``--zmq`` on send and recv, the library's ZeroMQ framing (pgm.net.zmtp), ``send --no-loop``.

The ZeroMQ framing is checked here with the interop suite's strict decoder (tests/interop/zmtp.py)
and against libzmq itself in tests/interop/test_zeromq_cli.py.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import pgm.io
from pgm.engine import DataReceived, Event, SessionEnded, SessionStarted, UnrecoverableLoss
from pgm.net.zmtp import ZmtpDecoder, ZmtpEncoder, ZmtpError, send_zmq, zmq_message_size
from tests.cli.test_cli import SRC, TSI1, TSI2, FakeReceiver, FakeSender, fake_sender, run
from tests.interop import zmtp as oracle

__all__ = ["fake_sender"]

GROUP = "239.192.0.1"
BASE = ["recv", GROUP, "--port", "7600", "--iface", "127.0.0.1", "--transport", "udp"]


class _Interrupted(FakeReceiver):
    """Hands out its script in batches, then Ctrl-C (how a long-running receiver ends)."""

    def next_events(self, timeout: float | None = None) -> list[Event]:
        if not self.events:
            raise KeyboardInterrupt
        out, self.events = self.events[:2], self.events[2:]
        return out


@pytest.fixture
def interrupted(monkeypatch: pytest.MonkeyPatch) -> type[_Interrupted]:
    monkeypatch.setattr(pgm.io, "PgmReceiver", _Interrupted)
    _Interrupted.script = []
    return _Interrupted


# -- the library's ZeroMQ framing ----------------------------------------------------------------


@pytest.mark.parametrize("max_apdu", [3, 100, 1448])
def test_encoder_decodes_strictly_and_never_exceeds_one_apdu(max_apdu: int) -> None:
    rng = random.Random(max_apdu)
    msgs = [[rng.randbytes(rng.choice([0, 1, 253, 254, 255, 3000]))] for _ in range(60)]
    msgs.append([b"topic", b"body"])  # a multi-frame message
    apdus = ZmtpEncoder(max_apdu).apdus(msgs)
    assert all(len(a) <= max_apdu for a in apdus)
    dec = ZmtpDecoder()
    assert [m for a in apdus for m in dec.feed(a)] == msgs
    check = oracle.ZmtpDecoder()  # the strict one: every offset exactly at a message start
    assert [m for a in apdus for m in check.feed(a)] == msgs


def test_decoder_resynchronises_after_a_loss() -> None:
    msgs = [[bytes([i]) * 700] for i in range(6)]
    apdus = ZmtpEncoder(500).apdus(msgs)
    dec = ZmtpDecoder()
    got = [m for a in apdus[:3] for m in dec.feed(a)]
    dec.lost()  # apdus[3] never arrives
    got += [m for a in apdus[4:] for m in dec.feed(a)]
    assert got[0] == msgs[0] and got[-1] == msgs[-1] and len(got) < len(msgs)
    assert dec.resyncs == 1
    with pytest.raises(ZmtpError):
        ZmtpDecoder().feed(b"\x00\x00\x05\x02xxxx")  # unknown flags


def test_zmq_message_size_fills_one_apdu() -> None:
    for max_apdu in (100, 256, 257, 1448):
        size = zmq_message_size(max_apdu)
        assert len(ZmtpEncoder(max_apdu).apdus([[b"x" * size]])) == 1
        assert len(ZmtpEncoder(max_apdu).apdus([[b"x" * (size + 1)]])) == 2


def test_send_zmq_helper_uses_the_senders_packet_size() -> None:
    sent: list[bytes] = []

    class Tx:
        max_tsdu = 200

        def send_many(self, messages: Any, timeout: float | None = None) -> int:
            sent.extend(messages)
            return 0

    assert send_zmq(Tx(), [b"a" * 1000, [b"topic", b"x"]]) == len(sent) > 1
    assert all(len(a) <= 200 for a in sent)
    dec = ZmtpDecoder()
    assert [m for a in sent for m in dec.feed(a)] == [[b"a" * 1000], [b"topic", b"x"]]


# -- the command line --------------------------------------------------------------------------


class _ZmqSender(FakeSender):
    max_tsdu = 300

    def send_many(self, messages: Any, timeout: float | None = None) -> int:
        self.messages.extend(messages)
        return 0


def test_send_zmq_frames_every_message_in_one_packet_apdus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pgm.io, "PgmSender", _ZmqSender)
    src = tmp_path / "in"
    data = random.Random(1).randbytes(5000)
    src.write_bytes(data)
    argv = ["send", GROUP, str(src), "--port", "7600", "--iface", "127.0.0.1"]
    assert run([*argv, "--transport", "udp", "--zmq", "--no-loop"]) == 0
    tx = _ZmqSender.last
    assert tx is not None and tx.kw["loop"] is False
    assert all(len(a) <= 300 for a in tx.messages)
    dec = ZmtpDecoder()
    msgs = [b"".join(m) for a in tx.messages for m in dec.feed(a)]
    assert b"".join(msgs) == data and all(len(m) == zmq_message_size(300) for m in msgs[:-1])


def test_send_loops_back_by_default(fake_sender: type[FakeSender], tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"x")
    argv = ["send", GROUP, str(tmp_path / "in"), "--port", "7600", "--iface", "127.0.0.1"]
    assert run([*argv, "--transport", "udp"]) == 0
    assert fake_sender.last is not None and fake_sender.last.kw["loop"] is True


def test_keep_going_follows_every_session_per_message(
    interrupted: type[_Interrupted], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupted.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"one", 0),
        SessionStarted(TSI2, SRC),  # a second source, side by side
        DataReceived(TSI2, b"two", 0),
        DataReceived(TSI1, b"three", 1),
        SessionEnded(TSI1, "fin"),
        SessionEnded(TSI2, "fin"),
        SessionStarted(TSI1._replace(source_port=9), SRC),  # and one after another
        DataReceived(TSI1._replace(source_port=9), b"four", 0),
    ]
    out = tmp_path / "out"
    assert run([*BASE, "--keep-going", "--per-message", "line", "--out", str(out)]) == 0
    assert out.read_bytes() == b"one\ntwo\nthree\nfour\n"
    err = capsys.readouterr().err
    assert f"session {TSI1} from {SRC} started" in err
    assert f"session {TSI1} from {SRC} ended (fin): 8 bytes in 2 messages" in err
    assert "3 sessions, 15 bytes in 4 messages, 0 packets lost" in err


def test_keep_going_length_prefixed_and_loss_exits_3(
    interrupted: type[_Interrupted], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupted.script = [
        SessionStarted(TSI1, SRC),
        DataReceived(TSI1, b"ab", 0),
        UnrecoverableLoss(TSI1, 1, 3, "window"),
        DataReceived(TSI1, b"c", 4),
    ]
    out = tmp_path / "out"
    argv = [*BASE, "--keep-going", "--per-message", "length", "--out", str(out), "--json"]
    assert run(argv) == 3
    assert out.read_bytes() == b"\x00\x00\x00\x02ab\x00\x00\x00\x01c"
    o, err = capsys.readouterr()
    assert "unrecoverable loss: sequence numbers 1-3 (3 packets)" in err
    assert '"mode": "keep-going"' in o and '"lost_packets": 3' in o


def test_recv_zmq_decodes_a_pubs_apdus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pgm.io, "PgmReceiver", FakeReceiver)
    msgs = [[b"m%d" % i * 200] for i in range(5)] + [[b"topic", b"body"]]
    apdus = ZmtpEncoder(300).apdus(msgs)
    FakeReceiver.script = [SessionStarted(TSI1, SRC)]
    FakeReceiver.script += [DataReceived(TSI1, a, i) for i, a in enumerate(apdus)]
    FakeReceiver.script.append(SessionEnded(TSI1, "fin"))
    FakeReceiver.session_stats = {str(TSI1): {"spms_received": 1}}
    out = tmp_path / "out"
    assert run([*BASE, "--zmq", "--per-message", "length", "--out", str(out)]) == 0
    data = out.read_bytes()
    got = []
    while data:
        n = int.from_bytes(data[:4], "big")
        got.append(data[4 : 4 + n])
        data = data[4 + n :]
    assert got == [b"".join(m) for m in msgs]
