"""A PGM receiver on asyncio: the first session heard, message by message, losses in line.

    python examples/asyncio_receiver.py 239.192.0.1 --port 7500 --transport udp

(raw PGM, the default, needs root or CAP_NET_RAW.)  Follows the first session on the group and
port with ``rx.messages(losses=True)`` until its source closes it (OPT_FIN) or ``--timeout``
seconds pass, and prints one JSON line: messages, bytes, SHA-256 of the concatenation (equal to
examples/asyncio_sender.py's when nothing was lost) and the ranges lost for good.  Exit status
0 when the session ended complete, 3 if anything was lost or it did not end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pgm.asyncio import SessionReset, open_receiver
from pgm.engine import UnrecoverableLoss


async def main(args: argparse.Namespace) -> int:
    digest = hashlib.sha256()
    count = nbytes = 0
    lost: list[tuple[int, int, str]] = []
    ended = None
    async with open_receiver(
        args.group, args.port, ifaces=args.iface, transport=args.transport
    ) as rx:

        async def follow() -> str:
            nonlocal count, nbytes
            async for item in rx.messages(losses=True):
                if isinstance(item, UnrecoverableLoss):  # never a silent gap
                    lost.append((item.first, item.last, str(item.reason)))
                    continue
                digest.update(item)
                count += 1
                nbytes += len(item)
            return "fin"

        try:
            ended = await asyncio.wait_for(follow(), args.timeout)
        except SessionReset as exc:  # reset by the source (OPT_RST) or expired
            ended = exc.end.reason.value
        except asyncio.TimeoutError:
            ended = None
    summary = {
        "messages": count,
        "bytes": nbytes,
        "sha256": digest.hexdigest(),
        "ended": ended,
        "lost": lost,
    }
    print(json.dumps(summary))
    return 0 if ended == "fin" and not lost else 3


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("group")
    ap.add_argument("--port", type=int, default=7500)
    ap.add_argument("--iface", help="interface name, address or index")
    ap.add_argument("--transport", choices=["raw", "udp"], default="raw")
    ap.add_argument("--timeout", type=float, default=300.0)
    return ap.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
