"""The ``pgm`` command line.

Sub-commands arrive with the features behind them; today:

* ``pgm --version``
* ``pgm decode HEX``  — parse one PGM packet given as hex and print its fields.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def _cmd_decode(args: argparse.Namespace) -> int:
    from . import wire

    text = "".join(args.hex).replace(":", "").replace(" ", "")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        print(f"pgm decode: not hexadecimal: {text[:40]!r}", file=sys.stderr)
        return 2
    try:
        pkt = wire.parse(raw, verify=not args.no_verify)
    except wire.PacketError as exc:
        print(f"pgm decode: malformed packet: {exc} ({type(exc).__name__})", file=sys.stderr)
        return 1
    print(pkt)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="pgm", description="Pure-Python PGM (RFC 3208) reliable multicast."
    )
    p.add_argument("--version", action="version", version=f"pgm {__version__}")
    sub = p.add_subparsers(dest="command")
    d = sub.add_parser("decode", help="parse one PGM packet given in hex and print its fields")
    d.add_argument("hex", nargs="+", help="packet bytes in hex, from the PGM header on")
    d.add_argument("--no-verify", action="store_true", help="do not check the checksum")
    d.set_defaults(func=_cmd_decode)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pgm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    rc: int = func(args)
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
