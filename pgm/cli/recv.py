"""``pgm recv GROUP --port P`` — receive the first session heard and write its data in order.

Theory of operation: setup first (interfaces, the receiver configuration, the output), so usage
problems exit with status 2 before anything is joined. A :class:`~pgm.io.PgmReceiver` joins the
group; its events go, one at a time, to :class:`~pgm.cli.follow.FirstSession`, which follows
the first session that starts and hands back its messages (written to ``--out`` at once), its
loss reports (the first ten printed as they come) and its end. It prefers, rather than locks
onto, that session: other sessions are kept as candidates, and when the followed one fails as a
transfer (reset, expired, nothing delivered) a candidate complete from its start is followed
instead — the output is then rewound (``--out FILE``; standard output or a FIFO cannot be, and
the run then exits 3) and stderr says so. The final report names every other session heard,
with how to pin one (``--source`` / ``--tsi``; JSON ``other_sessions``). The loop waits for
events in slices of at most 0.5 s, so the ``--timeout`` wait for a first session (exit 4) is
checked while nothing arrives; a started session that falls silent for ``--timeout`` seconds is
ended by the engine's peer expiry. The end decides the status: OPT_FIN with every byte
delivered is 0; unrecoverable loss, OPT_RST or expiry is 3 (the message names the lost ranges),
and so is a session joined after its start — the engine's SessionInfo says what was missed
before the join point ("joined at sequence N; 0..N-1 not received") — unless
``--join-mid-stream`` says that is wanted (the summary and JSON ``joined`` still say where).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from ..net.zmtp import ZmtpDecoder, ZmtpError
from ..progress import ProgressLine, RateMeter, format_bytes, format_rate
from .args import (
    UsageError,
    arg,
    build_receiver_config,
    join_history,
    number,
    open_endpoint,
    parse_percent,
    resolve_iface,
    setup,
)
from .output import MESSAGE_MODES, Output, OutputError, frame_message
from .report import (
    EXIT_ERROR,
    EXIT_LOSS,
    EXIT_NO_SESSION,
    EXIT_OK,
    err,
    format_join,
    format_loss,
    format_other_sessions,
    format_receiver_stats,
    joined_at,
    json_dump,
    receiver_summary,
)
from .signals import interrupt_status, interrupt_word

if TYPE_CHECKING:
    from ..engine import ReceiverConfig
    from ..interfaces import Interface
    from ..io import PgmReceiver
    from .follow import FirstSession, Step, Switch

__all__ = ["add_parser", "open_output", "run"]

_clock = time.monotonic
_SHOWN_LOSSES = 10  # loss reports printed as they come; the rest in the final message


def add_parser(sub: Any, group_t: Callable[[str], Any], port_t: Callable[[str], Any]) -> None:
    """Add ``recv`` to the subcommands (``sub``: argparse's subparsers action)."""
    r = sub.add_parser(
        "recv",
        help="receive the first PGM session heard and write its data",
        description="Receive the first session heard on GROUP and port, write its data in "
        "order, exit when it ends.  Exit status: 0 complete, 3 incomplete (loss, RST, "
        "expiry, or joined after the session's start), 4 no session within --timeout.",
    )
    r.add_argument(
        "group",
        type=group_t,
        metavar="GROUP",
        help="multicast group; also 'eth0;239.192.0.1' (OpenPGM) or "
        "'epgm://eth0;239.192.0.1:7500' / 'pgm://...' (ZeroMQ)",
    )
    r.add_argument(
        "--port", type=port_t, help="data-destination port (required unless GROUP has one)"
    )
    r.add_argument(
        "--iface",
        action="append",
        metavar="X",
        help="interface to join on (repeat for several; default: the first non-loopback one)",
    )
    r.add_argument(
        "--transport",
        choices=("raw", "udp"),
        help="raw IP protocol 113 (root/CAP_NET_RAW) or UDP encapsulation (default: raw, or "
        "what a pgm:// / epgm:// GROUP says)",
    )
    r.add_argument(
        "--out",
        metavar="FILE",
        help="output file, replaced once data arrives (default: standard output unless it is "
        "a terminal; - for standard output anyway)",
    )
    _add_stream_options(r)
    r.add_argument(
        "--timeout",
        type=arg(number(0, lo_open=True), "timeout"),
        metavar="S",
        help="wait at most S seconds for a session to start, and end a started "
        "session silent for S seconds (default: wait forever; expiry 300 s)",
    )
    r.add_argument(
        "--loss",
        type=arg(parse_percent, "percent"),
        metavar="PERCENT",
        help="simulated loss: drop this percentage of data packets (testing)",
    )
    r.add_argument(
        "--join-mid-stream",
        action="store_true",
        help="joining a session already under way is what is wanted: exit 0 with the data "
        "from where it joined (the summary still says where; default: exit 3)",
    )
    r.add_argument(
        "--join-history",
        type=arg(join_history, "history"),
        metavar="all|none|N",
        help="when the sender offers late join (--late-join), ask for all it offers, none, "
        "or at most N packets before the first one heard (default: all)",
    )
    _add_session_options(r)
    r.add_argument(
        "--json", action="store_true", help="print statistics as JSON on stdout (needs --out FILE)"
    )
    r.set_defaults(func=run)


def _add_session_options(r: Any) -> None:
    """Which session is followed and how its packets are checked: --source, --tsi,
    --no-verify."""
    r.add_argument(
        "--source",
        metavar="ADDR",
        help="follow only a session from this source address; others are never started "
        "(default: the first session heard; others heard are named; docs/security.md)",
    )
    r.add_argument(
        "--tsi", metavar="TSI", help="follow only this session (TSI as printed: G.S.I.D.P.Q.PORT)"
    )
    r.add_argument(
        "--no-verify",
        action="store_true",
        help="UDP only: do not verify PGM checksums (the kernel checked the UDP checksum over "
        "the same bytes); faster, docs/performance.md",
    )


def _add_stream_options(r: Any) -> None:
    """How messages are written, and for how long: --per-message, --keep-going, --zmq."""
    r.add_argument(
        "--per-message",
        choices=MESSAGE_MODES,
        help="write each message framed: 'length' (4-byte big-endian length first) or 'line' "
        "(a newline after it); default: the bytes back to back",
    )
    r.add_argument(
        "--keep-going",
        action="store_true",
        help="do not stop after the first session: follow every session, one after another "
        "and side by side, until Ctrl-C / SIGTERM (then exit 0, or 3 if any lost data)",
    )
    r.add_argument(
        "--zmq",
        action="store_true",
        help="ZeroMQ framing: decode the 2-byte offset + ZMTP/1.0 frames a ZeroMQ PUB sends "
        "(pgm:// or epgm://) and write each message's frames",
    )


def open_output(path: str | None, in_place: bool = False) -> Output:
    """FILE, ``-`` or None (standard output), opened at the first write (pgm.cli.output);
    UsageError when it cannot be written."""
    try:
        return Output(path, in_place=in_place)
    except OutputError as exc:
        raise UsageError(str(exc)) from None


@dataclass(frozen=True)
class _Plan:
    """What the options asked for, checked."""

    ifaces: list[Interface]
    cfg: ReceiverConfig
    out: Output


def _plan(args: argparse.Namespace) -> _Plan:
    """Check the options; ValueError (ConfigError, InterfaceError) or UsageError if wrong."""
    group: IPv4Address | IPv6Address = args.group
    if args.json and args.out in (None, "-"):
        raise UsageError("--json prints to stdout, which carries the data: add --out FILE")
    if args.no_verify and args.transport != "udp":
        raise UsageError("--no-verify is for --transport udp: over raw IP nothing else checks")
    ifaces = [resolve_iface(s, group) for s in (args.iface or [None])]
    cfg = build_receiver_config(
        timeout=args.timeout,
        history=args.join_history,
        source=args.source,
        tsi=args.tsi,
        verify=not args.no_verify,
    )
    return _Plan(ifaces, cfg, open_output(args.out, in_place=args.keep_going))


class _Receive:
    """The receive loop: the followed session's data to ``out``, and how it ended."""

    def __init__(self, args: argparse.Namespace, rx: PgmReceiver, out: Output) -> None:
        from .follow import FirstSession

        self.args = args
        self.rx = rx
        self.out = out
        self.follow: FirstSession = FirstSession()
        self.end = "?"
        self.status = EXIT_OK
        self._shown_losses = 0
        self._meter = RateMeter()
        self.progress = ProgressLine(self.render)
        self.zmq: ZmtpDecoder | None = ZmtpDecoder() if args.zmq else None
        self.zmq_errors = 0
        self.mixed: str | None = None
        """Why the output holds data of a session given up (it could not be rewound)."""

    def _write(self, m: bytes) -> None:
        mode = self.args.per_message
        if self.zmq is None:
            self.out.write(frame_message(m, mode))
            return
        try:
            msgs = self.zmq.feed(m)
        except ZmtpError as exc:
            self.zmq_errors += 1
            self.progress.message(f"pgm recv: not ZeroMQ framing ({exc}): message dropped")
            return
        for frames in msgs:
            self.out.write(frame_message(b"".join(frames), mode))

    def session_stats(self, st: dict[str, Any] | None = None) -> dict[str, Any]:
        """The followed session's entry of the receiver's statistics ``st`` (default: now)."""
        tsi = self.follow.tsi
        st = st if st is not None else self.rx.stats()
        sessions: dict[str, Any] = st["sessions"]
        return dict(sessions.get(str(tsi), {})) if tsi is not None else {}

    def render(self) -> str:
        f = self.follow
        if f.tsi is None:
            return f"waiting for a session on {self.args.group} port {self.args.port} ..."
        ss = self.session_stats()
        rate = self._meter.update(f.nbytes)
        lost = f"  lost {f.lost_packets}" if f.loss_events else ""
        return (
            f"received {format_bytes(f.nbytes)}  {format_rate(rate * 8)}  "
            f"NAKs {ss.get('selective_naks_sent', 0)}  "
            f"repairs {ss.get('rdata_packets_received', 0)}{lost}"
        )

    def _switch(self, sw: Switch) -> None:
        """The followed session failed; another is followed from its start: start over."""
        written = self.out.written
        self.progress.message("pgm recv: " + sw.text())
        if not self.out.rewind():
            self.mixed = (
                f"the output holds {written} bytes of session {sw.failed} (given up: it "
                f"{sw.why}) before session {sw.now}'s data, and standard output or a FIFO "
                "cannot be taken back (use --out FILE)"
            )
            self.progress.message("pgm recv: " + self.mixed)
        self.zmq = ZmtpDecoder() if self.args.zmq else None
        self._shown_losses = 0

    def other_sessions(self) -> list[dict[str, Any]]:
        """The sessions heard and not followed, as the JSON ``other_sessions`` lists them."""
        f = self.follow
        return [
            {
                "tsi": str(h.tsi),
                "source": str(h.source),
                "messages": h.messages,
                "bytes": h.nbytes,
                "end": h.end,
                "abandoned": f.abandoned.get(h.tsi),
            }
            for h in f.others
        ]

    def _take(self, step: Step) -> bool:
        """Act on one step; True once the session ended."""
        if step.switched is not None:
            self._switch(step.switched)
        for m in step.messages:
            self._write(m)
        for rec in step.losses:
            if self.zmq is not None:
                self.zmq.lost()  # the message in progress is incomplete: wait for the next
            if self._shown_losses < _SHOWN_LOSSES:
                text = format_loss(self.follow.tsi, [(rec.first, rec.last)])
                self.progress.message("pgm recv: " + text)
                self._shown_losses += 1
                if self._shown_losses == _SHOWN_LOSSES:
                    self.progress.message("pgm recv: (further loss reports at the end)")
        if step.skipped is not None:
            self.progress.message(
                f"pgm recv: ignoring session {step.skipped}: it had already ended when "
                "first heard (its FIN, from an earlier transfer)"
            )
        if step.end is None:
            return False
        self.end = step.end.reason.value
        return True

    def _loop(self, wait_until: float | None) -> None:
        from ..engine import SessionStarted

        rx = self.rx
        while True:
            batch = rx.next_events(0)  # what is queued: one lock round-trip per batch
            if not batch:
                self.out.flush()  # one writev for everything the last batches delivered
                now = _clock()
                if self.follow.tsi is None and wait_until is not None:
                    if now >= wait_until:
                        self.end, self.status = "no-session", EXIT_NO_SESSION
                        return
                    batch = rx.next_events(min(0.5, wait_until - now))
                else:
                    batch = rx.next_events(0.5)
            for e in batch:
                if (
                    type(e) is SessionStarted
                    and self.follow.tsi is not None
                    and e.tsi != self.follow.tsi
                ):
                    self.progress.message(  # say what happened (docs/security.md)
                        f"pgm recv: also heard session {e.tsi} from {e.source}, kept in "
                        f"reserve (following {self.follow.tsi}; --source / --tsi choose)"
                    )
                if self._take(self.follow.feed(e)):
                    return

    def run(self, wait_until: float | None) -> None:
        """Receive until the session ends, the wait for one runs out, or something fails."""
        self.progress.start()
        try:
            self._loop(wait_until)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (pgm.cli.signals)
            self.end, self.status = "interrupted", interrupt_status(exc)
        except BrokenPipeError:
            self.end, self.status = "output-closed", EXIT_ERROR
            # stdout is gone: keep the interpreter from complaining when it flushes it at exit
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, RuntimeError) as exc:
            self.end, self.status = "error", EXIT_ERROR
            self.progress.stop()
            err("recv", str(exc))
        finally:
            self.progress.stop()
            self.rx.close()
        if not self.follow.ended_at:
            self.follow.ended_at = _clock()

    def close_output(self) -> None:
        """Finish ``--out``: FILE is replaced only if data arrived (or an empty session ended
        well); a failure to write it out is an error, exit 1."""
        try:
            self.out.finish(keep_empty=self.status == EXIT_OK and self.end == "fin")
        except OSError as exc:
            err("recv", f"cannot write {self.args.out}: {exc}")
            self.status = self.status or EXIT_ERROR


