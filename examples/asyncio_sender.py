"""A PGM sender on asyncio: ``await src.send`` with back-pressure, a graceful close.

    python examples/asyncio_sender.py 239.192.0.1 --port 7500 --transport udp --count 1000

(raw PGM, the default ``--transport raw``, needs root or CAP_NET_RAW; ``udp`` needs nothing.)
Start examples/asyncio_receiver.py first.  Sends ``--count`` messages of ``--size`` bytes, ends
the session with OPT_FIN, lingers serving repairs, and prints one JSON line: what was sent
(messages, bytes, SHA-256 of the concatenation) and the source's statistics.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pgm.asyncio import open_source
from pgm.engine import SourceConfig


async def main(args: argparse.Namespace) -> None:
    config = SourceConfig(rate_bps=args.rate_kbps * 1000, linger_secs=args.linger)
    digest = hashlib.sha256()
    async with open_source(
        args.group, args.port, iface=args.iface, transport=args.transport, config=config
    ) as src:
        for i in range(args.count):
            msg = i.to_bytes(4, "big") + os.urandom(max(0, args.size - 4))
            await src.send(msg)  # waits while the window / rate limit holds the buffer full
            digest.update(msg)
        await src.drain()
        stats = src.stats()
    # leaving the block closed the session: OPT_FIN, then the linger serving NAKs
    print(json.dumps({"messages": args.count, "sha256": digest.hexdigest(), "stats": stats}))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("group")
    ap.add_argument("--port", type=int, default=7500)
    ap.add_argument("--iface", help="interface name, address or index")
    ap.add_argument("--transport", choices=["raw", "udp"], default="raw")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", type=int, default=1400)
    ap.add_argument("--rate-kbps", type=int, default=10_000)
    ap.add_argument("--linger", type=float, default=5.0, help="seconds serving repairs")
    return ap.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
