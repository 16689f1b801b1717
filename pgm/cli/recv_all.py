"""``pgm recv --keep-going`` — a long-running receiver, like OpenPGM's ``pgmrecv``.

Theory of operation: where plain ``pgm recv`` follows the first session and exits when it ends,
this loop takes every engine event of the :class:`~pgm.io.PgmReceiver` and never stops on its
own: sessions one after another and several sources side by side.  Each message is written as
it arrives (``--per-message length|line`` frames it so a reader can split the stream; with
``--zmq`` each source's APDUs go through its own :class:`~pgm.net.zmtp.ZmtpDecoder`).  Session
starts and ends and unrecoverable loss are told on stderr as they happen.  Ctrl-C or SIGTERM
(:mod:`pgm.cli.signals`) is the normal end: the output is finished and the exit status is 0, or
3 if some session lost data for good; 1 when the output or the socket failed.  The per-session
table is bounded by the engine's own session cap (entries go when their session ends).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine import DataReceived, SessionEnded, SessionStarted, UnrecoverableLoss
from ..net.zmtp import ZmtpDecoder, ZmtpError
from .output import Output, frame_message
from .report import EXIT_ERROR, EXIT_LOSS, EXIT_OK, err, format_loss, json_dump

if TYPE_CHECKING:
    from ..io import PgmReceiver

__all__ = ["KeepGoing", "run_all"]


@dataclass
class _Session:
    """What is kept of one live session."""

    source: str
    nbytes: int = 0
    messages: int = 0
    lost: int = 0
    zmq: ZmtpDecoder | None = None


@dataclass
class KeepGoing:
    """The loop's state: live sessions and the totals the final line reports."""

    args: argparse.Namespace
    out: Output
    live: dict[Any, _Session] = field(default_factory=dict)
    sessions: int = 0
    nbytes: int = 0
    messages: int = 0
    lost_packets: int = 0
    zmq_errors: int = 0
    ended: list[dict[str, Any]] = field(default_factory=list)

    def _say(self, text: str) -> None:
        err("recv", text)

    def _write(self, s: _Session, data: bytes) -> None:
        mode = self.args.per_message
        if s.zmq is None:
            msgs = [data]
        else:
            try:
                msgs = [b"".join(frames) for frames in s.zmq.feed(data)]
            except ZmtpError as exc:
                self.zmq_errors += 1
                self._say(f"not ZeroMQ framing ({exc}): message dropped")
                return
        for m in msgs:
            self.out.write(frame_message(m, mode))
            s.nbytes += len(m)
            s.messages += 1
            self.nbytes += len(m)
            self.messages += 1

    def feed(self, e: Any) -> None:
        """Act on one engine event."""
        t = type(e)
        if t is DataReceived:
            s = self.live.get(e.tsi)
            if s is None:  # data before its start cannot happen; be safe anyway
                s = self.live[e.tsi] = _Session("?", zmq=self._decoder())
            self._write(s, e.data)
        elif t is SessionStarted:
            self.sessions += 1
            self.live[e.tsi] = _Session(str(e.source), zmq=self._decoder())
            self._say(f"session {e.tsi} from {e.source} started")
        elif t is UnrecoverableLoss:
            s = self.live.get(e.tsi)
            if s is not None:
                s.lost += e.count
                if s.zmq is not None:
                    s.zmq.lost()
            self.lost_packets += e.count
            self._say(format_loss(e.tsi, [(e.first, e.last)]))
        elif t is SessionEnded:
            self._end(e)

    def _decoder(self) -> ZmtpDecoder | None:
        return ZmtpDecoder() if self.args.zmq else None

    def _end(self, e: SessionEnded) -> None:
        s = self.live.pop(e.tsi, None) or _Session("?")
        self.out.flush()
        lost = f", {s.lost} packets lost" if s.lost else ""
        self._say(
            f"session {e.tsi} from {s.source} ended ({e.reason}): {s.nbytes} bytes in "
            f"{s.messages} messages{lost}"
        )
        self.ended.append(
            {
                "tsi": str(e.tsi),
                "source": s.source,
                "end": str(e.reason),
                "bytes": s.nbytes,
                "messages": s.messages,
                "lost_packets": s.lost,
            }
        )
        del self.ended[:-1000]  # bounded: the last thousand for --json

    def summary(self, status: int) -> dict[str, Any]:
        """The ``--json`` object at the end."""
        a = self.args
        return {
            "command": "recv",
            "mode": "keep-going",
            "group": str(a.group),
            "port": a.port,
            "transport": a.transport,
            "sessions": self.sessions,
            "bytes": self.nbytes,
            "messages": self.messages,
            "lost_packets": self.lost_packets,
            "zmq_errors": self.zmq_errors,
            "ended_sessions": self.ended,
            "exit_status": status,
        }


def run_all(args: argparse.Namespace, rx: PgmReceiver, out: Output) -> int:
    """Receive until interrupted; the exit status (see the module docstring)."""
    k = KeepGoing(args, out)
    status = EXIT_OK
    try:
        while True:
            for e in rx.next_events(0.5):
                k.feed(e)
            out.flush()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the normal end of a long-running receiver
        pass
    except BrokenPipeError:
        status = EXIT_ERROR
        # stdout is gone: keep the interpreter from complaining when it flushes it at exit
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, RuntimeError) as exc:
        err("recv", str(exc))
        status = EXIT_ERROR
    finally:
        rx.close()
    try:
        out.finish(keep_empty=False)
    except OSError as exc:
        err("recv", f"cannot write {args.out}: {exc}")
        status = status or EXIT_ERROR
    if status == EXIT_OK and k.lost_packets:
        status = EXIT_LOSS
    err(
        "recv",
        f"{k.sessions} sessions, {k.nbytes} bytes in {k.messages} messages, "
        f"{k.lost_packets} packets lost",
    )
    if args.json:
        json_dump(k.summary(status))
    return status
