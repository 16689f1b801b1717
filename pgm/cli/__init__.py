"""The ``pgm`` command line.

* ``pgm --version``
* ``pgm decode HEX`` — parse one PGM packet given as hex and print its fields.
* ``pgm send GROUP [FILE|-] --port P`` — send a file (or standard input) as one PGM session:
  messages of ``--message-size`` bytes at ``--rate`` kbit/s, then OPT_FIN, then linger
  ``--linger`` seconds answering NAKs.
* ``pgm recv GROUP --port P`` — receive the first session heard on GROUP:P and write its data,
  in order, to ``--out`` (default standard output).
* ``pgm demo`` — a source and three receivers on this machine, with simulated loss, checking
  that every receiver got the data intact.

Exit status
-----------
=====  ==========================================================================================
0      success (``recv``: the session ended with OPT_FIN and every byte was delivered)
1      runtime failure: socket or I/O error, the I/O thread failed, ``demo`` data mismatch
2      usage or setup error: bad arguments, group address, port or interface (the message lists
       the interfaces), unreadable input / unwritable output, or raw sockets without privilege
       (``--transport raw`` needs root or CAP_NET_RAW; the message suggests ``--transport udp``)
3      ``recv``: the data is incomplete — unrecoverable loss (the message names the lost sequence
       ranges), the source aborted (OPT_RST), or the session went silent for ``--timeout``
       seconds without OPT_FIN (expiry)
4      ``recv``: no session started within ``--timeout`` seconds
130    interrupted (Ctrl-C); ``send`` then aborts its session with OPT_RST
=====  ==========================================================================================

Timeouts (``recv --timeout S``): S bounds the wait for the first session (exit 4), and is also
the session's idle expiry (the engine's ``peer_expiry``): a session that has started and then
hears nothing at all — no data, no SPM heartbeat — for S seconds is ended as expired (exit 3).
An idle but live source sends heartbeat SPMs at most 30 s apart (OpenPGM's ambient interval),
so streams that may pause need ``--timeout`` above 30.  Without ``--timeout`` the wait for a
session is unbounded and the idle expiry is the engine default (300 s).

Output conventions: data goes to ``--out``; progress (only when stderr is a terminal), notes
and the final statistics line go to stderr; ``--json`` prints the statistics as one JSON object
on stdout (for ``recv`` that needs ``--out FILE``, since stdout would carry the data).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import queue as queue_mod
import random
import re
import select
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import IO, TYPE_CHECKING, Any

from . import __version__
from .progress import ProgressLine, format_bytes, format_rate

if TYPE_CHECKING:
    from .engine import SourceConfig
    from .interfaces import Interface
    from .wire import TSI

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOSS",
    "EXIT_NO_SESSION",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "build_source_config",
    "format_loss",
    "format_receiver_stats",
    "format_sender_stats",
    "main",
    "merge_ranges",
    "parse_args",
    "parse_percent",
    "parse_size",
    "rate_bps_from_kbits",
    "receiver_summary",
    "sender_summary",
    "window_secs_from_ms",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOSS = 3
EXIT_NO_SESSION = 4
EXIT_INTERRUPTED = 130

_M32 = 0xFFFFFFFF
_clock = time.monotonic

# Linux interface flags (/sys/class/net/IF/flags)
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000


class UsageError(Exception):
    """A problem with what the user asked for: printed, exit status 2."""


# -- unit conversions and argument types (pure) ---------------------------------------------------


def rate_bps_from_kbits(kbits: float) -> int:
    """``--rate`` is kbit/s; the engine wants bit/s (``SourceConfig.rate_bps``)."""
    bps = round(kbits * 1000)
    if bps < 1:
        raise ValueError(f"rate must be positive, not {kbits!r} kbit/s")
    return bps


def window_secs_from_ms(ms: float) -> float:
    """``--window-ms`` is milliseconds; the engine wants seconds (``SourceConfig.window_secs``)."""
    if not ms > 0:
        raise ValueError(f"window must be positive, not {ms!r} ms")
    return ms / 1000.0


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """A byte count with an optional binary suffix: ``4M`` = ``4MB`` = ``4MiB`` = 4194304."""
    m = _SIZE_RE.match(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (examples: 4000000, 512k, 4M)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_percent(text: str) -> float:
    """``'5'`` or ``'5%'`` -> 0.05 (in [0, 100))."""
    t = text.strip().removesuffix("%").strip()
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"not a percentage: {text!r}") from None
    if not 0 <= v < 100:
        raise ValueError(f"percentage must be in [0, 100), not {text!r}")
    return v / 100.0


def _arg(convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """Wrap a converter so its ValueError becomes an argparse error (exit status 2)."""

    def f(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"bad {what}: {text!r}") from None

    f.__name__ = what  # argparse names the type in its messages
    return f


def _group(text: str) -> IPv4Address | IPv6Address:
    try:
        addr = ip_address(text)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r}") from None
    if not addr.is_multicast:
        raise ValueError(
            f"{addr} is not a multicast group address (IPv4 224.0.0.0/4, IPv6 ff00::/8)"
        )
    return addr


def _port(text: str) -> int:
    v = int(text)
    if not 0 < v < 65536:
        raise ValueError(f"port must be in 1..65535, not {v}")
    return v


def _number(lo: float, hi: float | None = None, *, lo_open: bool = False) -> Callable[[str], float]:
    def f(text: str) -> float:
        v = float(text)
        if v != v or (v <= lo if lo_open else v < lo) or (hi is not None and v > hi):
            bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
            raise ValueError(f"must be {bound}" + (f" and <= {hi:g}" if hi is not None else ""))
        return v

    return f


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def f(text: str) -> int:
        v = int(text)
        if not lo <= v <= hi:
            raise ValueError(f"must be in {lo}..{hi}, not {v}")
        return v

    return f


def build_source_config(
    *,
    rate_kbits: float | None = None,
    window_ms: float | None = None,
    group: IPv4Address | IPv6Address | None = None,
    transport: str = "raw",
) -> SourceConfig:
    """The :class:`SourceConfig` for ``send``/``demo`` options (None: the engine default)."""
    from .engine import SourceConfig

    cfg = SourceConfig()
    if rate_kbits is not None:
        cfg.rate_bps = rate_bps_from_kbits(rate_kbits)
    if window_ms is not None:
        cfg.window_secs = window_secs_from_ms(window_ms)
    cfg.ip_version = 6 if isinstance(group, IPv6Address) else 4
    cfg.udp_encapsulation = transport == "udp"
    cfg.__post_init__()  # validate (raises ConfigError, a ValueError)
    return cfg


# -- loss reports (pure) ---------------------------------------------------------------------------


def range_count(first: int, last: int) -> int:
    """Sequence numbers in ``first..last`` (inclusive, 32-bit circular)."""
    return ((last - first) & _M32) + 1


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join ranges that follow each other (``a-b``, ``b+1-c`` -> ``a-c``), modulo 2**32.

    Ranges are taken in stream order, as :class:`UnrecoverableLoss` events report them.
    """
    out: list[tuple[int, int]] = []
    for first, last in ranges:
        if out and (out[-1][1] + 1) & _M32 == first & _M32:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _fmt_range(first: int, last: int) -> str:
    n = range_count(first, last)
    span = str(first) if n == 1 else f"{first}-{last}"
    return f"{span} ({n} packet{'s' if n != 1 else ''})"


