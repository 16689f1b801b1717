"""A one-line progress display for the command line: no third-party dependencies.

:class:`ProgressLine` redraws one status line in place (``\\r``) from a helper thread, at most
``1 / interval`` times a second, and only when its stream is a terminal; otherwise it does
nothing at all, so scripts and pipes see only the final statistics.  The text comes from a
``render()`` callable that reads whatever counters the command keeps.

Also here: :class:`RateMeter`, a smoothed rate from a growing counter, and the small
human-readable formatters the progress line and the statistics use.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressLine", "RateMeter", "format_bytes", "format_rate"]


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'`` (binary units; bytes below 1 KiB are exact)."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024.0
        if n < 1024 or unit == "TiB":
            break
    return f"{n:.1f} {unit}"


def format_rate(bits_per_sec: float) -> str:
    """``12_300_000`` -> ``'12.3 Mbit/s'`` (decimal units, as link rates are quoted)."""
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits_per_sec >= scale:
            return f"{bits_per_sec / scale:.1f} {unit}"
    return f"{bits_per_sec:.0f} bit/s"


class RateMeter:
    """A smoothed rate from a growing counter (for progress lines): an exponential average of
    the rate over intervals of at least 0.1 s."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._t = clock()
        self._v = 0
        self.rate = 0.0
        """The smoothed rate, counter units per second."""

    def update(self, value: int) -> float:
        """Take the counter's current ``value``; return the smoothed rate."""
        now = self._clock()
        dt = now - self._t
        if dt >= 0.1:
            inst = (value - self._v) / dt
            self.rate = inst if self.rate == 0 else 0.6 * inst + 0.4 * self.rate
            self._t, self._v = now, value
        return self.rate


class ProgressLine:
    """One status line, redrawn in place every ``interval`` seconds while running.

    Use as a context manager (or :meth:`start` / :meth:`stop`).  :meth:`message` prints a
    line above the status line without garbling it.  ``enabled`` defaults to
    ``stream.isatty()``; when disabled every method is a no-op (``message`` still prints).
    """

    def __init__(
        self,
        render: Callable[[], str],
        stream: TextIO | None = None,
        *,
        interval: float = 0.2,
        enabled: bool | None = None,
    ) -> None:
        self.render = render
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.interval = interval
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = 0  # characters of the line on screen now

    def start(self) -> ProgressLine:
        """Start redrawing (no-op when disabled or already running)."""
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pgm-progress", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop redrawing and erase the line."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=2)
        self._thread = None
        with self._lock:
            self._erase()
            self._flush()

    def message(self, text: str) -> None:
        """Print ``text`` on its own line (above the status line when one is shown)."""
        with self._lock:
            self._erase()
            print(text, file=self.stream)
            self._flush()

    def draw(self) -> None:
        """Redraw now (the helper thread calls this every ``interval``)."""
        if not self.enabled:
            return
        try:
            text = self.render()
        except Exception:  # a status line is never worth a crash
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = text.replace("\n", " ")[: max(10, width)]
        with self._lock:
            pad = " " * max(0, self._shown - len(text))
            self.stream.write("\r" + text + pad)
            self._shown = len(text)
            self._flush()

    def _erase(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def _flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()

    def _run(self) -> None:
        self.draw()
        while not self._stop.wait(self.interval):
            self.draw()

    def __enter__(self) -> ProgressLine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
