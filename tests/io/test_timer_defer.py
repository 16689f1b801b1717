"""A receiver that is behind puts its timers off for a bounded time (``TIMER_DEFER``), and
hands the socket to its reactor thread unless a drain is a few GRO reads (pgm.io.receiver).

A drain that reached ``MAX_BATCH`` means more is queued in the socket: the NCFs and repairs
the NAK timers wait for may be in that queue.  The step feeds the drain and flushes, but runs
the engine's timers only once the socket was drained, or ``TIMER_DEFER`` after they last ran.
"""

from __future__ import annotations

import functools
import socket
import threading
from typing import Any

import pytest

from pgm.driver import EngineDriver
from pgm.io.receiver import DRIVE_LEASE, TIMER_DEFER, PgmReceiver
from pgm.net.base import MAX_BATCH


class FakeEngine:
    """Records what the (real) EngineDriver asks of it; its timers are always due."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int]] = []

    def receive(self, *_: Any) -> None:
        raise AssertionError("batches go through receive_many")

    def receive_many(self, batch: list[Any], now: float) -> None:
        self.calls.append(("feed", now, len(batch)))

    def next_timer(self) -> float:
        return 0.0

    def handle_timer(self, now: float) -> None:
        self.calls.append(("tick", now, 0))

    def datagrams_to_send(self, now: float) -> list[Any]:
        self.calls.append(("service", now, 0))
        return []

    def take_events(self) -> list[Any]:
        return []


def _receiver() -> tuple[PgmReceiver, FakeEngine]:
    rx = object.__new__(PgmReceiver)  # only the step's state: no socket, no thread
    d = FakeEngine()
    rx.driver = EngineDriver(d, lambda out: None)  # type: ignore[arg-type]
    rx._ticked = 0.0
    return rx, d


def test_timers_wait_while_the_drain_is_full_then_run_within_the_bound() -> None:
    rx, d = _receiver()
    full = [object()] * MAX_BATCH
    t = 10.0
    rx._run_step(full, t)  # long since the last tick: timers run
    assert [c[0] for c in d.calls] == ["feed", "tick", "service"]
    d.calls.clear()
    rx._run_step(full, t + TIMER_DEFER / 2)  # behind, ticked just now: fed, no timers
    assert [c[0] for c in d.calls] == ["feed", "service"]
    d.calls.clear()
    rx._run_step(full, t + TIMER_DEFER)  # still behind, but the bound is reached
    assert [c[0] for c in d.calls] == ["feed", "tick", "service"]
    d.calls.clear()
    rx._run_step(full[:3], t + TIMER_DEFER + 0.001)  # drained: timers run at once
    assert [c[0] for c in d.calls] == ["feed", "tick", "service"]
    d.calls.clear()
    rx._run_step([], t + TIMER_DEFER + 0.002)  # a timer wake-up without data
    assert [c[0] for c in d.calls] == ["tick", "service"]


class FullDrains:
    """A transport whose every drain is full (``MAX_BATCH``); ``gro`` as UdpTransport's."""

    def __init__(self, gro: bool) -> None:
        self.gro = gro
        self._a, self._b = socket.socketpair()
        self._a.send(b"x")  # readable: select() returns at once

    def fileno(self) -> int:
        return self._b.fileno()

    def recv_batch(self) -> list[Any]:
        return [object()] * MAX_BATCH

    def close(self) -> None:
        self._a.close()
        self._b.close()


@pytest.mark.parametrize("gro", [False, True], ids=["one-read-per-datagram", "udp-gro"])
def test_a_full_drain_hands_the_socket_over_except_with_gro(gro: bool) -> None:
    rx, d = _receiver()
    t = FullDrains(gro)
    rx.transport = t  # type: ignore[assignment]
    rx.lock = threading.RLock()
    rx.cond = threading.Condition(rx.lock)
    rx._closed, rx.error, rx.drives, rx._driving = False, None, 0, True
    woken: list[bool] = []
    rx.wake = functools.partial(woken.append, True)  # type: ignore[method-assign]
    try:
        rx._drive(0.0, False)
    finally:
        t.close()
    assert [c[0] for c in d.calls][:1] == ["feed"]
    # handed over: the lease is given up and the reactor thread woken to read next
    handed = not gro
    assert (rx._driven_at == -DRIVE_LEASE, bool(woken)) == (handed, handed)
