"""The pgm subprocess peer: a sender or receiver on the library API (:mod:`pgm.io`), one process.

Theory of operation
-------------------
The end-to-end tests (tests/io/test_e2e.py), the interop tests (tests/interop/harness.py) and the
network benchmark (bench/bench_net.py) all run this one script by path, inside a test
namespace, and talk to it over stdin/stdout with the line protocol that ``openpgm_peer.c`` and
``zmq_peer.py`` speak too::

    pgm_peer.py send GROUP PORT IFACE TRANSPORT (--in FILE | --count N [--size B]) [options]
    pgm_peer.py recv GROUP PORT IFACE TRANSPORT [--out FILE] [--expect FILE] [options]

sender:   READY <gsi hex> <source port> -- waits for "go" -- [with --late: HALF -- "more" --]
          SENT <messages> <bytes> -- waits for "close" (or ``--linger-max`` s) -- close():
          OPT_FIN, linger ``--linger`` s answering NAKs -- one JSON line: ``stats``, ``apdus``,
          ``messages``, ``bytes``, ``send_seconds``, ``close_time``, ``cpu``.
receiver: READY -- LAST once the last message of ``--expect`` arrived -- follows the first
          session (:class:`pgm.sessions.SessionDemux`) until it ends (FIN, RST, expiry),
          ``--count`` messages arrived, or ``--timeout`` s passed -- one JSON line:
          ``messages``, ``bytes``, ``ended``, ``lost``, ``last``, ``first_time`` /
          ``last_time`` (monotonic, of the first and last message), ``end_time``, ``cpu``,
          ``session`` (its statistics).  Exit 0 when the session ended with FIN (or ``--count``
          was reached) and nothing was lost, 3 otherwise, 4 when no session was heard at all.

End of file on stdin counts as every command, so a caller that needs no choreography (the
benchmark, the e2e tests) starts the peer with stdin at /dev/null.  Message files hold
``[4-byte big-endian length][bytes]`` records (tests/interop/peerio.py); ``--count N --size B``
sends N generated messages of B bytes instead, and a receiver without ``--out`` only counts.
An empty message is a message: counted, and written as a zero-length record.

``--asyncio`` runs the same protocol on :mod:`pgm.asyncio` (tests/helpers/aio_peer.py).
``--zmq`` frames the messages the ZeroMQ way (2-byte offset + ZMTP/1.0 frames, never more than
one TPDU per APDU; tests/interop/zmtp.py) when sending, and decodes that framing when receiving.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, BinaryIO

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from pgm.engine import Event, ReceiverConfig, SourceConfig, UnrecoverableLoss
from pgm.io import PgmReceiver, PgmSender
from tests.interop.peerio import read_messages, say, wait_command

if TYPE_CHECKING:  # imported by recv() only: a sender does not pay for it at start-up
    from pgm.sessions import SessionDemux, SessionEnd

BATCH = 64  # messages per send_many() call


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _messages(args: argparse.Namespace) -> list[bytes]:
    if args.input:
        return read_messages(args.input)
    return [b"x" * args.size] * args.count


def _fec(spec: str | None) -> dict[str, Any]:
    """``--fec N:K:H:O`` as SourceConfig's FEC fields (docs/fec.md)."""
    if not spec:
        return {}
    n, k, h, o = (int(x) for x in spec.split(":"))
    return {"fec_block_size": n, "fec_group_size": k, "fec_proactive": h, "fec_ondemand": o == 1}


