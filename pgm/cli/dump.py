"""``pgm dump`` — tcpdump for PGM: capture live or read a pcap, one decoded line per packet.

Theory of operation
-------------------
:func:`run` opens the packet source — a pcap file (``--read``, :func:`pgm.pcap.read_pcap`) or a
live capture (:mod:`pgm.cli.dump_capture`: ``AF_PACKET``, raw protocol 113 or UDP sockets) —
and feeds each record through one pipeline: decode (:mod:`pgm.cli.dump_decode`; frames without
PGM are only counted), filter (:class:`Filters`: ``--tsi``, ``--type``), then print the line or
the JSON object, append the record to ``--write FILE`` (the frame as captured, in its own link
type) and count it (:mod:`pgm.cli.dump_tally`).  It stops at the end of the file, after
``--count`` shown packets, after ``--duration`` seconds, on Ctrl-C or on SIGTERM, and then
prints the per-session summary (stderr; with ``--json`` one ``{"summary": ...}`` object on
stdout).  Malformed packets are shown as such and counted; they never stop the dump.

Exit status: 0 when it stopped for any of those reasons; 1 for a pcap file that is cut off or
not a pcap file (after the summary of what was read) or a socket error while capturing; 2 for
usage errors, an unreadable file, an unknown interface, or live capture without the
privilege it needs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..pcap import DEFAULT_UDP_ENCAP_PORTS, PcapRecord, PcapWriter, read_pcap, split_gso
from .args import arg, group, int_range, number, port
from .dump_decode import TYPE_NAMES, Decoded, decode, format_line, parse_tsi, to_json
from .dump_tally import DumpTally
from .report import EXIT_ERROR, EXIT_OK, EXIT_USAGE, err

if TYPE_CHECKING:
    from .dump_capture import Capture

__all__ = ["Filters", "add_parser", "parse_types", "run"]

_CMD = "dump"
_TYPE_CODES = {name.lower(): code for code, name in TYPE_NAMES.items()}


def parse_types(text: str) -> frozenset[str]:
    """``--type odata,rdata``: packet type names (any case) and ``malformed``."""
    names = {t.strip().lower() for t in text.split(",") if t.strip()}
    bad = names - set(_TYPE_CODES) - {"malformed"}
    if bad or not names:
        known = ", ".join([*_TYPE_CODES, "malformed"])
        raise ValueError(f"unknown packet type {', '.join(sorted(bad)) or text!r} ({known})")
    return frozenset(names)


def add_parser(sub: Any) -> None:
    """Add ``dump`` to the subcommands (``sub``: argparse's subparsers action)."""
    d = sub.add_parser(
        "dump",
        help="capture PGM (or read a pcap) and print each packet decoded, then a summary",
        description="Print every PGM packet seen, one line each, and a per-session summary "
        "at the end (Ctrl-C, SIGTERM, end of file, --count or --duration).",
    )
    src = d.add_argument_group("source")
    src.add_argument("-r", "--read", metavar="FILE", help="read a pcap file instead of capturing")
    src.add_argument("-i", "--iface", help="capture on this interface (name, address or index; "
                     "default: all)")  # fmt: skip
    src.add_argument(
        "--capture",
        choices=("auto", "packet", "raw", "udp"),
        default="auto",
        help="live capture method: packet (AF_PACKET, raw and UDP, both directions; Linux), raw "
        "(protocol 113 sockets, incoming), udp (no privilege; UDP-encapsulated PGM delivered to "
        "this host); auto = packet on Linux, else raw. packet and raw need root or CAP_NET_RAW",
    )
    src.add_argument("--udp-port", type=arg(port, "port"), action="append", default=[],
                     help="a UDP encapsulation port to decode (repeatable; default 3055 and "
                     "3056; pgm itself uses the session's port)")  # fmt: skip
    src.add_argument("--group", type=arg(group, "group"), action="append", default=[],
                     help="join this multicast group on the interface (repeatable)")  # fmt: skip
    flt = d.add_argument_group("filters")
    flt.add_argument("--tsi", type=arg(parse_tsi, "TSI"), action="append", default=[],
                     help="only this session (31.29.110.65.96.43.7550 or 1f1d6e41602b.7550; "
                     "repeatable)")  # fmt: skip
    flt.add_argument("--type", dest="types", type=arg(parse_types, "type"), action="append",
                     default=[], help="only these types, e.g. odata,rdata,nak (repeatable; "
                     "'malformed' too)")  # fmt: skip
    out = d.add_argument_group("output")
    out.add_argument("-c", "--count", type=arg(int_range(1, 2**62), "count"),
                     help="stop after N packets shown")  # fmt: skip
    out.add_argument("--duration", type=arg(number(0, lo_open=True), "seconds"),
                     help="stop capturing after S seconds")  # fmt: skip
    out.add_argument("-w", "--write", metavar="FILE", help="also write the packets shown to a "
                     "pcap file")  # fmt: skip
    out.add_argument("--json", action="store_true", help="JSON lines instead of text")
    out.add_argument(
        "-q", "--quiet", action="store_true", help="no per-packet output; summary only"
    )
    out.add_argument("--no-verify", action="store_true", help="do not check checksums")
    d.set_defaults(func=run)


@dataclass(frozen=True)
class Filters:
    """Which decoded packets are shown: ``--tsi`` and ``--type`` (empty: all)."""

    tsis: frozenset[Any] = frozenset()
    types: frozenset[str] = frozenset()

    def match(self, d: Decoded) -> bool:
        if self.tsis and d.tsi not in self.tsis:
            return False
        if not self.types:
            return True
        if d.packet is None and "malformed" in self.types:
            return True
        return d.type_name.lower() in self.types


class _Stop(Exception):
    """SIGTERM: stop like Ctrl-C, with the summary."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


@dataclass
class _Output:
    """Where shown packets go: stdout (text or JSON), the pcap writer, the tally."""

    json: bool
    quiet: bool
    write_path: str | None
    live: bool
    tally: DumpTally
    writer: PcapWriter | None = None

    def show(self, rec: PcapRecord, d: Decoded) -> None:
        self.tally.add(d)
        if self.write_path is not None:
            if self.writer is None:
                self.writer = PcapWriter(self.write_path, rec.linktype)
            self.writer.write(rec.data, ts=rec.ts)
        if self.quiet:
            return
        line = json.dumps(to_json(d), default=str) if self.json else format_line(d)
        print(line, flush=self.live)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        elif self.write_path is not None:  # nothing shown: still leave a valid, empty capture
            PcapWriter(self.write_path).close()


@dataclass
class _Source:
    """The records to dump, and the live capture behind them (``None`` for a file)."""

    records: Iterator[PcapRecord]
    capture: Capture | None = None

    def close(self) -> int | None:
        """Release the file or the sockets; the kernel's drop count where known."""
        if self.capture is None:
            close = getattr(self.records, "close", None)
            if close is not None:
                close()
            return None
        self.capture.close()
        return self.capture.kernel_drops


def _open_source(args: argparse.Namespace, udp_ports: set[int]) -> _Source | int:
    """The record source, or the exit status after printing why it cannot be opened."""
    if args.read:
        try:
            f = open(args.read, "rb")  # noqa: SIM115 - the generator below closes it
        except OSError as exc:
            err(_CMD, f"cannot read {args.read}: {exc.strerror or exc}")
            return EXIT_USAGE

        def from_file() -> Iterator[PcapRecord]:
            with f:
                yield from read_pcap(f)

        return _Source(from_file())
    from ..interfaces import InterfaceError, resolve_interface
    from .dump_capture import open_capture

    try:
        iface = None if args.iface is None else resolve_interface(args.iface)
        cap = open_capture(args.capture, iface=iface, udp_ports=udp_ports, groups=args.group)
    except InterfaceError as exc:
        err(_CMD, str(exc))
        return EXIT_USAGE
    except OSError as exc:
        err(_CMD, exc.strerror or str(exc))
        return EXIT_USAGE
    where = "all interfaces" if iface is None else iface.name
    print(f"pgm dump: capturing on {where} ({cap.method}); Ctrl-C to stop", file=sys.stderr)
    until = None if args.duration is None else time.monotonic() + args.duration
    return _Source(cap.records(until), cap)


def run(args: argparse.Namespace) -> int:
    """Run ``pgm dump``; the exit status."""
    udp_ports = set(DEFAULT_UDP_ENCAP_PORTS) | set(args.udp_port)
    capture_ports = set(args.udp_port) or set(DEFAULT_UDP_ENCAP_PORTS)
    source = _open_source(args, capture_ports if args.capture == "udp" else udp_ports)
    if isinstance(source, int):
        return source
    types = frozenset().union(*args.types) if args.types else frozenset()
    filters = Filters(frozenset(args.tsi), types)
    tally = DumpTally()
    out = _Output(args.json, args.quiet, args.write, not args.read, tally)
    old = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    rc = EXIT_OK
    try:
        rc = _pump(source.records, udp_ports, filters, out, args)
    except (KeyboardInterrupt, _Stop):
        pass
    except BrokenPipeError:  # `pgm dump | head`: the reader is gone; the summary still goes out
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        tally.kernel_drops = source.close()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        out.close()
    _summary(tally, args.json)
    return rc


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _pump(
    source: Iterator[PcapRecord],
    udp_ports: set[int],
    filters: Filters,
    out: _Output,
    args: argparse.Namespace,
) -> int:
    """Decode, filter and show records until the source ends or ``--count`` is reached."""
    shown = 0
    try:
        for captured in source:
            for rec in split_gso(captured, udp_ports):  # a GSO buffer: its datagrams
                d = decode(rec, udp_ports, verify=not args.no_verify)
                if d is None:
                    out.tally.not_pgm += 1
                    continue
                if not filters.match(d):
                    out.tally.filtered += 1
                    continue
                out.show(rec, d)
                shown += 1
                if args.count is not None and shown >= args.count:
                    return EXIT_OK
    except ValueError as exc:  # read_pcap: not a pcap file, or one cut off inside a record
        err(_CMD, f"{args.read}: {exc}")
        return EXIT_ERROR
    except OSError as exc:
        err(_CMD, f"capture failed: {exc}")
        return EXIT_ERROR
    return EXIT_OK


def _summary(tally: DumpTally, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"summary": tally.as_dict()}, default=str), flush=True)
        return
    sys.stdout.flush()
    for line in tally.lines():
        print(line, file=sys.stderr)
