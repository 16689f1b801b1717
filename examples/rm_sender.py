"""A PGM sender written the way Microsoft's "Sending and Receiving PGM Data" sample is.

The Windows sample, in C::

    s = socket(AF_INET, SOCK_RDM, IPPROTO_RM);
    salocal.sin_family = AF_INET;
    salocal.sin_port = htons(0);                    // port is ignored here
    salocal.sin_addr.s_addr = htonl(INADDR_ANY);
    bind(s, (SOCKADDR *)&salocal, sizeof(salocal));
    // set all relevant sender socket options here
    sasession.sin_family = AF_INET;
    sasession.sin_port = htons(dwSessionPort);
    sasession.sin_addr.s_addr = inet_addr("234.5.6.7");
    connect(s, (SOCKADDR *)&sasession, sizeof(sasession));
    // we're now ready to send data!

The same, line by line, with ``pgm`` (runs on Linux, macOS and Windows; raw PGM needs root or
CAP_NET_RAW, ``--transport udp`` needs nothing)::

    python examples/rm_sender.py 234.5.6.7 --port 7500 --iface 10.0.0.1 --count 1000

Prints one JSON line at the end: what was sent (bytes, SHA-256) and RM_SENDER_STATISTICS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pgm
from pgm import (
    AF_INET,
    IPPROTO_RM,
    RM_RATE_WINDOW_SIZE,
    RM_SEND_WINDOW,
    RM_SENDER_STATISTICS,
    RM_SET_MCAST_TTL,
    RM_SET_SEND_IF,
    SD_SEND,
    SOCK_RDM,
    SOCK_STREAM,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("group", help="multicast group, e.g. 234.5.6.7")
    ap.add_argument("--port", type=int, default=7500, help="session port (default 7500)")
    ap.add_argument("--iface", help="IPv4 address of the sending interface (RM_SET_SEND_IF)")
    ap.add_argument("--transport", choices=("raw", "udp"), default="raw")
    ap.add_argument("--rate", type=int, default=10_000, help="kbit/s (default 10000)")
    ap.add_argument("--window-ms", type=int, default=10_000, help="send window (default 10 s)")
    ap.add_argument("--ttl", type=int, default=1, help="multicast TTL (default 1)")
    ap.add_argument("--count", type=int, default=100, help="messages to send (default 100)")
    ap.add_argument("--size", type=int, default=1000, help="bytes per message (default 1000)")
    ap.add_argument("--stream", action="store_true", help="SOCK_STREAM instead of SOCK_RDM")
    ap.add_argument("--wait", type=float, default=2.0,
                    help="seconds between shutdown and reading the statistics (default 2)")
    ap.add_argument("--linger", type=float, default=1.0, help="linger after close (default 1)")
    args = ap.parse_args()

    # s = socket(AF_INET, SOCK_RDM, IPPROTO_RM);
    s = pgm.socket(AF_INET, SOCK_STREAM if args.stream else SOCK_RDM, IPPROTO_RM,
                   transport=args.transport, linger=args.linger)
    try:
        # bind(s, {AF_INET, INADDR_ANY, port 0}): the port is ignored
        s.bind(("0.0.0.0", 0))

        # set all relevant sender socket options here
        window = RM_SEND_WINDOW()
        window.RateKbitsPerSec = args.rate
        window.WindowSizeInMSecs = args.window_ms
        window.WindowSizeInBytes = 0                       # derived: rate * ms / 8
        s.setsockopt(IPPROTO_RM, RM_RATE_WINDOW_SIZE, window)
        if args.iface:
            s.setsockopt(IPPROTO_RM, RM_SET_SEND_IF, socket.inet_aton(args.iface))
        s.setsockopt(IPPROTO_RM, RM_SET_MCAST_TTL, args.ttl)

        # connect(s, {AF_INET, group, port}): no handshake, the session starts
        s.connect((args.group, args.port))

        # we're now ready to send data!
        digest = hashlib.sha256()
        sent = 0
        for i in range(args.count):
            block = (i.to_bytes(4, "big") * (args.size // 4 + 1))[: args.size]
            s.sendall(block)
            digest.update(block)
            sent += len(block)

        # shutdown(s, SD_SEND): everything goes out, repairs stay available
        s.shutdown(SD_SEND)
        time.sleep(args.wait)

        # getsockopt(s, IPPROTO_RM, RM_SENDER_STATISTICS, &stats, &len)
        stats = s.getsockopt(IPPROTO_RM, RM_SENDER_STATISTICS)
        print(json.dumps({"sent": sent, "sha256": digest.hexdigest(),
                          "stats": dict(stats.items())}), flush=True)
    finally:
        # closesocket(s)
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
