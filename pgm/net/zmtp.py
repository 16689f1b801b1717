"""ZeroMQ's framing on PGM, so ``pgm`` publishes to and subscribes from ZeroMQ PUB/SUB sockets.

Theory of operation
-------------------
A ZeroMQ ``pgm://`` / ``epgm://`` socket (libzmq ``pgm_sender.cpp`` / ``pgm_receiver.cpp``)
puts its messages, as ZMTP/1.0 frames, into one continuous stream and cuts that stream into
APDUs of at most one TSDU each; every APDU starts with a 2-byte big-endian *offset* — where in
the rest of the APDU the first message starts, or 0xFFFF when none does (the APDU only
continues a message).  A frame is its length (one byte when the flags byte plus the body are
under 255 bytes, else 0xFF and 8 bytes big-endian; the length counts the flags byte), a flags
byte (0x01: more frames of this message follow) and the body.

A ZeroMQ SUB aborts its whole process on an APDU that does not decode this way, and on an APDU
that arrives in more than one TPDU (PGM fragmentation, docs/protocol.md §12).  So
:class:`ZmtpEncoder` never produces either: :meth:`ZmtpEncoder.apdus` cuts at ``max_apdu`` —
the sender's :attr:`~pgm.io.PgmSender.max_tsdu`, one packet — and :func:`send_zmq` takes that
size from the sender itself.  :class:`ZmtpDecoder` turns a session's APDUs back into messages;
after a loss it drops the message in progress and waits for the next APDU where a message
starts (:meth:`ZmtpDecoder.lost`), as libzmq does.  Malformed framing raises
:class:`ZmtpError` (a ValueError); a receiver should count it and resynchronise.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "NO_OFFSET",
    "ZmtpDecoder",
    "ZmtpEncoder",
    "ZmtpError",
    "frame",
    "send_zmq",
    "zmq_message_size",
]

NO_OFFSET = 0xFFFF
"""The offset of an APDU in which no message starts."""
_MORE = 0x01
_MAX_FRAME = 1 << 31  # bounded: a frame header announcing more is garbage, not a plan


class ZmtpError(ValueError):
    """The APDUs do not carry valid ZeroMQ framing."""


def frame(body: bytes, more: bool = False) -> bytes:
    """One ZMTP/1.0 frame (libzmq ``v1_encoder``)."""
    size = len(body) + 1
    flags = _MORE if more else 0
    if size < 0xFF:
        return bytes((size, flags)) + body
    return b"\xff" + struct.pack(">Q", size) + bytes((flags,)) + body


def zmq_message_size(max_apdu: int) -> int:
    """The largest single-frame message that fits one APDU of ``max_apdu`` bytes."""
    room = max_apdu - 2  # the offset
    return room - 2 if room - 2 + 1 < 0xFF else room - 10


class ZmtpEncoder:
    """Messages (each a sequence of frame bodies) to APDUs of at most ``max_apdu`` bytes."""

    def __init__(self, max_apdu: int) -> None:
        if max_apdu < 3:
            raise ValueError(f"max_apdu {max_apdu} leaves no room for frames")
        self.max_apdu = max_apdu

    def apdus(self, messages: Iterable[Sequence[bytes]]) -> list[bytes]:
        """The APDUs carrying ``messages``, in order (the last one may be short)."""
        room = self.max_apdu - 2
        stream = bytearray()
        starts: list[int] = []  # stream positions where a message starts
        for msg in messages:
            if not msg:
                raise ValueError("a ZeroMQ message has at least one frame")
            starts.append(len(stream))
            last = len(msg) - 1
            for i, body in enumerate(msg):
                stream += frame(bytes(body), more=i < last)
        out: list[bytes] = []
        si = 0
        for pos in range(0, len(stream), room):
            end = min(pos + room, len(stream))
            while si < len(starts) and starts[si] < pos:
                si += 1
            offset = starts[si] - pos if si < len(starts) and starts[si] < end else NO_OFFSET
            out.append(struct.pack(">H", offset) + bytes(stream[pos:end]))
        return out


class _Sender(Protocol):
    @property
    def max_tsdu(self) -> int: ...

    def send_many(self, messages: Iterable[bytes], timeout: float | None = None) -> int: ...


def send_zmq(tx: _Sender, messages: Iterable[Sequence[bytes] | bytes]) -> int:
    """Send ``messages`` to ZeroMQ SUBs through ``tx`` (a :class:`~pgm.io.PgmSender`): each a
    bytes (one frame) or a sequence of frame bodies, framed and cut into APDUs of one packet
    each (never fragmented).  Returns how many APDUs went out."""
    msgs = [(m,) if isinstance(m, bytes | bytearray | memoryview) else m for m in messages]
    apdus = ZmtpEncoder(tx.max_tsdu).apdus(msgs)  # type: ignore[arg-type]
    if apdus:
        tx.send_many(apdus)
    return len(apdus)


class ZmtpDecoder:
    """One session's APDUs, in order, back into messages (lists of frame bodies)."""

    def __init__(self) -> None:
        self._synced = False
        self._buf = bytearray()  # undecoded bytes of the current frame
        self._frames: list[bytes] = []  # frames of the message in progress
        self.messages = 0
        """Messages decoded."""
        self.resyncs = 0
        """Times a loss or bad framing dropped a message in progress."""

    def lost(self) -> None:
        """Data was lost: drop the message in progress, wait for the next message start."""
        if self._synced:
            self.resyncs += 1
        self._synced = False
        self._buf.clear()
        self._frames.clear()

    def feed(self, apdu: bytes) -> list[list[bytes]]:
        """Decode one APDU; the messages it completed.  ZmtpError (the decoder then waits for
        the next message start) when the framing is wrong."""
        try:
            return self._feed(apdu)
        except ZmtpError:
            self.lost()
            raise

    def _feed(self, apdu: bytes) -> list[list[bytes]]:
        if len(apdu) < 2:
            raise ZmtpError(f"APDU of {len(apdu)} bytes has no offset")
        offset = struct.unpack_from(">H", apdu)[0]
        payload = memoryview(apdu)[2:]
        if offset != NO_OFFSET and offset > len(payload):
            raise ZmtpError(f"offset {offset} beyond the APDU ({len(payload)} bytes)")
        if not self._synced:
            if offset == NO_OFFSET:
                return []  # joined (or lost) mid-message: wait for a message start
            self._synced = True
            payload = payload[offset:]
        self._buf += payload
        return self._frames_out()

    def _frames_out(self) -> list[list[bytes]]:
        out: list[list[bytes]] = []
        buf = self._buf
        pos = 0
        while pos < len(buf):
            hdr = 2 if buf[pos] != 0xFF else 10
            if pos + hdr > len(buf):
                break
            size = buf[pos] if hdr == 2 else struct.unpack_from(">Q", buf, pos + 1)[0]
            if not 1 <= size <= _MAX_FRAME:
                raise ZmtpError(f"frame length {size}")
            flags = buf[pos + hdr - 1]
            if flags & ~_MORE:
                raise ZmtpError(f"unknown frame flags {flags:#x}")
            end = pos + hdr + size - 1
            if end > len(buf):
                break
            self._frames.append(bytes(buf[pos + hdr : end]))
            pos = end
            if not flags & _MORE:
                out.append(self._frames)
                self._frames = []
                self.messages += 1
        del buf[:pos]
        return out
