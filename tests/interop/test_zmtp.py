"""ZeroMQ's framing on PGM (tests/interop/zmtp.py), checked without a network.  The live tests
(test_zeromq.py) then prove it against libzmq in both directions."""

from __future__ import annotations

import random
import struct

import pytest

from tests.interop.zmtp import NO_OFFSET, ZmtpDecoder, ZmtpError, encode, frame


def _decode(apdus: list[bytes]) -> list[list[bytes]]:
    d = ZmtpDecoder()
    return [m for a in apdus for m in d.feed(a)]


def test_frame_lengths_switch_to_eight_bytes_at_255() -> None:
    assert frame(b"") == b"\x01\x00"
    assert frame(b"a" * 253, more=True)[:2] == b"\xfe\x01"
    assert frame(b"a" * 254)[:10] == b"\xff" + struct.pack(">Q", 255) + b"\x00"


def test_round_trip_with_multipart_and_messages_spanning_apdus() -> None:
    rnd = random.Random(1)
    msgs = [[rnd.randbytes(rnd.choice([0, 1, 253, 254, 255, 3000]))] for _ in range(300)]
    msgs.append([b"topic", b"x" * 5000, b""])
    apdus = encode(msgs, 1456)
    assert all(len(a) <= 1456 for a in apdus)
    assert any(a[:2] == struct.pack(">H", NO_OFFSET) for a in apdus)
    assert _decode(apdus) == [list(m) for m in msgs]


def test_a_receiver_joining_mid_message_starts_at_the_next_message() -> None:
    msgs = [[b"a" * 3000], [b"b" * 10], [b"c" * 10]]
    apdus = encode(msgs, 1000)
    assert apdus[1][:2] == struct.pack(">H", NO_OFFSET)
    assert _decode(apdus[1:]) == [[b"b" * 10], [b"c" * 10]]


def test_libzmq_offset_just_past_the_end_means_no_message_start() -> None:
    d = ZmtpDecoder()
    tail = frame(b"x" * 10)
    assert d.feed(struct.pack(">H", 0) + tail) == [[b"x" * 10]]
    assert d.feed(struct.pack(">H", 0)) == []  # libzmq: offset = bytes so far, no message


def test_wrong_offsets_and_bad_frames_are_rejected() -> None:
    apdus = encode([[b"a" * 100], [b"b" * 100]], 150)
    d = ZmtpDecoder()
    d.feed(apdus[0])
    with pytest.raises(ZmtpError):
        d.feed(struct.pack(">H", 7) + apdus[1][2:])
    with pytest.raises(ZmtpError):
        ZmtpDecoder().feed(b"\x00\x00\x00\x00")  # frame length 0
    with pytest.raises(ZmtpError):
        ZmtpDecoder().feed(b"\x00\x00\x02\x04x")  # unknown flags
