"""A PGM receiver written the way Microsoft's "Sending and Receiving PGM Data" sample is.

The Windows sample, in C::

    s = socket(AF_INET, SOCK_RDM, IPPROTO_RM);
    salocal.sin_family = AF_INET;
    salocal.sin_port = htons(dwSessionPort);
    salocal.sin_addr.s_addr = inet_addr("234.5.6.7");
    bind(s, (SOCKADDR *)&salocal, sizeof(salocal));
    // set all relevant receiver socket options here
    listen(s, 10);
    sclient = accept(s, (SOCKADDR *)&sasession, &sasessionsz);
    while (1) {
        BytesRead = recv(sclient, pBuffer, MAX_BUFFER_SIZE, 0);
        if (BytesRead == 0) { fprintf(stdout, "Session was terminated\\n"); }
        else if (BytesRead == -1) { fprintf(stdout, "No data is available\\n"); }
        else { /* process the data */ }
    }

The same, line by line, with ``pgm``::

    python examples/rm_receiver.py 234.5.6.7 --port 7500 --iface 10.0.0.2

Takes the first sender session, reads it to its end, and prints one JSON line: what arrived
(bytes, messages, SHA-256), how the session ended and RM_RECEIVER_STATISTICS.  Exit status 0
when the session ended gracefully, 3 when it was reset (unrecoverable loss), 4 when no sender
came within ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pgm
from pgm import (
    AF_INET,
    IPPROTO_RM,
    RM_ADD_RECEIVE_IF,
    RM_RECEIVER_STATISTICS,
    SOCK_RDM,
    SOCK_STREAM,
)

MAX_BUFFER_SIZE = 64 * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("group", help="multicast group, e.g. 234.5.6.7")
    ap.add_argument("--port", type=int, default=7500, help="session port (default 7500)")
    ap.add_argument("--iface", action="append",
                    help="IPv4 address of a receiving interface (RM_ADD_RECEIVE_IF; repeatable)")
    ap.add_argument("--transport", choices=("raw", "udp"), default="raw")
    ap.add_argument("--stream", action="store_true", help="SOCK_STREAM instead of SOCK_RDM")
    ap.add_argument("--timeout", type=float, default=30.0, help="wait for a sender (default 30)")
    args = ap.parse_args()

    # s = socket(AF_INET, SOCK_RDM, IPPROTO_RM);
    s = pgm.socket(AF_INET, SOCK_STREAM if args.stream else SOCK_RDM, IPPROTO_RM,
                   transport=args.transport)
    try:
        # bind(s, {AF_INET, group, the port the sender connects to})
        s.bind((args.group, args.port))

        # set all relevant receiver socket options here
        for addr in args.iface or ():
            s.setsockopt(IPPROTO_RM, RM_ADD_RECEIVE_IF, socket.inet_aton(addr))

        # listen(s, 10)
        s.listen(10)
        print(json.dumps({"listening": True}), flush=True)

        # sclient = accept(s, &sasession, &sasessionsz)
        s.settimeout(args.timeout)
        try:
            sclient, (sender, source_port) = s.accept()
        except TimeoutError:
            print(json.dumps({"error": "no session"}), flush=True)
            return 4
        s.settimeout(None)

        digest = hashlib.sha256()
        received = messages = 0
        ended = "graceful"
        with sclient:
            while True:
                try:
                    data = sclient.recv(MAX_BUFFER_SIZE)
                except ConnectionResetError as exc:      # WSAECONNRESET
                    ended = f"reset: {exc.strerror}"
                    break
                if not data:                             # BytesRead == 0
                    break                                # "Session was terminated"
                digest.update(data)
                received += len(data)
                messages += 1

            # getsockopt(sclient, IPPROTO_RM, RM_RECEIVER_STATISTICS, &stats, &len)
            stats = sclient.getsockopt(IPPROTO_RM, RM_RECEIVER_STATISTICS)
        print(json.dumps({"sender": sender, "source_port": source_port, "received": received,
                          "messages": messages, "sha256": digest.hexdigest(), "ended": ended,
                          "stats": dict(stats.items())}), flush=True)
        return 0 if ended == "graceful" else 3
    finally:
        # closesocket(s): close the listening socket too
        s.close()


if __name__ == "__main__":
    sys.exit(main())
