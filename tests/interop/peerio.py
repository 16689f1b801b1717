"""What the peers and the harness share: the message-file format and the stdin line protocol.
Standard library only: the ZeroMQ peer (``zmq_peer.py``) runs under Debian's interpreter and
imports this as a sibling module; the pgm peer (tests/helpers/pgm_peer.py) and the harness
import it as ``tests.interop.peerio``.

Message files hold ``[4-byte big-endian length][bytes]`` records, one per message.
"""

from __future__ import annotations

import os
import select
import struct
import sys
import time
from collections.abc import Iterable


def write_messages(path: str | os.PathLike[str], messages: Iterable[bytes]) -> None:
    """Write ``messages`` as length-prefixed records."""
    with open(path, "wb") as f:
        for m in messages:
            f.write(struct.pack(">I", len(m)) + m)


def read_messages(path: str | os.PathLike[str]) -> list[bytes]:
    """The records of a message file (none if it does not exist)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out, pos = [], 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def say(line: str) -> None:
    """One protocol line on stdout, flushed."""
    print(line, flush=True)


def wait_command(want: str, timeout: float) -> bool:
    """Wait for a line starting with ``want`` on stdin (EOF counts); False on timeout."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([sys.stdin], [], [], min(left, 0.5))
        if r:
            line = sys.stdin.readline()
            if not line or line.startswith(want):
                return True
