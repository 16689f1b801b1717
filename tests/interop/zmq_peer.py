"""The ZeroMQ peer: a PUB or SUB on ``pgm://`` / ``epgm://`` (libzmq on OpenPGM), speaking the
line protocol of ``pgm_peer.py`` and ``openpgm_peer.c``.  The interop tests
(tests/interop/harness.py) and the network benchmark (bench/bench_net.py) run this one script by
path, under Debian's interpreter, which has python3-zmq:

    /usr/bin/python3 tests/interop/zmq_peer.py pub ENDPOINT (--in FILE | --count N --size B)
        [--rate KBIT] [--recovery-ivl MS] [--linger S]
    /usr/bin/python3 tests/interop/zmq_peer.py sub ENDPOINT (--out FILE --expect FILE | --count N)
        [--idle S]

pub: READY -- "go" -- SENT <messages> <bytes> -- "close" -- serve repairs ``--linger`` s --
     CLOSED (the PUB's linger lets libzmq's I/O thread answer NAKs until then) -- one JSON line:
     ``messages``, ``bytes``, ``send_seconds``, ``cpu``.
sub: READY -- LAST (the last expected message arrived) -- RESULT messages=<n> bytes=<n> last=<0|1>
     -- one JSON line: ``messages``, ``bytes``, ``first_time`` / ``last_time`` (monotonic, of
     the first and last message), ``cpu``.  With ``--count N`` and no ``--expect`` it stops
     after N messages (or ``--idle`` s without one, or ``--timeout``) and writes no file.

End of file on stdin counts as every command.  Message files hold ``[4-byte big-endian
length][bytes]`` records (peerio.py); each record is one single-frame ZeroMQ message.  Only the
standard library and ``zmq``: this file must not import the project (it runs under another
interpreter).
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import sys
import time
from typing import BinaryIO

import zmq  # type: ignore[import-not-found, unused-ignore]  # Debian's python3-zmq
from peerio import read_messages, say, wait_command  # sibling module


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pub(args: argparse.Namespace) -> int:
    msgs = read_messages(args.input) if args.input else [b"x" * args.size] * args.count
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB)
    s.setsockopt(zmq.RATE, args.rate)  # kbit/s
    s.setsockopt(zmq.RECOVERY_IVL, args.recovery_ivl)  # ms: the transmit window
    s.setsockopt(zmq.SNDBUF, 8 << 20)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.LINGER, 2000)
    s.setsockopt(zmq.MULTICAST_HOPS, 16)
    s.connect(args.endpoint)
    time.sleep(0.3)  # libzmq opens the PGM socket in its I/O thread
    say("READY")
    if not wait_command("go", args.timeout):
        return 3
    t0 = time.monotonic()
    for m in msgs:
        s.send(m)
    t1 = time.monotonic()
    nbytes = sum(map(len, msgs))
    say(f"SENT {len(msgs)} {nbytes}")
    wait_command("close", args.timeout)  # libzmq's I/O thread answers NAKs meanwhile
    time.sleep(args.linger)
    s.close()
    ctx.term()  # pgm_close: OPT_FIN SPMs
    say("CLOSED")
    result = {"messages": len(msgs), "bytes": nbytes, "send_seconds": t1 - t0}
    say(json.dumps({**result, "cpu": cpu_seconds()}))
    return 0


def _receive(s: zmq.Socket, args: argparse.Namespace, out: BinaryIO | None) -> dict[str, float]:
    """Receive until the last expected message, ``--count`` messages, idleness or timeout."""
    expect = read_messages(args.expect) if args.expect else []
    n = nbytes = got_last = 0
    first = last = 0.0
    end = time.monotonic() + args.timeout
    while n < (args.count or float("inf")):
        try:
            m = s.recv(zmq.NOBLOCK)
        except zmq.Again:
            now = time.monotonic()
            if now >= end or (n and args.idle and now - last >= args.idle):
                break
            s.poll(200)
            continue
        last = time.monotonic()
        first = first or last
        if out is not None:
            out.write(struct.pack(">I", len(m)) + m)
        n += 1
        nbytes += len(m)
        if expect and m == expect[-1]:
            got_last = 1
            break
    return {
        "messages": n,
        "bytes": nbytes,
        "last": got_last,
        "first_time": first,
        "last_time": last,
    }


def sub(args: argparse.Namespace) -> int:
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RATE, args.rate)
    s.setsockopt(zmq.RECOVERY_IVL, args.recovery_ivl)
    s.setsockopt(zmq.RCVBUF, 8 << 20)
    s.setsockopt(zmq.RCVHWM, 0)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(args.endpoint)
    time.sleep(0.3)
    say("READY")
    if args.output:
        with open(args.output, "wb") as out:
            r = _receive(s, args, out)
    else:
        r = _receive(s, args, None)
    if r["last"]:
        say("LAST")
    say(f"RESULT messages={r['messages']} bytes={r['bytes']} last={r['last']}")
    say(json.dumps({**r, "cpu": cpu_seconds()}))
    s.close()
    ctx.term()
    return 0 if r["last"] or (args.count and r["messages"] >= args.count) else 6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["pub", "sub"])
    ap.add_argument("endpoint")
    ap.add_argument("--in", dest="input", help="pub: message file to send")
    ap.add_argument("--count", type=int, default=0, help="pub: messages to generate; sub: stop")
    ap.add_argument("--size", type=int, default=1400, help="pub: size of generated messages")
    ap.add_argument("--out", dest="output", help="sub: message file to write")
    ap.add_argument("--expect", help="sub: message file whose last record ends the run")
    ap.add_argument("--rate", type=int, default=100_000, help="kbit/s")
    ap.add_argument("--recovery-ivl", type=int, default=20_000, help="ms (the window)")
    ap.add_argument("--linger", type=float, default=0.0, help="pub: s to serve repairs at close")
    ap.add_argument("--idle", type=float, default=0.0, help="sub: s without a message to give up")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    if args.mode == "pub" and not (args.input or args.count):
        ap.error("pub needs --in FILE or --count N")
    if args.mode == "sub" and not (args.expect or args.count):
        ap.error("sub needs --expect FILE or --count N")
    return pub(args) if args.mode == "pub" else sub(args)


if __name__ == "__main__":
    sys.exit(main())
