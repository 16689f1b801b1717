"""The I/O layer: the sans-I/O engine on real sockets, with a blocking API.

Each :class:`PgmSender` / :class:`PgmReceiver` owns one engine, its transport socket and one
background reactor thread (:mod:`pgm.io.reactor`) that runs the engine's driver step
(:mod:`pgm.driver`) whenever the socket is readable or a deadline passes, so the protocol keeps
running while the application is not inside a call.  :mod:`pgm.io.sender` and
:mod:`pgm.io.receiver` hold the two blocking APIs.  Time is ``time.monotonic()``.
"""

from .receiver import PgmReceiver
from .sender import PgmSender

__all__ = ["PgmReceiver", "PgmSender"]
