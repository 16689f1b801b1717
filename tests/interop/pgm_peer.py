"""Our side of the interop tests: a ``pgm`` sender or receiver (pgm.io) driven over stdin/stdout,
speaking the same line protocol as ``openpgm_peer.c`` and ``zmq_peer.py``.

    python tests/interop/pgm_peer.py send GROUP PORT IFACE TRANSPORT --in FILE [options]
    python tests/interop/pgm_peer.py recv GROUP PORT IFACE TRANSPORT --out FILE [options]

Message files hold ``[4-byte big-endian length][bytes]`` records.

sender:   READY <gsi hex> <source port> -- waits for "go" -- [with --late: HALF -- "more" --]
          SENT <messages> <bytes> -- waits for "close" (or
          ``--linger-max``) -- close(): OPT_FIN, linger ``--linger`` s answering NAKs --
          one JSON line of statistics.
receiver: READY -- LAST once the last message of ``--expect`` arrived -- runs until the
          first session ends (FIN, RST, expiry) or ``--timeout`` -- one JSON line: messages,
          bytes, how the session ended, losses, statistics.  Exit 0 when the session ended
          with FIN and nothing was lost.

``--zmq`` frames the messages the ZeroMQ way (2-byte offset + ZMTP/1.0 frames, never more than
one TPDU per APDU; tests/interop/zmtp.py) when sending, and decodes that framing when receiving.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from peerio import read_messages, say, wait_command  # sibling module

from pgm.engine import (
    DataReceived,
    ReceiverConfig,
    SessionEnded,
    SessionStarted,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.io import PgmReceiver, PgmSender
from tests.interop.zmtp import ZmtpDecoder, encode


def send(args: argparse.Namespace) -> int:
    msgs = read_messages(args.input)
    cfg = SourceConfig(
        rate_bps=args.rate,
        mtu=args.mtu,
        window_secs=30,
        send_buffer_bytes=32 << 20,
        spm_ambient_ivl=args.ambient,
        options_on_all_data=args.options_on_all_data,
    )
    with PgmSender(
        args.group, args.port, iface=args.iface, transport=args.transport, config=cfg, loop=False
    ) as tx:
        apdu_size = args.zmq_apdu or tx.engine.max_tsdu
        apdus = encode([[m] for m in msgs], apdu_size) if args.zmq else msgs
        say(f"READY {tx.tsi.gsi.hex()} {tx.tsi.source_port}")
        if not wait_command("go", args.timeout):
            return 3
        if args.late:  # a running session: some data first, then a pause for a late joiner
            tx.send_many(apdus[: len(apdus) // 2])
            tx.flush()
            say("HALF")
            if not wait_command("more", args.timeout):
                return 3
            rest = apdus[len(apdus) // 2 :]
        else:
            rest = apdus
        for i in range(0, len(rest), 64):
            tx.send_many(rest[i : i + 64])
        tx.flush()
        say(f"SENT {len(msgs)} {sum(map(len, msgs))}")
        wait_command("close", args.linger_max)
        stats = tx.stats()
        t_close = time.time()
        tx.close(linger=args.linger)
    say(json.dumps({"stats": stats, "apdus": len(apdus), "close_time": t_close}))
    return 0


def recv(args: argparse.Namespace) -> int:
    expect = read_messages(args.expect) if args.expect else []
    last = expect[-1] if expect else None
    cfg = ReceiverConfig(max_buffer_bytes=256 << 20)
    out = open(args.output, "wb")  # noqa: SIM115 - closed below
    n = nbytes = 0
    lost: list[tuple[int, int, str]] = []
    ended = None
    tsi = None
    got_last = False
    decoder = ZmtpDecoder() if args.zmq else None
    with PgmReceiver(
        args.group, args.port, ifaces=args.iface, transport=args.transport, config=cfg
    ) as rx:
        say("READY")
        end = time.monotonic() + args.timeout
        while time.monotonic() < end:
            e = rx.next_event(min(0.5, end - time.monotonic()))
            if e is None:
                continue
            if tsi is None:
                if isinstance(e, SessionStarted):
                    tsi = e.tsi
                continue
            if getattr(e, "tsi", None) != tsi:
                continue
            if type(e) is DataReceived:
                messages = [e.data]
                if decoder is not None:
                    messages = [b"".join(frames) for frames in decoder.feed(e.data)]
                for m in messages:
                    out.write(struct.pack(">I", len(m)) + m)
                    n += 1
                    nbytes += len(m)
                    if not got_last and m == last:
                        got_last = True
                        out.flush()
                        say("LAST")
            elif type(e) is UnrecoverableLoss:
                lost.append((e.first, e.last, e.reason))
                if decoder is not None:
                    decoder = ZmtpDecoder()  # resynchronise at the next message start
            elif type(e) is SessionEnded:
                ended = e.reason
                break
        stats = rx.stats()
    out.close()
    sess = stats["sessions"].get(str(tsi), {})
    say(
        json.dumps(
            {
                "messages": n,
                "bytes": nbytes,
                "ended": ended,
                "lost": lost,
                "last": got_last,
                "end_time": time.time(),
                "session": sess,
            }
        )
    )
    return 0 if ended == "fin" and not lost else 3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["send", "recv"])
    ap.add_argument("group")
    ap.add_argument("port", type=int)
    ap.add_argument("iface")
    ap.add_argument("transport", choices=["raw", "udp"])
    ap.add_argument("--in", dest="input")
    ap.add_argument("--out", dest="output")
    ap.add_argument("--expect")
    ap.add_argument("--rate", type=int, default=200_000_000, help="bits/s")
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--ambient", type=float, default=30.0, help="ambient SPM interval, s")
    ap.add_argument("--linger", type=float, default=0.5)
    ap.add_argument("--linger-max", type=float, default=30.0)
    ap.add_argument("--late", action="store_true", help="send half, wait for 'more', send rest")
    ap.add_argument(
        "--options-on-all-data",
        action="store_true",
        help="SourceConfig.options_on_all_data (an OpenPGM accommodation)",
    )
    ap.add_argument("--zmq", action="store_true")
    ap.add_argument(
        "--zmq-apdu",
        type=int,
        default=0,
        help="APDU size for --zmq framing (default: one TSDU; larger ones fragment)",
    )
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    return send(args) if args.mode == "send" else recv(args)


if __name__ == "__main__":
    sys.exit(main())
