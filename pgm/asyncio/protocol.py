"""The engine on an asyncio event loop: one reader, one timer, a flush after every input.

Theory of operation
-------------------
An :class:`EngineProtocol` holds a sans-I/O engine by composition, through the same
:class:`~pgm.driver.EngineDriver` the reactor threads (:mod:`pgm.io`) and the simulator use,
and a transport (:class:`~pgm.net.transport.DatagramTransport`: raw IP or UDP, or a wrapper).
Raw sockets cannot go through ``create_datagram_endpoint``, so for both transports the protocol
registers ``loop.add_reader`` on the transport's descriptor: one code path serves raw and UDP.

Three things drive the engine, and each ends the same way:

* **readable** — the loop calls :meth:`EngineProtocol._readable`: the socket's batch
  (``recv_batch``) goes through :meth:`EngineDriver.step` (feed, due timers, flush, events);
* **timer** — one ``loop.call_at`` handle at the engine's deadline runs the step with no input;
* **API call** — the owner calls the engine (``send``, ``close``...), then :meth:`service`:
  flush and drain at once, in the caller's task.

After each, :meth:`_rearm` takes the deadline *from the engine* (``next_timer()``) and moves
the one timer there — cancelled and re-scheduled only when the deadline changed — so timers
never drift and never pile up.  The time is ``loop.time()`` (``time.monotonic()`` on the
standard loops, the clock the threaded API uses).

Precision: the standard selectors sleep in whole milliseconds (epoll rounds a timeout *up*), and
the source's token bucket holds only ``burst_secs`` (1 ms) of tokens, so a timer firing up to
1 ms late would cost rate.  A *precise* protocol (a source's) therefore arms the handle
:data:`TIMER_SLACK` before the deadline and, if it fires early, yields to the loop
(``call_soon``, I/O still served) until the deadline is reached; the step runs at the deadline,
never before.  A receiver's timers (NAK back-off, SPMR, expiry: tens of milliseconds) do not
need it and sleep to the deadline without yielding (up to a millisecond late).  A loop whose
sleeps are exact (the tests' virtual-time loop) sets ``pgm_timer_slack = 0`` on itself.  And a
timer step runs at least :data:`COALESCE` (0.2 ms) after the step before it, so that a source
at full rate sends a batch of packets per step rather than one (the bucket refills meanwhile;
the long-run rate is unchanged), as the reactor thread's ``select()`` wake-ups do.

Events drained by a step go to the owner's ``deliver`` sink; then the tasks waiting in
:meth:`wait_step` whose condition now holds are woken (room in the send buffer, an event, the
end of the linger): the condition is checked in the step, so a waiting task is resumed only
when it has something to do, not at every packet.  An exception in a
step (a transport error) is kept in :attr:`error`, the protocol stops, and the waiters are woken
to raise it.  :meth:`pause_reading` / :meth:`resume_reading` remove and re-add the reader (a
receiver's back-pressure: the kernel buffer fills, and what overflows NAKs repair).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from ..driver import EngineDriver
from ..engine.api import Engine
from ..net.transport import DatagramTransport

__all__ = ["COALESCE", "TIMER_SLACK", "EngineProtocol"]

TIMER_SLACK = 0.001
"""Seconds before its deadline the timer handle is armed (the selectors' sleep granularity)."""

COALESCE = 0.0002
"""A timer step runs at least this long after the step before it: the rate limiter's next
packet is due microseconds after the last one, and a step per packet would cost more than the
packet.  A fifth of the bucket's 1 ms, so no rate is lost."""


class EngineProtocol:
    """One engine and one transport on ``loop`` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        transport: DatagramTransport,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Sequence[Any]], object] | None = None,
        *,
        precise: bool = False,
    ) -> None:
        self.loop = loop
        self.transport = transport
        self.driver = EngineDriver(engine, transport.send_all, deliver)
        """Runs the engine (see :mod:`pgm.driver`); ``driver.engine`` is the engine."""
        self.error: BaseException | None = None
        """The exception that stopped the protocol, if one did."""
        self.steps = 0
        """Driver steps run (reads, timers and services)."""
        self._slack: float = getattr(loop, "pgm_timer_slack", TIMER_SLACK) if precise else 0.0
        self._timer: asyncio.Handle | None = None
        self._timer_at: float | None = None  # the engine's deadline
        self._run_at: float | None = None  # when the timer step runs (>= the deadline)
        self._coalesce: float = getattr(loop, "pgm_coalesce", COALESCE)
        self._waiters: list[tuple[asyncio.Future[None], Callable[[], bool] | None]] = []
        self._fd = transport.fileno()
        self._reading = False
        self._stopped = False
        self.resume_reading()
        self._rearm(self.driver.next_deadline())

    # -- the three inputs ------------------------------------------------------------------------
    def _readable(self) -> None:
        try:
            batch = self.transport.recv_batch()
            self._after(self.driver.step(self.loop.time(), batch))
        except Exception as exc:  # surfaced to the application on its next call
            self._fail(exc)

    def _on_timer(self) -> None:
        due = self._run_at
        now = self.loop.time()
        if due is not None and now < due and self._slack:
            self._timer = self.loop.call_soon(self._on_timer)  # the last stretch: yield
            return
        self._timer = self._timer_at = self._run_at = None
        try:
            if due is not None and now < due:
                now = due  # fired within the loop's clock resolution: run at the deadline
            self._after(self.driver.step(now))
        except Exception as exc:
            self._fail(exc)

    def service(self) -> None:
        """After an API call on the engine: flush, drain events, re-arm the timer, wake the
        waiters.  Raises the error that stopped the protocol, if any."""
        self.check()
        try:
            self._after(self.driver.service(self.loop.time()))
        except Exception as exc:
            self._fail(exc)
            raise

    def _after(self, deadline: float | None) -> None:
        self.steps += 1
        if self._stopped:
            return
        self._rearm(deadline)
        self._wake()

    # -- the timer -------------------------------------------------------------------------------
    def _rearm(self, deadline: float | None) -> None:
        """Move the one timer to the engine's ``deadline`` (None: no timer) if it is not
        already there; the step runs at the deadline, and at least :data:`COALESCE` after
        this step."""
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        if deadline is None:
            self._timer = self._timer_at = self._run_at = None
            return
        self._timer_at = deadline
        run_at = max(deadline, self.loop.time() + self._coalesce)
        self._run_at = run_at
        self._timer = self.loop.call_at(run_at - self._slack, self._on_timer)

    @property
    def timer_at(self) -> float | None:
        """The engine's deadline the timer is armed for (after the last step), or None."""
        return self._timer_at

    # -- waiting ---------------------------------------------------------------------------------
    async def wait_step(self, until: Callable[[], bool] | None = None) -> None:
        """Wait until a step after which ``until()`` holds (None: the next step), or until the
        protocol stops; raises its error if it failed.  The condition is checked in the step,
        so a waiter is only resumed when it has something to do."""
        self.check()
        if self._stopped:
            return
        fut: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append((fut, until))
        try:
            await fut
        finally:
            self._waiters = [w for w in self._waiters if w[0] is not fut]
        self.check()

    def poke(self) -> None:
        """Re-check the waiters' conditions now (the application changed one, not a step)."""
        self._wake()

    def _wake(self) -> None:
        if not self._waiters:
            return
        keep: list[tuple[asyncio.Future[None], Callable[[], bool] | None]] = []
        for fut, until in self._waiters:
            if fut.done():
                continue
            if self._stopped or until is None or until():
                fut.set_result(None)
            else:
                keep.append((fut, until))
        self._waiters = keep

    def check(self) -> None:
        """Raise the error that stopped the protocol, if one did."""
        if self.error is not None:
            raise RuntimeError(f"PGM I/O failed: {self.error!r}") from self.error

    # -- reading on and off; stopping ------------------------------------------------------------
    def pause_reading(self) -> None:
        """Stop reading the socket (back-pressure)."""
        if self._reading:
            self.loop.remove_reader(self._fd)
            self._reading = False

    def resume_reading(self) -> None:
        """Read the socket again."""
        if not self._reading and not self._stopped:
            self.loop.add_reader(self._fd, self._readable)
            self._reading = True

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` ran (or a step failed)."""
        return self._stopped

    def stop(self) -> None:
        """Remove the reader and the timer, close the transport and wake the waiters.
        Idempotent."""
        if self._stopped:
            return
        self.pause_reading()
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = self._run_at = None
        with contextlib.suppress(OSError):
            self.transport.close()
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self.stop()
