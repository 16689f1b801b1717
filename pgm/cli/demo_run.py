"""The demo's processes: one source and N receivers on this machine, and their supervisor.

Theory of operation: every peer is a separate process (``multiprocessing``, spawn), so the
demo exercises real sockets and the kernel's multicast loopback, not shortcuts inside one
interpreter.  The peers report on one queue as ``(kind, index, payload)`` tuples — index -1 is
the source, 0..N-1 the receivers — with kind ``ready``, ``progress``, ``done`` or ``error``.

1. The receivers start first; each joins the group (with simulated loss) and reports ``ready``.
2. When all are ready the supervisor starts the source, which sends the seeded random data
   (TTL 0: nothing leaves the host), ends the session with OPT_FIN and lingers answering NAKs.
3. Each receiver follows the first session (:class:`~pgm.cli.follow.FirstSession`), hashes what
   it delivers and reports ``done`` with its SHA-256 and statistics when the session ends.
4. Once every receiver is done, the supervisor sets ``all_done`` and the source stops
   lingering early and reports ``done``.  A peer that fails reports ``error``; one that dies
   without a result is noticed after a 2 s grace period; an overall time budget bounds the run.

The supervisor shows a progress line meanwhile and returns a :class:`DemoOutcome`; checking the
digests and printing the results is the command's job (:mod:`pgm.cli.demo`).
"""

from __future__ import annotations

import hashlib
import queue as queue_mod
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..progress import ProgressLine, RateMeter, format_bytes, format_rate
from .report import EXIT_OK
from .signals import interrupt_status, interrupt_word

__all__ = ["DemoOutcome", "DemoPlan", "demo_data", "run_demo"]

_clock = time.monotonic
_SOURCE = -1  # the source's index in queue messages
_REPORT_EVERY = 0.2  # seconds between progress reports
_RECEIVER_EXPIRY = 10.0  # a receiver's peer expiry (a stalled source ends the run)
_RECEIVER_WAIT = 60.0  # how long a receiver waits for the session to start
_READY_WAIT = 60.0  # how long the supervisor waits for every receiver to be ready
_DEAD_GRACE = 2.0  # seconds a dead process's last messages get to arrive


def demo_data(size: int, seed: int) -> bytes:
    """The demo's data: ``size`` random bytes from ``seed``."""
    rng, chunk = random.Random(seed), 1 << 26  # randbytes of 256 MiB and more overflows
    return b"".join(rng.randbytes(min(chunk, size - i)) for i in range(0, size, chunk))


@dataclass(frozen=True)
class DemoPlan:
    """Everything the demo's processes need (plain values: they cross process boundaries)."""

    group: str
    port: int
    iface: str
    """The interface's name."""
    transport: str
    """``raw`` or ``udp``."""
    size: int
    seed: int
    rate_bps: int
    message_size: int
    linger: float
    """Longest the source lingers for the receivers to finish."""
    receivers: int
    loss: float
    """Simulated loss per receiver, a fraction."""


@dataclass
class DemoOutcome:
    """What the processes reported."""

    source: dict[str, Any] | None = None
    """The source's ``done`` payload (None: it did not finish)."""
    receivers: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Each finished receiver's ``done`` payload, by index."""
    errors: list[str] = field(default_factory=list)
    """What went wrong, one sentence each."""
    status: int = EXIT_OK
    """130 after Ctrl-C, 143 after SIGTERM (pgm.cli.signals), else EXIT_OK."""


# -- the peers (each in its own process) ---------------------------------------------------------


def _session_stats(rx: Any, tsi: object) -> dict[str, Any]:
    return dict(rx.stats()["sessions"].get(str(tsi), {}))