def format_loss(tsi: object, ranges: Sequence[tuple[int, int]], limit: int = 8) -> str:
    """The message for unrecoverable loss, e.g.
    ``unrecoverable loss: sequence numbers 1200-1350 (151 packets) from TSI 1.2.3.4.5.6.7500``.

    Adjacent ranges are merged; beyond ``limit`` ranges the rest are summarised.
    """
    merged = merge_ranges(ranges)
    if not merged:
        return f"no loss from TSI {tsi}"
    total = sum(range_count(a, b) for a, b in merged)
    parts = [_fmt_range(a, b) for a, b in merged[:limit]]
    if len(merged) > limit:
        parts.append(f"and {len(merged) - limit} more ranges")
    noun = "sequence number" if total == 1 else "sequence numbers"
    text = f"unrecoverable loss: {noun} {', '.join(parts)} from TSI {tsi}"
    if len(merged) > 1:
        text += f" ({total} packets in {len(merged)} ranges)"
    return text


# -- statistics (pure) -----------------------------------------------------------------------------


def goodput_mbps(nbytes: int, secs: float) -> float:
    """Application bytes over time, in Mbit/s (0 for an empty or instant transfer)."""
    return nbytes * 8 / secs / 1e6 if secs > 0 else 0.0


def sender_summary(
    *,
    nbytes: int,
    messages: int,
    duration: float,
    stats: dict[str, Any],
    tsi: object = None,
    end: str = "fin",
    exit_status: int = EXIT_OK,
    **extra: Any,
) -> dict[str, Any]:
    """The sender's statistics object (what ``send --json`` prints).

    ``nbytes`` counts application bytes transmitted as ODATA, ``messages`` the messages given
    to the session; ``duration`` runs from the session's start until every message was
    transmitted once (lingering is not counted); ``stats`` is :meth:`PgmSender.stats`.
    """
    return {
        "command": "send",
        **extra,
        "tsi": None if tsi is None else str(tsi),
        "bytes": nbytes,
        "messages": messages,
        "duration_s": round(duration, 6),
        "goodput_mbps": round(goodput_mbps(nbytes, duration), 3),
        "naks_received": int(stats.get("naks_received", 0)),
        "repairs_sent": int(stats.get("repair_packets_sent", 0)),
        "end": end,
        "exit_status": exit_status,
        "stats": stats,
    }


def receiver_summary(
    *,
    nbytes: int,
    messages: int,
    duration: float,
    session_stats: dict[str, Any],
    stats: dict[str, Any],
    lost_ranges: Sequence[tuple[int, int]] = (),
    loss_events: int = 0,
    tsi: object = None,
    source: object = None,
    end: str = "fin",
    exit_status: int = EXIT_OK,
    **extra: Any,
) -> dict[str, Any]:
    """The receiver's statistics object (what ``recv --json`` prints).

    ``duration`` runs from the session's first packet to its end; ``session_stats`` is the
    session's entry of :meth:`PgmReceiver.stats` (``stats``, included whole).
    """
    merged = merge_ranges(lost_ranges)
    return {
        "command": "recv",
        **extra,
        "tsi": None if tsi is None else str(tsi),
        "source": None if source is None else str(source),
        "bytes": nbytes,
        "messages": messages,
        "duration_s": round(duration, 6),
        "goodput_mbps": round(goodput_mbps(nbytes, duration), 3),
        "naks_sent": int(session_stats.get("selective_naks_sent", 0)),
        "repairs_received": int(session_stats.get("rdata_packets_received", 0)),
        "loss_events": loss_events,
        "lost_packets": sum(range_count(a, b) for a, b in merged),
        "lost_ranges": [[a, b] for a, b in merged],
        "end": end,
        "exit_status": exit_status,
        "stats": stats,
    }


def format_sender_stats(s: dict[str, Any]) -> str:
    """The sender's one-line statistics."""
    return (
        f"pgm send: {s['bytes']} bytes in {s['messages']} messages in {s['duration_s']:.2f} s, "
        f"{s['goodput_mbps']:.2f} Mbit/s goodput; {s['naks_received']} NAKs received, "
        f"{s['repairs_sent']} repairs sent (TSI {s['tsi']})"
    )


def format_receiver_stats(s: dict[str, Any]) -> str:
    """The receiver's one-line statistics."""
    text = (
        f"pgm recv: {s['bytes']} bytes in {s['messages']} messages in {s['duration_s']:.2f} s, "
        f"{s['goodput_mbps']:.2f} Mbit/s goodput; {s['naks_sent']} NAKs sent, "
        f"{s['repairs_received']} repairs received, {s['loss_events']} loss events"
    )
    if s["lost_packets"]:
        text += f", {s['lost_packets']} packets lost"
    if s["tsi"] is not None:
        text += f" (TSI {s['tsi']} from {s['source']})"
    return text


