"""Codec micro-benchmark: µs per operation for the packets on the hot path.

    python bench/bench_codec.py            # prints a table
    python bench/bench_codec.py --json     # machine-readable

Measures (best of several repeats, so a busy second core disturbs it less):
  * build a 1400-byte ODATA with checksum — the engine's path (``wire.encode_data``) and the
    object API (``ODATA(...).encode()``)
  * parse + verify one 1400-byte ODATA (``wire.parse``)
  * build and parse a NAK carrying a 62-entry OPT_NAK_LIST
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import timeit
from ipaddress import IPv4Address

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pgm import wire

GSI = bytes.fromhex("0a0b0c0d0e0f")
PAYLOAD = os.urandom(1400)


def bench(stmt, number: int = 20000, repeat: int = 7) -> float:  # type: ignore[no-untyped-def]
    """Best-of-``repeat`` time of one call, in µs."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    odata = wire.ODATA(
        source_port=40000, destination_port=7500, gsi=GSI, data_sqn=1, data_trail=0, data=PAYLOAD
    )
    raw = odata.encode()
    nak = wire.NAK(
        source_port=7500,
        destination_port=40000,
        gsi=GSI,
        nak_sqn=100,
        source_nla=IPv4Address("10.0.0.1"),
        group_nla=IPv4Address("239.192.0.1"),
        options=[wire.OptNakList(list(range(101, 163)))],
    )
    nak_raw = nak.encode()
    enc = wire.encode_data
    parse = wire.parse
    results = {
        "build ODATA 1400 B + checksum (encode_data)": bench(
            lambda: enc(4, 40000, 7500, GSI, 1, 0, PAYLOAD)
        ),
        "build ODATA 1400 B + checksum (ODATA.encode)": bench(odata.encode),
        "parse + verify ODATA 1400 B": bench(lambda: parse(raw)),
        "build NAK with 62-entry list": bench(nak.encode, number=5000),
        "parse NAK with 62-entry list": bench(lambda: parse(nak_raw), number=5000),
    }
    if args.json:
        print(json.dumps({"python": platform.python_version(), "us_per_op": results}, indent=2))
        return
    print(f"pgm codec benchmark — Python {platform.python_version()} on {platform.machine()}")
    for name, us in results.items():
        print(f"  {name:<46} {us:7.2f} µs")


if __name__ == "__main__":
    main()