def receiver_process(idx: int, plan: DemoPlan, queue: Any) -> None:
    """One demo receiver: report ready, progress and a result."""
    from ..engine import ReceiverConfig
    from ..io import PgmReceiver
    from .follow import FirstSession

    try:
        # No multicast SPMR (TTL 1): everything a receiver sends is unicast to the source here.
        cfg = ReceiverConfig(spmr_multicast=False, peer_expiry=_RECEIVER_EXPIRY)
        rx = PgmReceiver(
            plan.group,
            plan.port,
            ifaces=plan.iface,
            transport=plan.transport,
            config=cfg,
            loss=plan.loss,
        )
    except BaseException as exc:
        queue.put(("error", idx, f"{type(exc).__name__}: {exc}"))
        return
    queue.put(("ready", idx, rx.transport.buffer_warning))
    h = hashlib.sha256()
    follow = FirstSession()
    end = "no-session"
    deadline = _clock() + _RECEIVER_WAIT
    next_report = 0.0
    try:
        while True:
            now = _clock()
            if now >= next_report and follow.tsi is not None:
                ss = _session_stats(rx, follow.tsi)
                progress = {
                    "bytes": follow.nbytes,
                    "naks": ss.get("selective_naks_sent", 0),
                    "repairs": ss.get("rdata_packets_received", 0),
                }
                queue.put(("progress", idx, progress))
                next_report = now + _REPORT_EVERY
            if follow.tsi is None and now >= deadline:
                break
            e = rx.next_event(_REPORT_EVERY)
            if e is None:
                continue
            step = follow.feed(e)
            for m in step.messages:
                h.update(m)
            if step.end is not None:
                end = step.end.reason.value
                break
        ss = _session_stats(rx, follow.tsi)
        result = {
            "bytes": follow.nbytes,
            "messages": follow.messages,
            "duration_s": (follow.ended_at or _clock()) - follow.started_at
            if follow.tsi is not None
            else 0.0,
            "naks_sent": ss.get("selective_naks_sent", 0),
            "repairs_received": ss.get("rdata_packets_received", 0),
            "loss_events": follow.loss_events,
            "lost_packets": follow.lost_packets,
            "simulated_drops": rx.simulated_drops,
            "sha256": h.hexdigest(),
            "end": end,
        }
        queue.put(("done", idx, result))
    except BaseException as exc:
        queue.put(("error", idx, f"{type(exc).__name__}: {exc}"))
    finally:
        rx.close()


def sender_process(plan: DemoPlan, queue: Any, all_done: Any) -> None:
    """The demo source: send, FIN, linger until every receiver is done (or ``plan.linger``
    passes), report."""
    from ..engine import SourceConfig
    from ..io import PgmSender

    try:
        data = demo_data(plan.size, plan.seed)
        cfg = SourceConfig(rate_bps=plan.rate_bps)
        # TTL 0: the kernel loops the packets back to this host's receivers and sends nothing
        # on the wire.
        tx = PgmSender(
            plan.group, plan.port, iface=plan.iface, transport=plan.transport, config=cfg, ttl=0
        )
    except BaseException as exc:
        queue.put(("error", _SOURCE, f"{type(exc).__name__}: {exc}"))
        return
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(_REPORT_EVERY):
            st = tx.stats()
            progress = {
                "bytes": st["data_bytes_sent"],
                "naks": st["naks_received"],
                "repairs": st["repair_packets_sent"],
            }
            queue.put(("progress", _SOURCE, progress))

    threading.Thread(target=report, daemon=True).start()
    try:
        t0 = _clock()
        messages = 0
        view = memoryview(data)
        for off in range(0, plan.size, plan.message_size):
            tx.send(bytes(view[off : off + plan.message_size]))
            messages += 1
        tx.flush()
        duration = _clock() - t0
        # close() lingers answering NAKs; once every receiver has finished, nobody needs
        # repairs any more, so we stop waiting (the process ends with the session lingering).
        closer = threading.Thread(target=tx.close, kwargs={"linger": plan.linger}, daemon=True)
        closer.start()
        while closer.is_alive() and not all_done.wait(0.05):
            pass
        stop.set()
        st = tx.stats()
        result = {
            "bytes": plan.size,
            "messages": messages,
            "duration_s": duration,
            "naks_received": st["naks_received"],
            "repairs_sent": st["repair_packets_sent"],
            "tx_errors": st.get("tx_errors", 0),
        }
        queue.put(("done", _SOURCE, result))
    except BaseException as exc:
        stop.set()
        queue.put(("error", _SOURCE, f"{type(exc).__name__}: {exc}"))
        tx.abort()


# -- the supervisor --------------------------------------------------------------------------------