def _json_dump(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str, sort_keys=False))
    sys.stdout.flush()


class _RateMeter:
    """A smoothed rate from a growing counter (for progress lines)."""

    def __init__(self) -> None:
        self._t = _clock()
        self._v = 0
        self.rate = 0.0

    def update(self, value: int) -> float:
        now = _clock()
        dt = now - self._t
        if dt >= 0.1:
            inst = (value - self._v) / dt
            self.rate = inst if self.rate == 0 else 0.6 * inst + 0.4 * self.rate
            self._t, self._v = now, value
        return self.rate


def _err(cmd: str, text: str) -> None:
    print(f"pgm {cmd}: {text}", file=sys.stderr)


def _resolve(spec: str | None, group: IPv4Address | IPv6Address) -> Interface:
    """``--iface`` to an Interface; InterfaceError (a ValueError) lists the ones there are."""
    from .interfaces import resolve_interface

    iface = resolve_interface(spec, group.version)
    iface.address(group.version)  # raises InterfaceError when it has no address of the family
    return iface


# -- pgm decode ------------------------------------------------------------------------------------


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


# -- pgm send --------------------------------------------------------------------------------------


def _open_input(path: str) -> tuple[Callable[[int], bytes], int | None, Callable[[], None]]:
    """(read(n), total size or None, close) for FILE or ``-`` (standard input)."""
    if path == "-":
        fd = sys.stdin.fileno()
        st = os.fstat(fd)
        total = st.st_size if stat.S_ISREG(st.st_mode) else None

        # os.read returns what is there (a whole message under load, at once when trickling)
        def read_fd(n: int) -> bytes:
            return os.read(fd, n)

        return read_fd, total, lambda: None
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the returned callable
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(f.fileno())
    if stat.S_ISDIR(st.st_mode):
        f.close()
        raise UsageError(f"cannot read {path}: is a directory")
    total = st.st_size if stat.S_ISREG(st.st_mode) else None
    return f.read, total, f.close


def _cmd_send(args: argparse.Namespace) -> int:
    from .engine import ConfigError
    from .interfaces import InterfaceError
    from .io import PgmSender

    group: IPv4Address | IPv6Address = args.group
    try:
        cfg = build_source_config(
            rate_kbits=args.rate, window_ms=args.window_ms, group=group, transport=args.transport
        )
        msg_size = args.message_size or cfg.max_tsdu
        if msg_size > cfg.max_apdu:
            raise UsageError(f"--message-size {msg_size} exceeds the maximum ({cfg.max_apdu})")
        iface = _resolve(args.iface, group)
        read, total, close_input = _open_input(args.file)
    except (UsageError, ConfigError, InterfaceError) as exc:
        _err("send", str(exc))
        return EXIT_USAGE
    try:
        tx = PgmSender(
            group, args.port, iface=iface, transport=args.transport, config=cfg, ttl=args.ttl
        )
    except PermissionError as exc:
        close_input()
        _err("send", exc.strerror or str(exc))
        return EXIT_USAGE
    except OSError as exc:
        close_input()
        _err("send", f"cannot open the {args.transport} socket on {iface.name}: {exc}")
        return EXIT_ERROR

    start = _clock()
    nbytes = messages = 0
    phase = ["sending"]
    linger = cfg.effective_linger if args.linger is None else args.linger
    linger_from = [0.0]
    meter = _RateMeter()

    def render() -> str:
        st = tx.stats()
        sent = int(st["data_bytes_sent"])
        rate = meter.update(sent)
        tail = f"NAKs {st['naks_received']}  repairs {st['repair_packets_sent']}"
        if phase[0] == "lingering":
            left = max(0.0, linger - (_clock() - linger_from[0]))
            return f"sent {format_bytes(sent)}; lingering {left:.1f} s for repairs  {tail}"
        done = f" / {format_bytes(total)} ({100 * sent / total:.0f}%)" if total else ""
        return f"sent {format_bytes(sent)}{done}  {format_rate(rate * 8)}  {tail}"

    progress = ProgressLine(render).start()
    end, status = "fin", EXIT_OK
    duration = 0.0
    try:
        while True:
            chunk = read(msg_size)
            if not chunk:
                break
            tx.send(chunk)
            nbytes += len(chunk)
            messages += 1
        tx.flush()
        duration = _clock() - start
        phase[0] = "lingering"
        linger_from[0] = _clock()
        tx.close(linger=args.linger)
    except KeyboardInterrupt:
        if phase[0] == "sending":
            duration = _clock() - start
            tx.abort()  # OPT_RST: receivers learn the data is incomplete
            end = "interrupted"
        else:
            end = "interrupted-linger"  # FIN was sent; repairs are no longer served
        status = EXIT_INTERRUPTED
    except (OSError, RuntimeError) as exc:
        duration = _clock() - start
        tx.abort()
        progress.stop()
        _err("send", f"{exc}")
        end, status = "error", EXIT_ERROR
    finally:
        progress.stop()
        close_input()
    st = tx.stats()
    summary = sender_summary(
        # what went out as ODATA: all of it unless interrupted (the send buffer takes a lot)
        nbytes=int(st["data_bytes_sent"]),
        messages=messages,
        duration=duration,
        stats=st,
        tsi=tx.tsi,
        end=end,
        exit_status=status,
        group=str(group),
        port=args.port,
        transport=args.transport,
        interface=iface.name,
        linger_s=linger,
        bytes_read=nbytes,
    )
    if end == "interrupted":
        _err("send", "interrupted: session aborted (OPT_RST)")
    elif end == "interrupted-linger":
        _err("send", "interrupted while lingering: the session had ended, repairs stopped")
    print(format_sender_stats(summary), file=sys.stderr)
    if args.json:
        _json_dump(summary)
    return status


