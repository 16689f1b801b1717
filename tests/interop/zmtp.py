"""ZeroMQ's framing on PGM (libzmq ``pgm_sender.cpp`` / ``pgm_receiver.cpp``, ZMTP/1.0 frames).

Every APDU a ZeroMQ ``pgm://``/``epgm://`` PUB sends is one TSDU (ZeroMQ never lets PGM
fragment) holding::

    offset (2 bytes, big-endian)  ZMTP/1.0 frames ...

``offset`` is where, after those two bytes, the first *message* starts in this APDU (0xFFFF: none,
the APDU only continues a message begun earlier).  A frame is ``length`` (one byte when
``len(body) + 1 < 255``, else 0xFF and 8 bytes big-endian), a ``flags`` byte (0x01: more frames
of this message follow) and the body; ``length`` counts the flags byte and the body.  Frames run
on across APDU boundaries, so one message may span several APDUs.  A receiver starts decoding at
the first APDU whose offset is not 0xFFFF (and again there after a loss).

A ZeroMQ SUB (libzmq 4.3) aborts the whole process when a payload does not decode this way, and
when an APDU arrives in more than one TPDU (PGM fragmentation): feed it only what
:func:`encode` produces, with ``max_apdu`` at most the sender's max TSDU.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from pgm.net.zmtp import NO_OFFSET, ZmtpEncoder, ZmtpError, frame

__all__ = ["NO_OFFSET", "ZmtpDecoder", "ZmtpError", "encode", "frame"]

_MORE = 0x01


def encode(messages: Iterable[Sequence[bytes]], max_apdu: int) -> list[bytes]:
    """Cut the frames of ``messages`` (each a sequence of frame bodies) into APDUs of at most
    ``max_apdu`` bytes each, offset included, the way a ZeroMQ PUB batches them (the library's
    encoder, :class:`pgm.net.zmtp.ZmtpEncoder`; libzmq checks it in test_zeromq*.py)."""
    return ZmtpEncoder(max_apdu).apdus(messages)


class ZmtpDecoder:
    """Turn the APDUs of one ZeroMQ PGM session, in order and without loss, back into messages.

    Strict: every APDU's offset must point exactly at the first message starting in it (or be
    0xFFFF when none does), and frames must be well formed; otherwise :class:`ZmtpError`.
    """

    def __init__(self) -> None:
        self._synced = False
        self._buf = bytearray()  # undecoded bytes of the current frame(s)
        self._frames: list[bytes] = []  # frames of the message in progress
        self.messages = 0

    def feed(self, apdu: bytes) -> list[list[bytes]]:
        """Decode one APDU; return the messages it completed (each a list of frame bodies)."""
        if len(apdu) < 2:
            raise ZmtpError(f"APDU of {len(apdu)} bytes has no offset")
        offset = struct.unpack_from(">H", apdu)[0]
        payload = apdu[2:]
        if not self._synced:
            if offset == NO_OFFSET:
                return []  # joined mid-message: wait for a message start
            if offset > len(payload):
                raise ZmtpError(f"offset {offset} beyond the APDU ({len(payload)} bytes)")
            self._synced = True
            payload = payload[offset:]
            offset = 0
        base = len(self._buf)  # stream position of this APDU's first byte in _buf
        self._buf += payload
        out: list[list[bytes]] = []
        first_start: int | None = None
        pos = 0
        buf = self._buf
        while True:
            if pos >= len(buf):
                break
            hdr = 2 if buf[pos] != 0xFF else 10
            if pos + hdr > len(buf):
                break
            size = buf[pos] if hdr == 2 else struct.unpack_from(">Q", buf, pos + 1)[0]
            if size < 1:
                raise ZmtpError("frame length 0")
            flags = buf[pos + hdr - 1]
            if flags & ~_MORE:
                raise ZmtpError(f"unknown frame flags {flags:#x}")
            end = pos + hdr + size - 1
            if end > len(buf):
                break
            if not self._frames and pos >= base and first_start is None:
                first_start = pos - base
            self._frames.append(bytes(buf[pos + hdr : end]))
            if not flags & _MORE:
                out.append(self._frames)
                self._frames = []
                self.messages += 1
            pos = end
        # a message that starts in this APDU but is not complete yet
        if first_start is None and not self._frames and pos < len(buf) and pos >= base:
            first_start = pos - base
        del buf[:pos]
        want = NO_OFFSET if first_start is None else first_start
        # libzmq sets the offset before it knows whether another message follows, so an APDU
        # whose offset points just past its end means "no message starts here" too.
        if offset != want and not (want == NO_OFFSET and offset == len(payload)):
            raise ZmtpError(f"APDU offset {offset}, but its first message starts at {want}")
        return out
