"""Our side of bench_net.py: a pgm sender or receiver in its own process.

    python bench/pgm_peer.py send GROUP PORT IFACE TRANSPORT COUNT SIZE RATE_BPS
    python bench/pgm_peer.py recv GROUP PORT IFACE TRANSPORT COUNT TIMEOUT

Prints one JSON line with counts, receive times and this process's CPU seconds.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.engine import (
    DataReceived,
    ReceiverConfig,
    SessionEnded,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.io import PgmReceiver, PgmSender


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    mode, group, port, iface, transport = sys.argv[1:6]
    count = int(sys.argv[6])
    if mode == "send":
        size, rate = int(sys.argv[7]), int(sys.argv[8])
        cfg = SourceConfig(rate_bps=rate, window_secs=10, send_buffer_bytes=4 << 20)
        tx = PgmSender(group, int(port), iface=iface, transport=transport, config=cfg, loop=False)
        time.sleep(0.5)
        msg = b"x" * size
        batch = [msg] * 32
        t0 = time.monotonic()
        for _ in range(count // 32):
            tx.send_many(batch)
        for _ in range(count % 32):
            tx.send(msg)
        tx.flush()
        t1 = time.monotonic()
        stats = tx.stats()
        tx.close(linger=float(sys.argv[9]) if len(sys.argv) > 9 else 5.0)
        print(json.dumps({"sent": count, "send_seconds": t1 - t0, "cpu": cpu(),
                          "repairs": stats["repair_packets_sent"]}))
        return
    timeout = float(sys.argv[7])
    cfg = ReceiverConfig(max_buffer_bytes=256 << 20, max_pending_naks=1 << 17)
    rx = PgmReceiver(group, int(port), ifaces=iface, transport=transport, config=cfg)
    print(json.dumps({"ready": True}), flush=True)
    n = nbytes = lost = 0
    first = last = 0.0
    done = False
    while not done:
        batch = rx.next_events(timeout)  # one hand-off per socket drain
        if not batch:
            break
        for e in batch:
            if type(e) is DataReceived:
                last = time.monotonic()
                if n == 0:
                    first = last
                n += 1
                nbytes += len(e.data)
                if n >= count:
                    done = True
            elif type(e) is UnrecoverableLoss:
                lost += e.count
            elif type(e) is SessionEnded:
                done = True
    out = {"received": n, "bytes": nbytes, "first": first, "last": last, "cpu": cpu(),
           "lost": lost}
    rx.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
