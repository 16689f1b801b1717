"""``pgm decode HEX`` — parse one PGM packet given as hex and print its fields.

Theory of operation: the hex (spaces and colons allowed, so tcpdump and Wireshark dumps paste
as they are) becomes bytes, :func:`pgm.wire.parse` decodes them from the PGM header on and the
packet's ``str`` is printed.  Not hexadecimal: exit status 2; a malformed packet (the codec's
:class:`~pgm.wire.PacketError`, named in the message): exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .report import EXIT_ERROR, EXIT_OK, EXIT_USAGE

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``decode`` to the subcommands (``sub``: argparse's subparsers action)."""
    d = sub.add_parser("decode", help="parse one PGM packet given in hex and print its fields")
    d.add_argument("hex", nargs="+", help="packet bytes in hex, from the PGM header on")
    d.add_argument("--no-verify", action="store_true", help="do not check the checksum")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``pgm decode``; the exit status."""
    from .. import wire

    text = "".join(args.hex).replace(":", "").replace(" ", "")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        print(f"pgm decode: not hexadecimal: {text[:40]!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        pkt = wire.parse(raw, verify=not args.no_verify)
    except wire.PacketError as exc:
        print(f"pgm decode: malformed packet: {exc} ({type(exc).__name__})", file=sys.stderr)
        return EXIT_ERROR
    print(pkt)
    return EXIT_OK
