"""``pgm send GROUP [FILE|-] --port P`` — send a file (or standard input) as one PGM session.

Theory of operation: setup first, so every usage problem exits with status 2 before anything is
sent — the source configuration from the options (:func:`~pgm.cli.args.build_source_config`),
the message size (default: the largest that fits one packet), the interface and the input.
Then a :class:`~pgm.io.PgmSender` takes the input in messages of ``--message-size`` bytes, at
``--rate``; ``flush`` waits until each went out once as ODATA, and ``close`` ends the session
with OPT_FIN (RFC 3208 §9) and lingers ``--linger`` seconds answering NAKs with RDATA.
Ctrl-C while sending aborts the session with OPT_RST, so receivers learn the data is incomplete;
Ctrl-C while lingering only stops the repairs (the FIN is out).  The statistics line always
goes to stderr, the summary also to stdout with ``--json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from ..net.zmtp import ZmtpEncoder, zmq_message_size
from ..progress import ProgressLine, RateMeter, format_bytes, format_rate
from .args import (
    UsageError,
    arg,
    build_source_config,
    int_range,
    number,
    open_endpoint,
    resolve_iface,
    setup,
)
from .report import (
    EXIT_ERROR,
    EXIT_OK,
    err,
    format_sender_stats,
    json_dump,
    sender_summary,
)
from .signals import interrupt_status, interrupt_word

if TYPE_CHECKING:
    from ..engine import SourceConfig
    from ..interfaces import Interface
    from ..io import PgmSender

__all__ = ["add_parser", "open_input", "run"]

_clock = time.monotonic


def add_parser(sub: Any, group_t: Callable[[str], Any], port_t: Callable[[str], Any]) -> None:
    """Add ``send`` to the subcommands (``sub``: argparse's subparsers action)."""
    s = sub.add_parser(
        "send",
        help="send a file or standard input as one PGM session",
        description="Send FILE (or standard input) to GROUP as messages, then end the session "
        "(OPT_FIN) and linger answering NAKs.",
    )
    s.add_argument(
        "group",
        type=group_t,
        metavar="GROUP",
        help="multicast group; also 'eth0;239.192.0.1' (OpenPGM) or "
        "'epgm://eth0;239.192.0.1:7500' / 'pgm://...' (ZeroMQ)",
    )
    s.add_argument("file", nargs="?", metavar="FILE", help="input (default: -, stdin)")
    s.add_argument(
        "--port", type=port_t, help="data-destination port (required unless GROUP has one)"
    )
    s.add_argument("--iface", metavar="X", help="interface name, address or index")
    s.add_argument(
        "--transport",
        choices=("raw", "udp"),
        help="raw IP protocol 113 (root/CAP_NET_RAW) or UDP encapsulation (default: raw, or "
        "what a pgm:// / epgm:// GROUP says)",
    )
    s.add_argument(
        "--rate",
        type=arg(number(0.001), "rate"),  # 1 bit/s at least (SourceConfig.rate_bps >= 1)
        metavar="KBITS",
        help="send rate in kbit/s, IP/UDP headers included (default: 10000)",
    )
    s.add_argument(
        "--window-ms",
        type=arg(number(0, lo_open=True), "window"),
        metavar="MS",
        help="how long sent data stays repairable, ms (default: 10000)",
    )
    s.add_argument(
        "--message-size",
        type=arg(int_range(1, 1 << 24), "size"),
        metavar="BYTES",
        help="bytes per message (default: the largest that fits "
        "one packet: 1456 raw, 1448 UDP over IPv4; 16 less with --late-join)",
    )
    s.add_argument(
        "--ttl",
        type=arg(int_range(0, 255), "ttl"),
        default=1,
        metavar="N",
        help="multicast TTL / hop limit (default: 1; 0 = this host only)",
    )
    s.add_argument(
        "--no-loop",
        action="store_true",
        help="no multicast loopback: receivers on this host do not hear the session",
    )
    s.add_argument(
        "--zmq",
        action="store_true",
        help="ZeroMQ framing (2-byte offset + ZMTP/1.0 frames, one packet per APDU) for "
        "ZeroMQ SUB sockets on pgm:// or epgm://; each message is one single-frame message",
    )
    s.add_argument(
        "--linger",
        type=arg(number(0), "linger"),
        metavar="S",
        help="seconds to keep answering NAKs after the end (default: the window)",
    )
    s.add_argument(
        "--late-join",
        type=arg(number(0, 75), "percent"),
        metavar="PCT",
        help="let receivers that join mid-session repair back over PCT %% of the window, "
        "0..75 (OPT_JOIN, Windows' RM_LATEJOIN; default: 0, off)",
    )
    _add_fec_options(s)
    s.add_argument("--json", action="store_true", help="print statistics as JSON on stdout")
    s.set_defaults(func=run)


def _add_fec_options(s: Any) -> None:
    """Reed–Solomon FEC, the fields of Windows' RM_FEC_INFO (docs/fec.md); receivers follow."""
    s.add_argument(
        "--fec-group",
        type=arg(int_range(2, 128), "group size"),
        metavar="K",
        help="FEC: data packets per transmission group, a power of two 2..128",
    )
    s.add_argument(
        "--fec-block",
        type=arg(int_range(3, 255), "block size"),
        default=255,
        metavar="N",
        help="FEC: largest group with its parity, K < N <= 255 (default: 255)",
    )
    s.add_argument(
        "--fec-proactive",
        type=arg(int_range(0, 253), "pro-active count"),
        default=0,
        metavar="H",
        help="FEC: parity packets sent unasked after every group (default: 0)",
    )
    s.add_argument(
        "--fec-ondemand",
        action="store_true",
        help="FEC: answer receivers' parity NAKs with parity packets",
    )


@dataclass(frozen=True)
class _Input:
    """The data to send: ``read(n)`` returns up to n bytes (b"" at the end)."""

    read: Callable[[int], bytes]
    total: int | None
    """Its size, when known (a regular file)."""
    close: Callable[[], None]
    interactive: bool = False
    """Standard input is a terminal: someone types the data (no progress line over it)."""


def open_input(path: str) -> _Input:
    """FILE or ``-`` (standard input); UsageError when it cannot be read."""
    if path == "-":
        fd = sys.stdin.fileno()
        st = os.fstat(fd)
        total = st.st_size if stat.S_ISREG(st.st_mode) else None

        # os.read returns what is there (a whole message under load, at once when trickling)
        def read_fd(n: int) -> bytes:
            return os.read(fd, n)

        return _Input(read_fd, total, lambda: None, os.isatty(fd))
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the returned callable
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(f.fileno())
    if stat.S_ISDIR(st.st_mode):
        f.close()
        raise UsageError(f"cannot read {path}: is a directory")
    total = st.st_size if stat.S_ISREG(st.st_mode) else None
    return _Input(f.read, total, f.close)


@dataclass(frozen=True)
class _Plan:
    """What the options asked for, checked."""

    cfg: SourceConfig
    msg_size: int
    iface: Interface
    data: _Input


def _plan(args: argparse.Namespace) -> _Plan:
    """Check the options; ValueError (ConfigError, InterfaceError) or UsageError if wrong."""
    group: IPv4Address | IPv6Address = args.group
    if args.fec_group is None and (args.fec_proactive or args.fec_ondemand):
        raise UsageError("--fec-proactive and --fec-ondemand need --fec-group K")
    fec = None
    if args.fec_group is not None:
        fec = (args.fec_group, args.fec_block, args.fec_proactive, args.fec_ondemand)
    cfg = build_source_config(
        rate_kbits=args.rate,
        window_ms=args.window_ms,
        group=group,
        transport=args.transport,
        fec=fec,
        late_join=args.late_join,
    )
    msg_size = args.message_size or cfg.max_message_tsdu
    if msg_size > cfg.max_apdu:
        raise UsageError(f"--message-size {msg_size} exceeds the maximum ({cfg.max_apdu})")
    iface = resolve_iface(args.iface, group)
    return _Plan(cfg, msg_size, iface, open_input(args.file))


_BATCH = 64
"""Messages of a regular file read and sent at once (:meth:`_Transfer.send_all`)."""
_BATCH_BYTES = 1 << 20
"""... and at most this many bytes of them."""


class _Transfer:
    """One session's transmission: the counters the progress line and the summary read."""

    def __init__(self, tx: PgmSender, total: int | None, linger: float) -> None:
        self.tx = tx
        self.total = total
        self.linger = linger
        self.start = _clock()
        self.nbytes = self.messages = 0
        self.lingering = False
        self.linger_from = 0.0
        self.duration = 0.0
        self.end = "fin"
        self.status = EXIT_OK
        self.quiet = False  # no progress line: say when lingering starts
        self.zmq: ZmtpEncoder | None = None  # --zmq: frame each message for ZeroMQ SUBs
        self._meter = RateMeter()

    def _send(self, chunks: list[bytes]) -> None:
        if self.zmq is None:
            self.tx.send_many(chunks)
        else:  # APDUs of one packet each: a ZeroMQ SUB aborts on fragmented ones
            self.tx.send_many(self.zmq.apdus([(c,) for c in chunks]))

    def render(self) -> str:
        st = self.tx.stats()
        sent = int(st["data_bytes_sent"])
        rate = self._meter.update(sent)
        tail = f"NAKs {st['naks_received']}  repairs {st['repair_packets_sent']}"
        if self.lingering:
            left = max(0.0, self.linger - (_clock() - self.linger_from))
            return f"sent {format_bytes(sent)}; lingering {left:.1f} s for repairs  {tail}"
        total = self.total
        done = f" / {format_bytes(total)} ({100 * sent / total:.0f}%)" if total else ""
        return f"sent {format_bytes(sent)}{done}  {format_rate(rate * 8)}  {tail}"

    def send_all(self, data: _Input, msg_size: int, linger: float | None) -> None:
        """Send every message, end the session and linger (``linger`` None: the default)."""
        tx = self.tx
        # A regular file is read a batch of messages at a time and handed over with one
        # send_many (one lock and one clock read per batch); a pipe or terminal one message
        # at a time, so what trickles in leaves at once.
        batch = max(1, min(_BATCH, _BATCH_BYTES // msg_size)) if data.total is not None else 1
        while True:
            block = data.read(msg_size * batch)
            if not block:
                break
            chunks = [block[i : i + msg_size] for i in range(0, len(block), msg_size)]
            self._send(chunks)
            self.nbytes += len(block)
            self.messages += len(chunks)
        tx.flush()
        self.duration = _clock() - self.start
        self.lingering = True
        self.linger_from = _clock()
        if self.quiet and self.linger > 0:
            err("send", f"lingering {self.linger:g} s for repairs (--linger)")
        tx.close(linger=linger)

    def run(self, data: _Input, msg_size: int, linger: float | None) -> None:
        """:meth:`send_all` under a progress line; interruptions and errors end it."""
        # never draw over what someone types on the terminal
        progress = ProgressLine(self.render, enabled=False if data.interactive else None)
        self.quiet = not progress.start().enabled
        try:
            self.send_all(data, msg_size, linger)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (pgm.cli.signals)
            if not self.lingering:
                self.duration = _clock() - self.start
                self.tx.abort()  # OPT_RST: receivers learn the data is incomplete
                self.end = "interrupted"
            else:
                self.end = "interrupted-linger"  # FIN was sent; repairs are no longer served
            self.status = interrupt_status(exc)
        except (OSError, RuntimeError) as exc:
            self.duration = _clock() - self.start
            self.tx.abort()
            progress.stop()
            err("send", f"{exc}")
            self.end, self.status = "error", EXIT_ERROR
        finally:
            progress.stop()
            data.close()


def run(args: argparse.Namespace) -> int:
    """Run ``pgm send``; the exit status."""
    from ..io import PgmSender  # not `from .. import io`: pgm.__getattr__ would load pgm.rm

    plan = setup("send", _plan, args)
    if isinstance(plan, int):
        return plan
    tx = open_endpoint(
        "send",
        args.transport,
        plan.iface.name,
        lambda: PgmSender(
            args.group,
            args.port,
            iface=plan.iface,
            transport=args.transport,
            config=plan.cfg,
            ttl=args.ttl,
            loop=not args.no_loop,
        ),
        plan.data.close,
    )
    if isinstance(tx, int):
        return tx
    gc.freeze()  # start-up's objects out of every later collection (docs/performance.md)
    linger = plan.cfg.effective_linger if args.linger is None else args.linger
    if plan.data.interactive:
        err("send", "reading standard input from the terminal, Ctrl-D to end")
    t = _Transfer(tx, plan.data.total, linger)
    msg_size = plan.msg_size
    if args.zmq:
        t.zmq = ZmtpEncoder(tx.max_tsdu)
        msg_size = args.message_size or zmq_message_size(tx.max_tsdu)
    t.run(plan.data, msg_size, args.linger)
    st = tx.stats()
    summary = sender_summary(
        # what went out as ODATA: all of it unless interrupted (the send buffer takes a lot)
        nbytes=int(st["data_bytes_sent"]),
        messages=t.messages,
        duration=t.duration,
        stats=st,
        tsi=tx.tsi,
        end=t.end,
        exit_status=t.status,
        group=str(args.group),
        port=args.port,
        transport=args.transport,
        interface=plan.iface.name,
        linger_s=linger,
        bytes_read=t.nbytes,
    )
    if t.end == "interrupted":
        err("send", f"{interrupt_word(t.status)}: session aborted (OPT_RST)")
    elif t.end == "interrupted-linger":
        err(
            "send",
            f"{interrupt_word(t.status)} while lingering: the session had ended, repairs stopped",
        )
    print(format_sender_stats(summary), file=sys.stderr)
    if args.json:
        json_dump(summary)
    return t.status
