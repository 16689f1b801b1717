"""The sans-I/O PGM engine: :class:`Source` and :class:`Receiver` state machines.

No sockets, clocks or global randomness: time comes in as ``now`` arguments, packets in through
``receive()`` and out through ``datagrams_to_send()``, deadlines through ``next_timer()`` /
``handle_timer()``, and application events through ``next_event()``.  The same engine runs over
raw IP, UDP encapsulation and the in-memory simulator (:mod:`pgm.sim`).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .api import Engine, Outgoing
from .config import ReceiverConfig, SourceConfig
from .errors import ConfigError, NotConnected, WouldBlock
from .events import (
    DataReceived,
    EndReason,
    Event,
    LossReason,
    NakReceived,
    NakSent,
    NcfReceived,
    RepairSent,
    SessionEnded,
    SessionStarted,
    SourceClosed,
    UnrecoverableLoss,
)
from .rate import TokenBucket
from .source import Source, SourceInfo, SourceState, SourceStats

if TYPE_CHECKING:  # loaded on first use (__getattr__): a sender never needs the receiver
    from .receiver import (
        NAK_TRANSITIONS,
        NakState,
        Receiver,
        ReceiverStats,
        Session,
        SessionInfo,
        SessionStats,
    )

_RECEIVER_NAMES = frozenset(
    ("NAK_TRANSITIONS", "NakState", "Receiver", "ReceiverStats", "Session", "SessionInfo",
     "SessionStats")
)  # fmt: skip


def __getattr__(name: str) -> Any:
    """The receiver's names, imported on first use (``pgm send`` starts faster without)."""
    if name in _RECEIVER_NAMES:
        value = getattr(import_module(f"{__name__}.receiver"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NAK_TRANSITIONS",
    "ConfigError",
    "DataReceived",
    "EndReason",
    "Engine",
    "Event",
    "LossReason",
    "NakReceived",
    "NakSent",
    "NakState",
    "NcfReceived",
    "NotConnected",
    "Outgoing",
    "Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "RepairSent",
    "Session",
    "SessionEnded",
    "SessionInfo",
    "SessionStarted",
    "SessionStats",
    "Source",
    "SourceClosed",
    "SourceConfig",
    "SourceInfo",
    "SourceState",
    "SourceStats",
    "TokenBucket",
    "UnrecoverableLoss",
    "WouldBlock",
]