# -- pgm recv --------------------------------------------------------------------------------------


def _open_output(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "wb")  # closed by the caller
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _finished_when_heard(session_stats: dict[str, Any]) -> bool:
    """True for a session whose first packet already carried OPT_FIN: an SPM from a source
    that had finished and was lingering when we joined (a previous transfer), not a transfer.
    """
    return (
        int(session_stats.get("spms_received", 0)) <= 1
        and int(session_stats.get("odata_packets_received", 0)) == 0
        and int(session_stats.get("rdata_packets_received", 0)) == 0
    )


def _cmd_recv(args: argparse.Namespace) -> int:
    from .engine import (
        ConfigError,
        DataReceived,
        ReceiverConfig,
        SessionEnded,
        SessionStarted,
        UnrecoverableLoss,
    )
    from .interfaces import InterfaceError
    from .io import PgmReceiver

    group: IPv4Address | IPv6Address = args.group
    try:
        if args.json and args.out == "-":
            raise UsageError("--json prints to stdout, which carries the data: add --out FILE")
        ifaces = [_resolve(s, group) for s in (args.iface or [None])]
        cfg = ReceiverConfig()
        if args.timeout is not None:
            cfg.peer_expiry = args.timeout
        cfg.__post_init__()
        out = _open_output(args.out)
    except (UsageError, ConfigError, InterfaceError) as exc:
        _err("recv", str(exc))
        return EXIT_USAGE
    try:
        rx = PgmReceiver(
            group,
            args.port,
            ifaces=ifaces,
            transport=args.transport,
            config=cfg,
            loss=args.loss or 0.0,
        )
    except PermissionError as exc:
        _err("recv", exc.strerror or str(exc))
        return EXIT_USAGE
    except OSError as exc:
        names = ", ".join(i.name for i in ifaces)
        _err("recv", f"cannot open the {args.transport} socket on {names}: {exc}")
        return EXIT_ERROR
    if rx.transport.buffer_warning:
        _err("recv", f"note: {rx.transport.buffer_warning}")

    start = _clock()
    wait_until = None if args.timeout is None else start + args.timeout
    tsi: TSI | None = None
    source: object = None
    t_first = t_end = 0.0
    nbytes = messages = 0
    ranges: list[tuple[int, int]] = []
    loss_events = 0
    shown_losses = 0
    end = "?"
    meter = _RateMeter()

    def session_stats(st: dict[str, Any] | None = None) -> dict[str, Any]:
        st = st if st is not None else rx.stats()
        sessions: dict[str, Any] = st["sessions"]
        return dict(sessions.get(str(tsi), {})) if tsi is not None else {}

    def render() -> str:
        if tsi is None:
            return f"waiting for a session on {group} port {args.port} ..."
        ss = session_stats()
        rate = meter.update(nbytes)
        lost = f"  lost {sum(range_count(a, b) for a, b in ranges)}" if ranges else ""
        return (
            f"received {format_bytes(nbytes)}  {format_rate(rate * 8)}  "
            f"NAKs {ss.get('selective_naks_sent', 0)}  "
            f"repairs {ss.get('rdata_packets_received', 0)}{lost}"
        )

    progress = ProgressLine(render).start()
    write = out.write
    status = EXIT_OK
    try:
        while True:
            e = rx.next_event(0)
            if e is None:
                out.flush()
                now = _clock()
                if tsi is None and wait_until is not None:
                    if now >= wait_until:
                        end, status = "no-session", EXIT_NO_SESSION
                        break
                    e = rx.next_event(min(0.5, wait_until - now))
                else:
                    e = rx.next_event(0.5)
                if e is None:
                    continue
            if isinstance(e, DataReceived):
                if e.tsi == tsi:
                    data = e.data
                    write(data)
                    nbytes += len(data)
                    messages += 1
            elif isinstance(e, SessionStarted):
                if tsi is None:
                    tsi = e.tsi
                    source = e.source
                    t_first = _clock()
            elif isinstance(e, UnrecoverableLoss):
                if e.tsi == tsi:
                    ranges.append((e.first, e.last))
                    loss_events += 1
                    if shown_losses < 10:
                        progress.message("pgm recv: " + format_loss(tsi, [(e.first, e.last)]))
                        shown_losses += 1
                        if shown_losses == 10:
                            progress.message("pgm recv: (further loss reports at the end)")
            elif isinstance(e, SessionEnded) and e.tsi == tsi:
                reason = e.reason
                if (
                    reason == "fin"
                    and not messages
                    and not ranges
                    and _finished_when_heard(session_stats())
                ):
                    progress.message(
                        f"pgm recv: ignoring session {tsi}: it had already ended when "
                        "first heard (its FIN, from an earlier transfer)"
                    )
                    tsi = None
                    continue
                t_end = _clock()
                end = reason
                break
    except KeyboardInterrupt:
        end, status = "interrupted", EXIT_INTERRUPTED
    except BrokenPipeError:
        end, status = "output-closed", EXIT_ERROR
        # stdout is gone: keep the interpreter from complaining when it flushes it at exit
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, RuntimeError) as exc:
        end, status = "error", EXIT_ERROR
        progress.stop()
        _err("recv", str(exc))
    finally:
        progress.stop()
        rx.close()
    if not t_end:
        t_end = _clock()
    with contextlib.suppress(OSError):
        out.flush()
    if out is not sys.stdout.buffer:
        try:
            out.close()
        except OSError as exc:
            _err("recv", f"cannot write {args.out}: {exc}")
            status = status or EXIT_ERROR

    if status == EXIT_OK:
        if end == "fin" and ranges:
            status = EXIT_LOSS
            _err("recv", format_loss(tsi, ranges))
        elif end == "rst":
            status = EXIT_LOSS
            _err("recv", f"session {tsi} aborted by its source (OPT_RST): data incomplete")
            if ranges:
                _err("recv", format_loss(tsi, ranges))
        elif end == "expired":
            status = EXIT_LOSS
            _err(
                "recv",
                f"session {tsi} silent for {cfg.peer_expiry:g} s without ending (no OPT_FIN): "
                "data incomplete",
            )
            if ranges:
                _err("recv", format_loss(tsi, ranges))
    elif status == EXIT_NO_SESSION:
        _err("recv", f"no session on {group} port {args.port} within {args.timeout:g} s")
    elif status == EXIT_INTERRUPTED:
        _err("recv", "interrupted")
    elif end == "output-closed":
        _err("recv", "output closed")

    st = rx.stats()
    summary = receiver_summary(
        nbytes=nbytes,
        messages=messages,
        duration=(t_end - t_first) if tsi is not None else 0.0,
        session_stats=session_stats(st),
        stats=st,
        lost_ranges=ranges,
        loss_events=loss_events,
        tsi=tsi,
        source=source,
        end=end,
        exit_status=status,
        group=str(group),
        port=args.port,
        transport=args.transport,
        interfaces=[i.name for i in ifaces],
    )
    if status != EXIT_NO_SESSION:
        print(format_receiver_stats(summary), file=sys.stderr)
    if args.json:
        _json_dump(summary)
    return status