def _no_session_text(r: _Receive) -> str:
    """Why exit 4: nothing on the port — and whether packets for other ports were heard."""
    args = r.args
    text = f"no session on {args.group} port {args.port} within {args.timeout:g} s"
    other = int(r.rx.stats()["receiver"].get("wrong_port", 0))
    if other:
        text += (
            f"; heard {other} PGM packet{'s' if other != 1 else ''} for other ports "
            "(is --port the sender's?)"
        )
    if not r.out.is_stdout:
        text += f"; {args.out} left as it was"
    return text


def _judge(r: _Receive, cfg: ReceiverConfig) -> int:
    """The exit status from how the session ended, with the message that explains it."""
    f, end, status = r.follow, r.end, r.status
    tsi, ranges = f.tsi, f.lost_ranges
    if status == EXIT_OK:
        if end == "fin" and ranges:
            status = EXIT_LOSS
            err("recv", format_loss(tsi, ranges))
        elif end == "rst":
            status = EXIT_LOSS
            err("recv", f"session {tsi} aborted by its source (OPT_RST): data incomplete")
            if ranges:
                err("recv", format_loss(tsi, ranges))
        elif end == "expired":
            status = EXIT_LOSS
            err(
                "recv",
                f"session {tsi} silent for {cfg.peer_expiry:g} s without ending (no OPT_FIN): "
                "data incomplete",
            )
            if ranges:
                err("recv", format_loss(tsi, ranges))
        status = _judge_join(r, status)
        if r.mixed is not None:
            err("recv", r.mixed)
            status = EXIT_LOSS
    elif status == EXIT_NO_SESSION:
        err("recv", _no_session_text(r))
    elif end == "interrupted":
        err("recv", interrupt_word(status))
    elif end == "output-closed":
        err("recv", "output closed")
    return status