class _Supervisor:
    """Starts the processes, follows their reports, ends them (see the module docstring)."""

    def __init__(self, plan: DemoPlan) -> None:
        import multiprocessing

        self.plan = plan
        self.progress = ProgressLine(self.render)
        self.ctx = multiprocessing.get_context("spawn")
        self.queue: Any = self.ctx.Queue()
        self.all_done = self.ctx.Event()
        self.rx_procs = [
            self.ctx.Process(
                target=receiver_process,
                args=(i, plan, self.queue),
                name=f"pgm-demo-rx{i + 1}",
                daemon=True,
            )
            for i in range(plan.receivers)
        ]
        self.tx_proc: Any = None
        self.out = DemoOutcome()
        self.rx_prog: dict[int, dict[str, Any]] = {}
        self.tx_prog: dict[str, Any] = {}
        self.ready = 0
        self.started = 0.0
        self.deadline = _clock() + _READY_WAIT
        self._dead_since = 0.0
        self._meter = RateMeter()

    def render(self) -> str:
        plan, results = self.plan, self.out.receivers
        if not self.started:
            return f"starting {plan.receivers} receivers ..."
        sent = int(self.tx_prog.get("bytes", 0))
        rate = self._meter.update(sent)
        pcts = " ".join(
            "done"
            if i in results
            else f"{100 * int(self.rx_prog.get(i, {}).get('bytes', 0)) // max(1, plan.size)}%"
            for i in range(plan.receivers)
        )
        return (
            f"sent {format_bytes(sent)}/{format_bytes(plan.size)} {format_rate(rate * 8)} "
            f"NAKs {self.tx_prog.get('naks', 0)} repairs {self.tx_prog.get('repairs', 0)} "
            f"| rx {pcts}"
        )

    def _start_source(self) -> None:
        self.tx_proc = self.ctx.Process(
            target=sender_process,
            args=(self.plan, self.queue, self.all_done),
            name="pgm-demo-tx",
            daemon=True,
        )
        self.tx_proc.start()
        self.started = _clock()
        plan = self.plan
        budget = plan.size * 8 / plan.rate_bps * 3 + 30 + plan.linger
        self.deadline = _clock() + budget

    def _dead_without_result(self) -> bool:
        """True once a process died without a result and its grace period passed."""
        results = self.out.receivers
        peers = [
            *((f"receiver {i + 1}", p, i in results) for i, p in enumerate(self.rx_procs)),
            ("the source", self.tx_proc, self.out.source is not None),
        ]
        dead = [name for name, p, have in peers if p is not None and not have and not p.is_alive()]
        if not dead:
            self._dead_since = 0.0
        elif not self._dead_since:
            self._dead_since = _clock()
        elif _clock() - self._dead_since > _DEAD_GRACE:
            self.out.errors.extend(f"{name}: process ended without a result" for name in dead)
            return True
        return False

    def _on_message(self, kind: str, idx: int, payload: Any) -> bool:
        """Act on one report; True when the run is over."""
        out = self.out
        if kind == "error":
            who = "source" if idx < 0 else f"receiver {idx + 1}"
            out.errors.append(f"{who}: {payload}")
            return True
        if kind == "ready":
            self.ready += 1
            if payload and idx == 0:
                self.progress.message(f"pgm demo: note: {payload}")
            if self.ready == self.plan.receivers:
                self._start_source()
        elif kind == "progress":
            if idx < 0:
                self.tx_prog = payload
            else:
                self.rx_prog[idx] = payload
        elif kind == "done":
            if idx < 0:
                out.source = payload
            else:
                out.receivers[idx] = payload
                if len(out.receivers) == self.plan.receivers:
                    self.all_done.set()
            if out.source is not None and len(out.receivers) == self.plan.receivers:
                return True
        return False

    def run(self) -> DemoOutcome:
        for p in self.rx_procs:
            p.start()
        self.progress.start()
        try:
            while True:
                if _clock() > self.deadline:
                    self.out.errors.append("timed out")
                    break
                try:
                    kind, idx, payload = self.queue.get(timeout=0.2)
                except queue_mod.Empty:
                    if self._dead_without_result():
                        break
                    continue
                if self._on_message(kind, idx, payload):
                    break
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (pgm.cli.signals)
            self.out.status = interrupt_status(exc)
            self.out.errors.append(interrupt_word(self.out.status))
        finally:
            self.progress.stop()
            self._end()
        return self.out

    def _end(self) -> None:
        self.all_done.set()
        # interrupted (SIGTERM reaches only this process, Ctrl-C the whole group): stop at once
        grace = 3.0 if self.out.status == EXIT_OK else 0.0
        for p in [*self.rx_procs, *([self.tx_proc] if self.tx_proc else [])]:
            p.join(timeout=grace)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)


def run_demo(plan: DemoPlan) -> DemoOutcome:
    """Run the demo's processes to the end, with a progress line on a terminal."""
    return _Supervisor(plan).run()