# -- pgm demo --------------------------------------------------------------------------------------


def _iface_flags(name: str) -> int | None:
    """Linux interface flags from /sys (None where unavailable)."""
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            return int(f.read().strip(), 16)
    except (OSError, ValueError):
        return None


def demo_candidates(
    ifaces: Sequence[Interface], flags: Callable[[str], int | None] = _iface_flags
) -> list[Interface]:
    """Interfaces worth trying for the demo, best first: loopback (nothing can leave the host
    there, whatever its flags say: the probe decides), then interfaces that are up and have
    the MULTICAST flag (flags unknown: any with an IPv4 address)."""
    first: list[Interface] = []
    rest: list[Interface] = []
    for i in ifaces:
        if not i.ipv4:
            continue
        if i.ipv4[0].is_loopback:
            first.append(i)
            continue
        f = flags(i.name)
        if f is None or (f & IFF_UP and f & IFF_MULTICAST and not f & IFF_LOOPBACK):
            rest.append(i)
    return first + rest


def _probe_multicast(iface: Interface, group: IPv4Address, timeout: float = 0.3) -> str | None:
    """Send one UDP datagram to ``group`` with TTL 0 on ``iface`` and loop it back to
    ourselves; None if it arrived, else why not."""
    addr = iface.address(4).packed
    token = os.urandom(16)
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
        ):
            r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            r.bind(("", 0))
            port = r.getsockname()[1]
            r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group.packed + addr)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, addr)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            end = _clock() + timeout
            for _ in range(2):
                s.sendto(token, (str(group), port))
                while (left := end - _clock()) > 0:
                    if not select.select([r], [], [], left)[0]:
                        break
                    if r.recv(64) == token:
                        return None
            return "no multicast came back"
    except OSError as exc:
        return exc.strerror or str(exc)


def _raw_permitted() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, 113).close()
    except PermissionError:
        return False
    except OSError:
        return False
    return True


def _demo_data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _demo_receiver(
    idx: int,
    group: str,
    port: int,
    iface: str,
    transport: str,
    loss: float,
    expiry: float,
    wait: float,
    queue: Any,
) -> None:
    """One demo receiver (in its own process): report ready, progress and a result."""
    from .engine import (
        DataReceived,
        ReceiverConfig,
        SessionEnded,
        SessionStarted,
        UnrecoverableLoss,
    )
    from .io import PgmReceiver

    try:
        # No multicast SPMR (TTL 1): everything a receiver sends is unicast to the source here.
        cfg = ReceiverConfig(spmr_multicast=False, peer_expiry=expiry)
        rx = PgmReceiver(group, port, ifaces=iface, transport=transport, config=cfg, loss=loss)
    except BaseException as exc:
        queue.put(("error", idx, f"{type(exc).__name__}: {exc}"))
        return
    queue.put(("ready", idx, rx.transport.buffer_warning))
    h = hashlib.sha256()
    tsi = None
    nbytes = messages = loss_events = lost = 0
    t0 = t1 = 0.0
    end = "no-session"
    deadline = _clock() + wait
    next_report = 0.0

    def sstats() -> dict[str, Any]:
        return dict(rx.stats()["sessions"].get(str(tsi), {}))

    try:
        while True:
            now = _clock()
            if now >= next_report and tsi is not None:
                ss = sstats()
                queue.put(
                    (
                        "progress",
                        idx,
                        {
                            "bytes": nbytes,
                            "naks": ss.get("selective_naks_sent", 0),
                            "repairs": ss.get("rdata_packets_received", 0),
                        },
                    )
                )
                next_report = now + 0.2
            if tsi is None and now >= deadline:
                break
            e = rx.next_event(0.2)
            if e is None:
                continue
            if isinstance(e, DataReceived):
                if e.tsi == tsi:
                    h.update(e.data)
                    nbytes += len(e.data)
                    messages += 1
            elif isinstance(e, SessionStarted):
                if tsi is None:
                    tsi = e.tsi
                    t0 = _clock()
            elif isinstance(e, UnrecoverableLoss):
                if e.tsi == tsi:
                    loss_events += 1
                    lost += e.count
            elif isinstance(e, SessionEnded) and e.tsi == tsi:
                end = e.reason
                t1 = _clock()
                break
        ss = sstats()
        queue.put(
            (
                "done",
                idx,
                {
                    "bytes": nbytes,
                    "messages": messages,
                    "duration_s": (t1 or _clock()) - t0 if tsi is not None else 0.0,
                    "naks_sent": ss.get("selective_naks_sent", 0),
                    "repairs_received": ss.get("rdata_packets_received", 0),
                    "loss_events": loss_events,
                    "lost_packets": lost,
                    "simulated_drops": rx.simulated_drops,
                    "sha256": h.hexdigest(),
                    "end": end,
                },
            )
        )
    except BaseException as exc:
        queue.put(("error", idx, f"{type(exc).__name__}: {exc}"))
    finally:
        rx.close()


