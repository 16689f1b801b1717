"""Reed–Solomon micro-benchmark: encode and decode MB/s of source data (docs/fec.md).

    python bench/bench_fec.py            # prints a table
    python bench/bench_fec.py --json     # machine-readable

For each (k, h) in k=8/h=2, k=16/h=4, k=64/h=8 with 1400-byte packets (best of several
repeats, so a busy second core disturbs it less):
  * encode: ``ReedSolomon(k).encode_many(data, range(h))``, the h parity packets of one group;
  * decode: ``decode`` of a group with its h first data packets lost and replaced by the h
    parity packets (the decode plan is cached after the first call, as in a steady loss pattern).
MB/s counts the group's k × 1400 bytes of source data per call (1 MB = 10^6 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm.fec import ReedSolomon

PACKET = 1400
CASES = ((8, 2), (16, 4), (64, 8))


def best_seconds(func, number: int, repeat: int = 7) -> float:  # type: ignore[no-untyped-def]
    """Best-of-``repeat`` time of one call, in seconds."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number


def measure(k: int, h: int) -> dict[str, float]:
    rs = ReedSolomon(k)
    data = [os.urandom(PACKET) for _ in range(k)]
    hs = list(range(h))
    parity = rs.encode_many(data, hs)
    received = {i: data[i] for i in range(h, k)}
    received.update({k + j: parity[j] for j in hs})
    assert rs.decode(received, PACKET) == data
    number = max(10, 4000 // k)
    enc = best_seconds(lambda: rs.encode_many(data, hs), number)
    dec = best_seconds(lambda: rs.decode(received, PACKET), number)
    source = k * PACKET / 1e6
    return {
        "k": k,
        "h": h,
        "encode_us": enc * 1e6,
        "encode_MBps": source / enc,
        "decode_us": dec * 1e6,
        "decode_MBps": source / dec,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [measure(k, h) for k, h in CASES]
    if args.json:
        print(json.dumps({"python": platform.python_version(), "packet": PACKET, "rows": rows}))
        return
    print(f"Reed–Solomon, {PACKET}-byte packets, Python {platform.python_version()}")
    print(
        f"{'k':>4} {'h':>3} {'encode µs':>10} {'encode MB/s':>12} {'decode µs':>10} "
        f"{'decode MB/s':>12}"
    )
    for r in rows:
        print(
            f"{r['k']:>4} {r['h']:>3} {r['encode_us']:>10.1f} {r['encode_MBps']:>12.1f} "
            f"{r['decode_us']:>10.1f} {r['decode_MBps']:>12.1f}"
        )


if __name__ == "__main__":
    main()
