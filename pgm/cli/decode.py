"""``pgm decode`` — PGM packets given as hex (arguments or standard input) or in a pcap file,
printed field by field.

Theory of operation: the input becomes a list of packets first, each a ``(label, bytes)``:

* HEX arguments: one packet, the arguments joined (a tcpdump line pasted without quotes splits
  into several), said on stderr when there was more than one; ``--each`` makes every argument
  its own packet.  ``0x`` prefixes, spaces, colons and tcpdump's ``0x0010:`` offsets go.
* no HEX (or ``-``): standard input as hex text, one packet per paragraph (blank lines
  separate packets), so a ``tcpdump -x`` dump pipes in as it is.
* ``--pcap FILE``: every PGM packet of a classic pcap capture (raw IP or UDP encapsulation,
  :func:`pgm.pcap.extract_pgm`).

Each packet is parsed from the PGM header on (:func:`pgm.wire.parse`).  When that fails and the
bytes start with an IPv4 or IPv6 header carrying PGM (protocol 113, or UDP on the encapsulation
ports), the packet after that header is decoded instead, and the output says so.  A packet cut
short is reported as truncated — also when the checksum fails because bytes are missing — and
a checksum that fails on a whole packet suggests ``--no-verify``.  The output is one block per
packet: the type, then one ``field: value`` line each (addresses, TSI, sequence numbers,
options, the data's length and first bytes).  Exit status: 0 when every packet decoded, 1 when
one did not, 2 for input that is not hexadecimal or a pcap that cannot be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Iterator
from typing import Any

from .report import EXIT_ERROR, EXIT_OK, EXIT_USAGE, err

__all__ = ["add_parser", "describe", "hex_packets", "run"]

_OFFSET = re.compile(r"^\s*0x[0-9a-fA-F]+:\s", re.MULTILINE)  # tcpdump -x line offsets
_DATA_SHOWN = 32  # bytes of payload printed


def add_parser(sub: Any) -> None:
    """Add ``decode`` to the subcommands (``sub``: argparse's subparsers action)."""
    d = sub.add_parser(
        "decode",
        help="decode PGM packets given in hex, on standard input or in a pcap file",
        description="Decode PGM packets and print their fields, one per line.  HEX is one "
        "packet (several arguments are joined; --each: one packet each); without HEX, "
        "standard input is read as hex, one packet per paragraph.  An IPv4/IPv6 header in "
        "front is recognised and skipped.",
    )
    d.add_argument("hex", nargs="*", metavar="HEX", help="packet bytes in hex (0x optional)")
    d.add_argument("--each", action="store_true", help="each HEX argument is its own packet")
    d.add_argument("--pcap", metavar="FILE", help="decode every PGM packet of a pcap capture")
    d.add_argument("--no-verify", action="store_true", help="do not check the checksum")
    d.set_defaults(func=run)


# -- input ------------------------------------------------------------------------------------


def _unhex(text: str) -> bytes:
    """Hex text to bytes; ValueError (naming the offending text) if it is not hex."""
    t = _OFFSET.sub(" ", text)
    tokens = [w[2:] if w[:2] in ("0x", "0X") else w for w in re.split(r"[\s:,]+", t) if w]
    joined = "".join(tokens)
    try:
        return bytes.fromhex(joined)
    except ValueError:
        bad = next((w for w in tokens if re.search(r"[^0-9a-fA-F]", w)), joined[:40])
        if len(joined) % 2 and not re.search(r"[^0-9a-fA-F]", joined):
            raise ValueError(f"odd number of hex digits ({len(joined)})") from None
        raise ValueError(f"not hexadecimal: {bad[:40]!r}") from None


def hex_packets(args: list[str], each: bool, stdin_text: str | None) -> list[tuple[str, bytes]]:
    """The packets the arguments (or ``stdin_text``) give, labelled; ValueError if not hex."""
    if args and args != ["-"]:
        if each:
            return [(f"argument {i + 1}", _unhex(a)) for i, a in enumerate(args)]
        return [("", _unhex(" ".join(args)))]
    paragraphs = [p for p in re.split(r"\n\s*\n", stdin_text or "") if p.strip()]
    return [(f"packet {i + 1}" if len(paragraphs) > 1 else "", _unhex(p))
            for i, p in enumerate(paragraphs)]  # fmt: skip


def _pcap_packets(path: str) -> Iterator[tuple[str, bytes]]:
    from ..pcap import extract_pgm, read_pcap

    for n, rec in enumerate(read_pcap(path), 1):
        got = extract_pgm(rec)
        if got is not None:
            pkt, meta = got
            how = "" if meta["transport"] == "ip" else f" udp {meta['sport']}>{meta['dport']}"
            yield f"frame {n}: {meta['src']} -> {meta['dst']}{how}", pkt


# -- decoding ---------------------------------------------------------------------------------


def _behind_ip(raw: bytes) -> tuple[bytes, str] | None:
    """The PGM packet after an IPv4/IPv6 header in front of ``raw``, and a note; else None."""
    from ..pcap import LINKTYPE_RAW, PcapRecord, extract_pgm

    if not raw or raw[0] >> 4 not in (4, 6):
        return None
    got = extract_pgm(PcapRecord(0.0, LINKTYPE_RAW, raw))
    if got is None:
        return None
    pkt, meta = got
    how = "protocol 113" if meta["transport"] == "ip" else f"UDP {meta['sport']}>{meta['dport']}"
    note = (
        f"(after an IPv{meta['ip_version']} header: {meta['src']} -> {meta['dst']}, {how}; "
        f"{len(raw) - len(pkt)} bytes skipped)"
    )
    return pkt, note


def _failure(raw: bytes, exc: Exception, verify: bool) -> str:
    """Why ``raw`` did not decode, in words: truncation beats a checksum it causes."""
    from .. import wire

    if isinstance(exc, wire.BadChecksum):
        try:
            wire.parse(raw, verify=False)
        except (wire.TruncatedPacket, wire.BadLength) as inner:
            return f"truncated packet ({len(raw)} bytes): {inner}"
        except wire.PacketError:
            pass
        return f"{exc} (BadChecksum; --no-verify decodes it anyway)"
    if isinstance(exc, wire.TruncatedPacket | wire.BadLength):
        return f"truncated packet ({len(raw)} bytes): {exc}"
    return f"{exc} ({type(exc).__name__})"


def _value(v: Any) -> str:
    if isinstance(v, bytes):
        return v.hex() if len(v) <= _DATA_SHOWN else f"{v[:_DATA_SHOWN].hex()}…"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "none"
    return str(v)


def _option_lines(opt: Any) -> str:
    fields = [(f.name, getattr(opt, f.name)) for f in dataclasses.fields(opt)]
    shown = [f"{k}={_value(v)}" for k, v in fields if k not in ("opx", "f_bits", "u") or v]
    return f"{opt.NAME}" + (f"  {' '.join(shown)}" if shown else "")


def describe(pkt: Any, size: int) -> list[str]:
    """The readable form of a parsed packet: a title line, then ``field: value`` lines."""
    lines = [f"{pkt.NAME}  {size} bytes  TSI {pkt.tsi}"]
    skip = {"options", "data", "gsi"}
    for f in dataclasses.fields(pkt):
        if f.name in skip:
            continue
        v = getattr(pkt, f.name)
        if f.name == "checksum" and isinstance(v, int):
            v = f"0x{v:04x}"
        lines.append(f"  {f.name.replace('_', ' ')}: {_value(v)}")
    for opt in pkt.options:
        lines.append(f"  option: {_option_lines(opt)}")
    data = getattr(pkt, "data", None)
    if data is not None:
        lines.append(f"  data: {len(data)} bytes  {_value(bytes(data))}")
    return lines


def _decode_one(raw: bytes, verify: bool) -> tuple[list[str] | None, str]:
    """(the packet's lines, a note) or (None, why it failed)."""
    from .. import wire

    try:
        return describe(wire.parse(raw, verify=verify), len(raw)), ""
    except wire.PacketError as exc:
        inner = _behind_ip(raw)
        if inner is None:
            return None, _failure(raw, exc, verify)
        pkt, note = inner
        try:
            return describe(wire.parse(pkt, verify=verify), len(pkt)), note
        except wire.PacketError as exc2:
            return None, f"{_failure(pkt, exc2, verify)} {note}"


def _inputs(args: argparse.Namespace) -> list[tuple[str, bytes]] | Iterator[tuple[str, bytes]]:
    if args.pcap:
        if args.hex:
            raise ValueError("give HEX or --pcap FILE, not both")
        return _pcap_packets(args.pcap)
    stdin_text = None
    if not args.hex or args.hex == ["-"]:
        if sys.stdin.isatty():
            err("decode", "reading hex from standard input, Ctrl-D to end")
        stdin_text = sys.stdin.read()
    packets = hex_packets(args.hex, args.each, stdin_text)
    if len(args.hex) > 1 and not args.each:
        err(
            "decode", f"joined {len(args.hex)} arguments into one packet (--each: one per argument)"
        )
    if not packets:
        raise ValueError("no packet given")
    return packets


def run(args: argparse.Namespace) -> int:
    """Run ``pgm decode``; the exit status."""
    try:
        packets = _inputs(args)
        status, count = EXIT_OK, 0
        for label, raw in packets:
            lines, note = _decode_one(raw, not args.no_verify)
            if count:
                print()
            count += 1
            head = f"{label}: " if label else ""
            if lines is None:
                err("decode", f"{head}malformed: {note}")
                status = EXIT_ERROR
                continue
            if head:
                print(head.rstrip(": ") + (f" {note}" if note else ""))
            elif note:
                print(note)
            print("\n".join(lines))
    except (ValueError, OSError) as exc:
        err("decode", str(exc))
        return EXIT_USAGE
    if args.pcap and not count:
        err("decode", f"no PGM packet in {args.pcap}")
        return EXIT_ERROR
    return status