def _demo_sender(
    group: str,
    port: int,
    iface: str,
    transport: str,
    size: int,
    seed: int,
    rate_bps: int,
    message_size: int,
    linger: float,
    queue: Any,
    all_done: Any,
) -> None:
    """The demo source (in its own process): send, FIN, linger until every receiver is done
    (or ``linger`` passes), report."""
    from .engine import SourceConfig
    from .io import PgmSender

    idx = -1
    try:
        data = _demo_data(size, seed)
        cfg = SourceConfig(rate_bps=rate_bps)
        # TTL 0: the kernel loops the packets back to this host's receivers and sends nothing
        # on the wire.
        tx = PgmSender(group, port, iface=iface, transport=transport, config=cfg, ttl=0)
    except BaseException as exc:
        queue.put(("error", idx, f"{type(exc).__name__}: {exc}"))
        return
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(0.2):
            st = tx.stats()
            queue.put(
                (
                    "progress",
                    idx,
                    {
                        "bytes": st["data_bytes_sent"],
                        "naks": st["naks_received"],
                        "repairs": st["repair_packets_sent"],
                    },
                )
            )

    threading.Thread(target=report, daemon=True).start()
    try:
        t0 = _clock()
        messages = 0
        view = memoryview(data)
        for off in range(0, size, message_size):
            tx.send(bytes(view[off : off + message_size]))
            messages += 1
        tx.flush()
        duration = _clock() - t0
        # close() lingers answering NAKs; once every receiver has finished, nobody needs
        # repairs any more, so we stop waiting (the process ends with the session lingering).
        closer = threading.Thread(target=tx.close, kwargs={"linger": linger}, daemon=True)
        closer.start()
        while closer.is_alive() and not all_done.wait(0.05):
            pass
        stop.set()
        st = tx.stats()
        queue.put(
            (
                "done",
                idx,
                {
                    "bytes": size,
                    "messages": messages,
                    "duration_s": duration,
                    "naks_received": st["naks_received"],
                    "repairs_sent": st["repair_packets_sent"],
                    "tx_errors": st.get("tx_errors", 0),
                },
            )
        )
    except BaseException as exc:
        stop.set()
        queue.put(("error", idx, f"{type(exc).__name__}: {exc}"))
        tx.abort()


def _choose_demo_iface(spec: str | None, group: IPv4Address) -> tuple[Interface | None, list[str]]:
    """The interface for the demo and, when none works, why each candidate failed."""
    from .interfaces import list_interfaces

    cands = [_resolve(spec, group)] if spec is not None else demo_candidates(list_interfaces())
    why = []
    for i in cands:
        problem = _probe_multicast(i, group)
        if problem is None:
            return i, []
        why.append(f"{i.name}: {problem}")
    return None, why