def send(args: argparse.Namespace) -> int:
    msgs = _messages(args)
    cfg = SourceConfig(
        rate_bps=args.rate,
        mtu=args.mtu,
        window_secs=args.window,
        send_buffer_bytes=args.send_buffer,
        spm_ambient_ivl=args.ambient,
        late_join=args.late_join,
        options_on_all_data=args.options_on_all_data,
        **_fec(args.fec),
    )
    with PgmSender(
        args.group, args.port, iface=args.iface, transport=args.transport, config=cfg, loop=False
    ) as tx:
        apdus = msgs
        if args.zmq:
            from tests.interop.zmtp import encode

            apdus = encode([[m] for m in msgs], args.zmq_apdu or tx.max_tsdu)
        gc.freeze()  # as pgm send does (docs/performance.md)
        say(f"READY {tx.tsi.gsi.hex()} {tx.tsi.source_port}")
        if not wait_command("go", args.timeout):
            return 3
        t0 = time.monotonic()
        rest = apdus
        if args.late:  # a running session: some data first, then a pause for a late joiner
            _send_all(tx, apdus[: len(apdus) // 2])
            say("HALF")
            if not wait_command("more", args.timeout):
                return 3
            rest = apdus[len(apdus) // 2 :]
        _send_all(tx, rest)
        send_seconds = time.monotonic() - t0
        say(f"SENT {len(msgs)} {sum(map(len, msgs))}")
        wait_command("close", args.linger_max)
        stats = tx.stats()
        t_close = time.time()
        tx.close(linger=args.linger)
    result = {
        "stats": stats,
        "apdus": len(apdus),
        "messages": len(msgs),
        "bytes": sum(map(len, msgs)),
        "send_seconds": send_seconds,
        "close_time": t_close,
        "cpu": cpu_seconds(),
    }
    say(json.dumps(result))
    return 0


def _send_all(tx: PgmSender, apdus: list[bytes]) -> None:
    for i in range(0, len(apdus), BATCH):
        tx.send_many(apdus[i : i + BATCH])
    tx.flush()


class _Sink:
    """Where the followed session's messages go: the output file, the counters, LAST."""

    def __init__(self, out: BinaryIO | None, last: bytes | None, zmq: bool) -> None:
        self.out = out
        self.last = last
        self.zmq = zmq
        self.decoder = self._decoder()
        self.messages = self.bytes = 0
        self.got_last = False
        self.first_time = self.last_time = 0.0
        self.lost: list[tuple[int, int, str]] = []
        """Ranges lost for good: (first, last, reason)."""

    def _decoder(self) -> Any:
        if not self.zmq:
            return None
        from tests.interop.zmtp import ZmtpDecoder

        return ZmtpDecoder()

    def data(self, apdu: bytes) -> None:
        """One message."""
        self.data_many([apdu])

    def data_many(self, apdus: list[bytes]) -> None:
        """The messages one batch of events brought (they arrived together: one timestamp)."""
        if not apdus:
            return
        self.last_time = time.monotonic()
        if self.messages == 0:
            self.first_time = self.last_time
        if self.decoder is None and self.out is None and self.last is None:
            self.messages += len(apdus)  # only counting (the benchmark): no per-message work
            self.bytes += sum(map(len, apdus))
            return
        for apdu in apdus:
            self._apdu(apdu)

    def _apdu(self, apdu: bytes) -> None:
        batch = [apdu]
        if self.decoder is not None:
            batch = [b"".join(frames) for frames in self.decoder.feed(apdu)]
        for m in batch:
            if self.out is not None:
                self.out.write(struct.pack(">I", len(m)) + m)
            self.messages += 1
            self.bytes += len(m)
            if not self.got_last and m == self.last:
                self.got_last = True
                if self.out is not None:
                    self.out.flush()
                say("LAST")

    def loss(self) -> None:
        self.decoder = self._decoder()  # resynchronise at the next message start


def _follow(demux: SessionDemux, events: list[Event], sink: _Sink) -> SessionEnd | None:
    """Feed a batch to the demultiplexer (cut after each loss, so the sink sees messages and
    gaps in stream order); the followed session's end, once it ended."""
    if UnrecoverableLoss not in map(type, events):
        return _drain(demux, events, sink)  # the usual batch: no loss in it
    start = 0
    for i, e in enumerate(events):
        if type(e) is UnrecoverableLoss:
            _drain(demux, events[start : i + 1], sink)
            start = i + 1
    return _drain(demux, events[start:], sink)


def _drain(demux: SessionDemux, events: list[Event], sink: _Sink) -> SessionEnd | None:
    demux.feed(events)
    s = demux.followed
    if s is None:
        return None
    sink.data_many(s.pop_all())
    if len(s.losses) > len(sink.lost):
        sink.lost.extend((r.first, r.last, r.reason) for r in s.losses[len(sink.lost) :])
        sink.loss()
    return s.end


def recv(args: argparse.Namespace) -> int:
    expect = read_messages(args.expect) if args.expect else []
    cfg = ReceiverConfig(
        max_buffer_bytes=256 << 20,
        max_pending_naks=args.max_pending_naks,
        verify_checksum=not args.no_verify,
    )
    # the first session heard, from its start; loss is recorded, delivery goes on after it
    from pgm.sessions import Admit, DemuxConfig, SessionDemux

    demux = SessionDemux(
        DemuxConfig(
            max_bytes=1 << 62, admit=Admit.ON_START, follow_first=True, loss_ends_session=False
        )
    )
    out = open(args.output, "wb") if args.output else None  # noqa: SIM115 - closed below
    sink = _Sink(out, expect[-1] if expect else None, args.zmq)
    end: SessionEnd | None = None
    with PgmReceiver(
        args.group, args.port, ifaces=args.iface, transport=args.transport, config=cfg
    ) as rx:
        gc.freeze()  # as pgm recv does (docs/performance.md)
        say("READY")
        deadline = time.monotonic() + args.timeout
        while end is None and time.monotonic() < deadline:
            events = rx.next_events(min(0.5, max(0.0, deadline - time.monotonic())))
            end = _follow(demux, events, sink)
            if args.count is not None and sink.messages >= args.count:
                break
        stats = rx.stats()
    if out is not None:
        out.close()
    tsi = demux.followed.tsi if demux.followed is not None else None
    result = {
        "messages": sink.messages,
        "bytes": sink.bytes,
        "ended": end.reason.value if end is not None else None,
        "lost": sink.lost,
        "last": sink.got_last,
        "first_time": sink.first_time,
        "last_time": sink.last_time,
        "end_time": time.time(),
        "cpu": cpu_seconds(),
        "session": stats["sessions"].get(str(tsi), {}),
    }
    say(json.dumps(result))
    if tsi is None:
        return 4
    graceful = end is not None and end.graceful
    complete = graceful or (args.count is not None and sink.messages >= args.count)
    return 0 if complete and not sink.lost else 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("mode", choices=["send", "recv"])
    ap.add_argument("group")
    ap.add_argument("port", type=int)
    ap.add_argument("iface")
    ap.add_argument("transport", choices=["raw", "udp"])
    ap.add_argument("--in", dest="input", help="sender: the message file to send")
    ap.add_argument("--count", type=int, help="sender: messages to generate; receiver: stop after")
    ap.add_argument("--size", type=int, default=1400, help="sender: bytes per generated message")
    ap.add_argument("--out", dest="output", help="receiver: write the messages here")
    ap.add_argument("--expect", help="receiver: print LAST when this file's last message arrives")
    ap.add_argument("--rate", type=int, default=200_000_000, help="bits/s")
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--window", type=float, default=30.0, help="transmit window, s")
    ap.add_argument("--send-buffer", type=int, default=32 << 20, help="bytes")
    ap.add_argument("--ambient", type=float, default=30.0, help="ambient SPM interval, s")
    ap.add_argument("--linger", type=float, default=0.5)
    ap.add_argument("--linger-max", type=float, default=30.0)
    ap.add_argument("--late", action="store_true", help="send half, wait for 'more', send rest")
    ap.add_argument(
        "--late-join", type=float, default=0.0, help="sender: SourceConfig.late_join, percent"
    )
    ap.add_argument("--fec", metavar="N:K:H:O", help="sender: FEC n, k, pro-active, on-demand")
    ap.add_argument(
        "--options-on-all-data",
        action="store_true",
        help="SourceConfig.options_on_all_data (an OpenPGM accommodation)",
    )
    ap.add_argument(
        "--max-pending-naks",
        type=int,
        default=ReceiverConfig.max_pending_naks,
        help="receiver: ReceiverConfig.max_pending_naks",
    )
    ap.add_argument("--zmq", action="store_true")
    ap.add_argument(
        "--zmq-apdu",
        type=int,
        default=0,
        help="APDU size for --zmq framing (default: one TSDU; larger ones fragment)",
    )
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-verify", action="store_true", help="receiver: skip PGM checksums")
    ap.add_argument("--asyncio", action="store_true", help="run on pgm.asyncio (aio_peer.py)")
    args = ap.parse_args(argv)
    if args.mode == "send" and not args.input and args.count is None:
        ap.error("send needs --in FILE or --count N")
    return args


def main() -> int:
    args = parse_args()
    if args.asyncio:
        from tests.helpers import aio_peer

        return aio_peer.send(args) if args.mode == "send" else aio_peer.recv(args)
    return send(args) if args.mode == "send" else recv(args)


if __name__ == "__main__":
    sys.exit(main())
