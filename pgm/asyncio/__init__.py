"""The asyncio API: the sans-I/O engine on an asyncio event loop (docs/asyncio.md).

:func:`open_source` / :func:`open_receiver` (:mod:`pgm.asyncio.api`) take the blocking API's
arguments and give an :class:`AsyncSource` (``await send``, ``drain``, ``close``, ``abort``) or
an :class:`AsyncReceiver` (``async for event in rx``, ``rx.messages()``, ``await
rx.accept()``).  :mod:`pgm.asyncio.protocol` runs the engine: ``loop.add_reader`` on the
transport's socket (raw IP and UDP alike) and one ``loop.call_at`` timer at the engine's
deadline, re-armed after every step.  Time is ``loop.time()``.
"""

from .api import open_receiver, open_source
from .protocol import EngineProtocol
from .receiver import AsyncReceiver, AsyncSession, SessionLost, SessionReset
from .source import AsyncSource

__all__ = [
    "AsyncReceiver",
    "AsyncSession",
    "AsyncSource",
    "EngineProtocol",
    "SessionLost",
    "SessionReset",
    "open_receiver",
    "open_source",
]