def _cmd_demo(args: argparse.Namespace) -> int:
    import multiprocessing

    from .interfaces import InterfaceError

    rng = random.Random()
    group: IPv4Address = args.group or IPv4Address(
        f"239.192.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
    )
    port: int = args.port or 7500 + rng.randrange(0, 1000)
    size: int = args.size
    loss: float = args.loss
    nrx: int = args.receivers
    transport: str = args.transport
    if transport == "auto":
        transport = "raw" if _raw_permitted() else "udp"
    elif transport == "raw" and not _raw_permitted():
        _err(
            "demo",
            "raw PGM sockets (IP protocol 113) need root or the CAP_NET_RAW capability; "
            "use --transport udp (or auto)",
        )
        return EXIT_USAGE
    try:
        cfg = build_source_config(rate_kbits=args.rate, group=group, transport=transport)
        iface, why = _choose_demo_iface(args.iface, group)
    except (ValueError, InterfaceError) as exc:
        _err("demo", str(exc))
        return EXIT_USAGE
    if iface is None:
        _err(
            "demo",
            "no interface delivers multicast back to this host (tried "
            + "; ".join(why)
            + "). On Linux, as root: ip link set lo multicast on; "
            "ip route add 224.0.0.0/4 dev lo  (or pass --iface)",
        )
        return EXIT_ERROR
    msg_size = cfg.max_tsdu
    seed = args.seed if args.seed is not None else rng.randrange(1 << 31)
    expected = hashlib.sha256(_demo_data(size, seed)).hexdigest()
    report = sys.stderr if args.json else sys.stdout
    where = f"{iface.name} ({iface.address(4)})"
    print(
        f"pgm demo: {format_bytes(size)} from 1 source to {nrx} receivers, {transport} "
        f"on {where} with TTL 0, group {group} port {port}, "
        f"{loss * 100:g} % simulated loss, {format_rate(cfg.rate_bps)}",
        file=report,
    )
    if not iface.ipv4[0].is_loopback:
        print(
            f"pgm demo: note: {iface.name} is not loopback; multicast TTL 0 keeps the data on "
            "this host",
            file=report,
        )
    report.flush()

    ctx = multiprocessing.get_context("spawn")
    queue: Any = ctx.Queue()
    all_done = ctx.Event()
    expiry = 10.0
    procs = [
        ctx.Process(
            target=_demo_receiver,
            args=(i, str(group), port, iface.name, transport, loss, expiry, 60.0, queue),
            name=f"pgm-demo-rx{i + 1}",
            daemon=True,
        )
        for i in range(nrx)
    ]
    for p in procs:
        p.start()
    tx_proc = None
    rx_prog: dict[int, dict[str, Any]] = {}
    tx_prog: dict[str, Any] = {}
    results: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    meter = _RateMeter()
    started = [0.0]

    def render() -> str:
        if not started[0]:
            return f"starting {nrx} receivers ..."
        sent = int(tx_prog.get("bytes", 0))
        rate = meter.update(sent)
        pcts = " ".join(
            "done"
            if i in results
            else f"{100 * int(rx_prog.get(i, {}).get('bytes', 0)) // max(1, size)}%"
            for i in range(nrx)
        )
        return (
            f"sent {format_bytes(sent)}/{format_bytes(size)} {format_rate(rate * 8)} "
            f"NAKs {tx_prog.get('naks', 0)} repairs {tx_prog.get('repairs', 0)} | rx {pcts}"
        )

    progress = ProgressLine(render).start()
    ready = 0
    tx_result: dict[str, Any] | None = None
    budget = size * 8 / cfg.rate_bps * 3 + 30 + args.linger
    deadline = _clock() + 60.0
    status = EXIT_OK
    dead_since = 0.0
    try:
        while True:
            if _clock() > deadline:
                errors.append("timed out")
                break
            try:
                msg = queue.get(timeout=0.2)
            except queue_mod.Empty:
                # A process that died without a result (its last messages get a grace period)
                dead = [
                    name
                    for name, p, have in (
                        *((f"receiver {i + 1}", p, i in results) for i, p in enumerate(procs)),
                        ("the source", tx_proc, tx_result is not None),
                    )
                    if p is not None and not have and not p.is_alive()
                ]
                if not dead:
                    dead_since = 0.0
                elif not dead_since:
                    dead_since = _clock()
                elif _clock() - dead_since > 2.0:
                    errors.extend(f"{name}: process ended without a result" for name in dead)
                    break
                continue
            kind, idx, payload = msg
            who = "source" if idx < 0 else f"receiver {idx + 1}"
            if kind == "error":
                errors.append(f"{who}: {payload}")
                break
            if kind == "ready":
                ready += 1
                if payload and idx == 0:
                    progress.message(f"pgm demo: note: {payload}")
                if ready == nrx:
                    tx_proc = ctx.Process(
                        target=_demo_sender,
                        args=(
                            str(group),
                            port,
                            iface.name,
                            transport,
                            size,
                            seed,
                            cfg.rate_bps,
                            msg_size,
                            args.linger,
                            queue,
                            all_done,
                        ),
                        name="pgm-demo-tx",
                        daemon=True,
                    )
                    tx_proc.start()
                    started[0] = _clock()
                    deadline = _clock() + budget
            elif kind == "progress":
                if idx < 0:
                    tx_prog = payload
                else:
                    rx_prog[idx] = payload
            elif kind == "done":
                if idx < 0:
                    tx_result = payload
                else:
                    results[idx] = payload
                    if len(results) == nrx:
                        all_done.set()
                if tx_result is not None and len(results) == nrx:
                    break
    except KeyboardInterrupt:
        errors.append("interrupted")
        status = EXIT_INTERRUPTED
    finally:
        progress.stop()
        all_done.set()
        for p in [*procs, *([tx_proc] if tx_proc else [])]:
            p.join(timeout=3)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)

    ok_all = not errors and len(results) == nrx
    lines = []
    if tx_result is not None:
        s = tx_result
        lines.append(
            f"  source      {s['bytes']:>10} B {s['messages']:>6} msgs {s['duration_s']:6.2f} s "
            f"{goodput_mbps(s['bytes'], s['duration_s']):7.2f} Mbit/s  "
            f"NAKs received {s['naks_received']:>5}  repairs sent {s['repairs_sent']:>5}"
        )
    out_rx = []
    for i in range(nrx):
        r = results.get(i)
        if r is None:
            lines.append(f"  receiver {i + 1}  no result")
            ok_all = False
            continue
        good = r["sha256"] == expected and r["bytes"] == size
        ok_all = ok_all and good
        lines.append(
            f"  receiver {i + 1}  {r['bytes']:>10} B {r['messages']:>6} msgs "
            f"{r['duration_s']:6.2f} s {goodput_mbps(r['bytes'], r['duration_s']):7.2f} Mbit/s  "
            f"NAKs sent {r['naks_sent']:>5}  repairs received {r['repairs_received']:>5}  "
            f"dropped {r['simulated_drops']:>4}  losses {r['loss_events']}  "
            f"sha256 {'OK' if good else 'MISMATCH'}"
        )
        out_rx.append({"receiver": i + 1, **r, "ok": good})
    for line in lines:
        print(line, file=report)
    for e in errors:
        _err("demo", e)
    if ok_all:
        print(
            f"pgm demo: all {nrx} receivers got the data intact (sha256 {expected[:16]}...)",
            file=report,
        )
    elif status == EXIT_OK:
        status = EXIT_ERROR
        print("pgm demo: FAILED: not every receiver got the data intact", file=report)
    if args.json:
        _json_dump(
            {
                "command": "demo",
                "ok": ok_all,
                "transport": transport,
                "interface": iface.name,
                "group": str(group),
                "port": port,
                "size": size,
                "loss": loss,
                "rate_bps": cfg.rate_bps,
                "sha256": expected,
                "source": tx_result,
                "receivers": out_rx,
                "errors": errors,
                "exit_status": status,
            }
        )
    return status


