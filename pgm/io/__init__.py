"""The I/O layer: the sans-I/O engine on real sockets, with a blocking API.

Each :class:`PgmSender` / :class:`PgmReceiver` owns one engine, its transport socket and one
background reactor thread (:mod:`pgm.io.reactor`) that runs the engine's driver step
(:mod:`pgm.driver`) whenever the socket is readable or a deadline passes, so the protocol keeps
running while the application is not inside a call.  :mod:`pgm.io.sender` and
:mod:`pgm.io.receiver` hold the two blocking APIs.  Time is ``time.monotonic()``.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .sender import PgmSender

if TYPE_CHECKING:  # loaded on first use (__getattr__): a sender never needs the receiver
    from .receiver import PgmReceiver

__all__ = ["PgmReceiver", "PgmSender"]


def __getattr__(name: str) -> Any:
    """:class:`PgmReceiver`, imported on first use (``pgm send`` starts faster without)."""
    if name == "PgmReceiver":
        value = import_module(f"{__name__}.receiver").PgmReceiver
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
