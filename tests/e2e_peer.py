"""A sender or receiver written against the library API (pgm.io), run as a subprocess inside a
test namespace by tests/test_e2e.py — the "via the API" half of the end-to-end tests.

    python tests/e2e_peer.py send GROUP PORT IFACE TRANSPORT FILE RATE_BPS [LINGER]
    python tests/e2e_peer.py recv GROUP PORT IFACE TRANSPORT OUTFILE TIMEOUT

Prints one JSON line.  The receiver takes the first session only, writes its messages in order,
and exits 0 if it ended with everything delivered, 3 on unrecoverable loss, 4 if no session
arrived within TIMEOUT seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.engine import (
    DataReceived,
    ReceiverConfig,
    SessionEnded,
    SessionStarted,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.io import PgmReceiver, PgmSender

CHUNK = 1400


def send(group: str, port: int, iface: str, transport: str, path: str, rate: int,
         linger: float) -> int:
    with open(path, "rb") as fh:
        data = fh.read()
    cfg = SourceConfig(rate_bps=rate, window_secs=30, send_buffer_bytes=16 << 20)
    with PgmSender(group, port, iface=iface, transport=transport, config=cfg, loop=False) as tx:
        msgs = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        for i in range(0, len(msgs), 64):
            tx.send_many(msgs[i : i + 64])
        tx.flush()
        stats = tx.stats()
        tx.close(linger=linger)
    print(json.dumps({"sent": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                      "naks": stats["naks_received"], "repairs": stats["repair_packets_sent"]}))
    return 0


def recv(group: str, port: int, iface: str, transport: str, out: str, timeout: float) -> int:
    cfg = ReceiverConfig(max_buffer_bytes=128 << 20)
    h = hashlib.sha256()
    n = 0
    lost: list[tuple[int, int]] = []
    tsi = None
    ended = None
    with PgmReceiver(group, port, ifaces=iface, transport=transport, config=cfg) as rx, \
            open(out, "wb") as f:
        print(json.dumps({"ready": True}), flush=True)
        first = rx.next_event(timeout)
        while first is not None and not isinstance(first, SessionStarted):
            first = rx.next_event(timeout)
        if first is None:
            print(json.dumps({"error": "no session"}))
            return 4
        tsi = first.tsi
        for e in rx.events(timeout=30):
            if getattr(e, "tsi", None) != tsi:
                continue
            if type(e) is DataReceived:
                f.write(e.data)
                h.update(e.data)
                n += len(e.data)
            elif type(e) is UnrecoverableLoss:
                lost.append((e.first, e.last))
            elif type(e) is SessionEnded:
                ended = e.reason
                break
        stats = rx.stats()
    sess = stats["sessions"].get(str(tsi), {})
    print(json.dumps({"received": n, "sha256": h.hexdigest(), "lost": lost, "ended": ended,
                      "naks_sent": sess.get("selective_naks_sent"),
                      "rdata": sess.get("rdata_packets_received")}))
    if lost:
        return 3
    return 0 if ended == "fin" else 3


def main() -> int:
    mode = sys.argv[1]
    group, port, iface, transport = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    if mode == "send":
        linger = float(sys.argv[8]) if len(sys.argv) > 8 else 5.0
        return send(group, port, iface, transport, sys.argv[6], int(sys.argv[7]), linger)
    return recv(group, port, iface, transport, sys.argv[6], float(sys.argv[7]))


if __name__ == "__main__":
    sys.exit(main())