# -- the parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="pgm",
        description="Pure-Python PGM (RFC 3208) reliable multicast.",
        epilog="exit status: 0 ok, 1 error, 2 usage/setup error, 3 incomplete data (recv), "
        "4 no session (recv), 130 interrupted",
    )
    p.add_argument("--version", action="version", version=f"pgm {__version__}")
    sub = p.add_subparsers(dest="command")
    d = sub.add_parser("decode", help="parse one PGM packet given in hex and print its fields")
    d.add_argument("hex", nargs="+", help="packet bytes in hex, from the PGM header on")
    d.add_argument("--no-verify", action="store_true", help="do not check the checksum")
    d.set_defaults(func=_cmd_decode)

    group_t = _arg(_group, "group")
    port_t = _arg(_port, "port")

    s = sub.add_parser(
        "send",
        help="send a file or standard input as one PGM session",
        description="Send FILE (or standard input) to GROUP as messages, then end the session "
        "(OPT_FIN) and linger answering NAKs.",
    )
    s.add_argument("group", type=group_t, metavar="GROUP", help="multicast group address")
    s.add_argument("file", nargs="?", metavar="FILE", help="input (default: -, stdin)")
    s.add_argument("--port", type=port_t, required=True, help="data-destination port")
    s.add_argument("--iface", metavar="X", help="interface name, address or index")
    s.add_argument(
        "--transport",
        choices=("raw", "udp"),
        default="raw",
        help="raw IP protocol 113 (root/CAP_NET_RAW) or UDP encapsulation (default: raw)",
    )
    s.add_argument(
        "--rate",
        type=_arg(_number(0, lo_open=True), "rate"),
        metavar="KBITS",
        help="send rate in kbit/s, IP/UDP headers included (default: 10000)",
    )
    s.add_argument(
        "--window-ms",
        type=_arg(_number(0, lo_open=True), "window"),
        metavar="MS",
        help="how long sent data stays repairable, ms (default: 10000)",
    )
    s.add_argument(
        "--message-size",
        type=_arg(_int_range(1, 1 << 24), "size"),
        metavar="BYTES",
        help="bytes per message (default: the largest that fits "
        "one packet: 1456 raw, 1448 UDP over IPv4)",
    )
    s.add_argument(
        "--ttl",
        type=_arg(_int_range(0, 255), "ttl"),
        default=1,
        metavar="N",
        help="multicast TTL / hop limit (default: 1; 0 = this host only)",
    )
    s.add_argument(
        "--linger",
        type=_arg(_number(0), "linger"),
        metavar="S",
        help="seconds to keep answering NAKs after the end (default: the window)",
    )
    s.add_argument("--json", action="store_true", help="print statistics as JSON on stdout")
    s.set_defaults(func=_cmd_send)

    r = sub.add_parser(
        "recv",
        help="receive the first PGM session heard and write its data",
        description="Receive the first session heard on GROUP and port, write its data in "
        "order, exit when it ends.  Exit status: 0 complete, 3 incomplete (loss, RST or "
        "expiry), 4 no session within --timeout.",
    )
    r.add_argument("group", type=group_t, metavar="GROUP", help="multicast group address")
    r.add_argument("--port", type=port_t, required=True, help="data-destination port")
    r.add_argument(
        "--iface",
        action="append",
        metavar="X",
        help="interface to join on (repeat for several; default: the first non-loopback one)",
    )
    r.add_argument(
        "--transport",
        choices=("raw", "udp"),
        default="raw",
        help="raw IP protocol 113 (root/CAP_NET_RAW) or UDP encapsulation (default: raw)",
    )
    r.add_argument("--out", default="-", metavar="FILE", help="output file (default: -)")
    r.add_argument(
        "--timeout",
        type=_arg(_number(0, lo_open=True), "timeout"),
        metavar="S",
        help="wait at most S seconds for a session to start, and end a started "
        "session silent for S seconds (default: wait forever; expiry 300 s)",
    )
    r.add_argument(
        "--loss",
        type=_arg(parse_percent, "percent"),
        metavar="PERCENT",
        help="simulated loss: drop this percentage of data packets (testing)",
    )
    r.add_argument(
        "--json", action="store_true", help="print statistics as JSON on stdout (needs --out FILE)"
    )
    r.set_defaults(func=_cmd_recv)

    m = sub.add_parser(
        "demo",
        help="a source and receivers on this machine, with simulated loss",
        description="Run a source and receivers as separate processes on this machine "
        "(multicast TTL 0: nothing leaves the host), transfer random data with simulated "
        "loss, show statistics and check the SHA-256 digests.  Exit status 0 if every "
        "receiver got the data intact, 1 otherwise.",
    )
    m.add_argument(
        "--size",
        type=_arg(parse_size, "size"),
        default=4 << 20,
        help="bytes to transfer, suffixes k/M/G (default: 4M)",
    )
    m.add_argument(
        "--loss",
        type=_arg(parse_percent, "percent"),
        default=0.05,
        metavar="PERCENT",
        help="simulated loss per receiver (default: 5)",
    )
    m.add_argument(
        "--receivers",
        type=_arg(_int_range(1, 32), "count"),
        default=3,
        metavar="N",
        help="number of receivers (default: 3)",
    )
    m.add_argument(
        "--transport",
        choices=("raw", "udp", "auto"),
        default="auto",
        help="auto = raw when privileged, else udp (default)",
    )
    m.add_argument(
        "--rate",
        type=_arg(_number(0, lo_open=True), "rate"),
        default=20000,
        metavar="KBITS",
        help="send rate in kbit/s (default: 20000)",
    )
    m.add_argument("--port", type=port_t, help="port (default: 7500 + random)")
    m.add_argument(
        "--group", type=_arg(_demo_group, "group"), help="IPv4 group (default: 239.192.x.y, random)"
    )
    m.add_argument(
        "--iface",
        metavar="X",
        help="interface (default: loopback if it carries multicast, else the "
        "first multicast interface; TTL 0 either way)",
    )
    m.add_argument(
        "--linger",
        type=_arg(_number(0), "linger"),
        default=10.0,
        metavar="S",
        help="longest the source waits for receivers to finish (default: 10)",
    )
    m.add_argument("--seed", type=int, help="seed of the random data")
    m.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    m.set_defaults(func=_cmd_demo)
    return p


def _demo_group(text: str) -> IPv4Address:
    g = _group(text)
    if not isinstance(g, IPv4Address):
        raise ValueError("the demo uses IPv4 groups")
    return g


def parse_args(
    argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    """Parse the command line (exits with status 2 on usage errors, as argparse does).

    argparse does not assign an optional positional that follows options (``pgm send GROUP
    --port P FILE``, bpo-14191), so ``send``'s FILE is taken from what is left over.
    """
    parser = parser or build_parser()
    args, extra = parser.parse_known_args(argv)
    if (
        extra
        and getattr(args, "command", None) == "send"
        and args.file is None
        and (extra[0] == "-" or not extra[0].startswith("-"))
    ):
        args.file = extra.pop(0)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "command", None) == "send" and args.file is None:
        args.file = "-"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pgm`` console script."""
    parser = build_parser()
    args = parse_args(argv, parser)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        rc: int = func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
