"""SIGTERM handled like Ctrl-C by every command, so ``kill``, systemd and docker stop it cleanly.

Theory of operation: :func:`install` makes SIGTERM raise :class:`Terminated` in the main thread
— a :class:`KeyboardInterrupt`, so every ``except KeyboardInterrupt`` that ends a command
cleanly (``send`` aborting its session with OPT_RST, ``recv`` closing its output, the demo
stopping its processes) handles it the same way.  :func:`interrupt_status` and
:func:`interrupt_word` tell the two apart afterwards: exit status 130 and "interrupted" for
Ctrl-C, 143 (128 + SIGTERM, what shells report) and "terminated" for SIGTERM.  A process
forked from the command (the demo's peers) gets SIGTERM's default action back: it was not
the one that installed the handler.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from .report import EXIT_INTERRUPTED

__all__ = ["EXIT_TERMINATED", "Terminated", "install", "interrupt_status", "interrupt_word"]

EXIT_TERMINATED = 128 + signal.SIGTERM
"""``pgm``'s exit status after SIGTERM (143), as if killed by it."""

_owner = [0]  # the pid that installed the handler


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (raised in the main thread, like Ctrl-C's KeyboardInterrupt)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _owner[0]:  # a forked child: die as SIGTERM's default would
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated()


def install() -> Callable[[], None]:
    """Handle SIGTERM as :class:`Terminated` (in the main thread only; elsewhere a no-op);
    returns the function that puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _owner[0] = os.getpid()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def interrupt_status(exc: BaseException) -> int:
    """143 for SIGTERM (:class:`Terminated`), 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def interrupt_word(status: int) -> str:
    """How the messages name the interruption behind exit ``status``."""
    return "terminated (SIGTERM)" if status == EXIT_TERMINATED else "interrupted"