def _judge_join(r: _Receive, status: int) -> int:
    """A session joined after its start (the source's trailing edge showed earlier data, no
    OPT_SYN): exit 3 naming what was missed, unless ``--join-mid-stream`` wants just that."""
    text = format_join(r.session_stats())
    if text is None:
        return status
    if r.args.join_mid_stream:
        err("recv", f"note: session {r.follow.tsi} {text} (--join-mid-stream)")
        return status
    err("recv", f"session {r.follow.tsi} {text}: data incomplete")
    return EXIT_LOSS


def run(args: argparse.Namespace) -> int:
    """Run ``pgm recv``; the exit status."""
    from .. import io

    plan = setup("recv", _plan, args)
    if isinstance(plan, int):
        return plan
    rx = open_endpoint(
        "recv",
        args.transport,
        ", ".join(i.name for i in plan.ifaces),
        lambda: io.PgmReceiver(
            args.group,
            args.port,
            ifaces=plan.ifaces,
            transport=args.transport,
            config=plan.cfg,
            loss=args.loss or 0.0,
        ),
        lambda: None,
    )
    if isinstance(rx, int):
        return rx
    if rx.transport.buffer_warning:
        err("recv", f"note: {rx.transport.buffer_warning}")
    gc.freeze()  # start-up's objects out of every later collection (docs/performance.md)
    if args.keep_going:
        from .recv_all import run_all

        return run_all(args, rx, plan.out)
    r = _Receive(args, rx, plan.out)
    r.run(None if args.timeout is None else _clock() + args.timeout)
    r.close_output()
    status = _judge(r, plan.cfg)
    f = r.follow
    st = rx.stats()
    summary = receiver_summary(
        nbytes=f.nbytes,
        messages=f.messages,
        duration=(f.ended_at - f.started_at) if f.tsi is not None else 0.0,
        session_stats=r.session_stats(st),
        stats=st,
        lost_ranges=f.lost_ranges,
        loss_events=f.loss_events,
        tsi=f.tsi,
        source=f.source,
        end=r.end,
        exit_status=status,
        group=str(args.group),
        port=args.port,
        transport=args.transport,
        interfaces=[i.name for i in plan.ifaces],
        joined=joined_at(r.session_stats(st)),
        other_sessions=r.other_sessions(),
    )
    for line in format_other_sessions(summary["other_sessions"], f.unlisted):
        err("recv", line)
    if status != EXIT_NO_SESSION:
        print(format_receiver_stats(summary), file=sys.stderr)
    if args.json:
        json_dump(summary)
    return status
