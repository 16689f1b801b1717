"""ZeroMQ's side of the interop tests: a PUB or SUB on ``pgm://`` / ``epgm://`` (libzmq on OpenPGM),
speaking the line protocol of ``pgm_peer.py`` and ``openpgm_peer.c``.

Run with Debian's interpreter, which has python3-zmq:

    /usr/bin/python3 tests/interop/zmq_peer.py pub ENDPOINT --in FILE [--rate KBIT]
    /usr/bin/python3 tests/interop/zmq_peer.py sub ENDPOINT --out FILE --expect FILE

pub: READY -- "go" -- SENT <messages> <bytes> -- "close" -- CLOSED (the PUB's linger lets
     libzmq's I/O thread answer NAKs until then).
sub: READY -- LAST (the last expected message arrived) -- RESULT messages=<n> bytes=<n>.

Message files hold ``[4-byte big-endian length][bytes]`` records; each record is one
single-frame ZeroMQ message.  Only the standard library and ``zmq``: this file must not import
the project (it runs under another interpreter).
"""

from __future__ import annotations

import argparse
import struct
import sys
import time

import zmq  # type: ignore[import-not-found, unused-ignore]  # Debian's python3-zmq
from peerio import read_messages, say, wait_command  # sibling module


def pub(args: argparse.Namespace) -> int:
    msgs = read_messages(args.input)
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB)
    s.setsockopt(zmq.RATE, args.rate)  # kbit/s
    s.setsockopt(zmq.RECOVERY_IVL, 20000)  # ms: the transmit window
    s.setsockopt(zmq.SNDBUF, 8 << 20)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.LINGER, 2000)
    s.setsockopt(zmq.MULTICAST_HOPS, 16)
    s.connect(args.endpoint)
    time.sleep(0.3)  # libzmq opens the PGM socket in its I/O thread
    say("READY")
    if not wait_command("go", args.timeout):
        return 3
    for m in msgs:
        s.send(m)
    say(f"SENT {len(msgs)} {sum(map(len, msgs))}")
    wait_command("close", args.timeout)  # libzmq's I/O thread answers NAKs meanwhile
    s.close()
    ctx.term()  # pgm_close: OPT_FIN SPMs
    say("CLOSED")
    return 0


def sub(args: argparse.Namespace) -> int:
    expect = read_messages(args.expect)
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RATE, args.rate)
    s.setsockopt(zmq.RECOVERY_IVL, 20000)
    s.setsockopt(zmq.RCVBUF, 8 << 20)
    s.setsockopt(zmq.RCVHWM, 0)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(args.endpoint)
    time.sleep(0.3)
    say("READY")
    n = nbytes = 0
    end = time.monotonic() + args.timeout
    got_last = False
    with open(args.output, "wb") as out:
        while time.monotonic() < end:
            if not s.poll(200):
                continue
            m = s.recv()
            out.write(struct.pack(">I", len(m)) + m)
            n += 1
            nbytes += len(m)
            if m == expect[-1]:
                got_last = True
                break
    if got_last:
        say("LAST")
    say(f"RESULT messages={n} bytes={nbytes} last={int(got_last)}")
    s.close()
    ctx.term()
    return 0 if got_last else 6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["pub", "sub"])
    ap.add_argument("endpoint")
    ap.add_argument("--in", dest="input")
    ap.add_argument("--out", dest="output")
    ap.add_argument("--expect")
    ap.add_argument("--rate", type=int, default=100_000, help="kbit/s")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    return pub(args) if args.mode == "pub" else sub(args)


if __name__ == "__main__":
    sys.exit(main())
