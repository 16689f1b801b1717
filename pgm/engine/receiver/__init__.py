"""The PGM receiver (RFC 3208 §6): one sans-I/O engine for every session on a group and port.

Theory of operation
-------------------
:class:`Receiver` (:mod:`.receiver`) demultiplexes packets by TSI, enforces the caps, runs the
timers and owns the one receive path of data.  Each session's state is a :class:`Session`
(:mod:`.session`); its missing sequence numbers walk the NAK state machine of :mod:`.nak`,
whose table :data:`NAK_TRANSITIONS` is the machine's only truth; :mod:`.delivery` hands data to
the application in order, reassembles fragments and reports loss where it falls; :mod:`.stats`
holds the counters and the read-only :class:`SessionInfo` snapshot.
"""

from .nak import NAK_TRANSITIONS, NakAction, NakInput, NakRow, NakState, NakTimer
from .receiver import Receiver
from .session import Session
from .stats import ReceiverStats, SessionInfo, SessionStats

__all__ = [
    "NAK_TRANSITIONS",
    "NakAction",
    "NakInput",
    "NakRow",
    "NakState",
    "NakTimer",
    "Receiver",
    "ReceiverStats",
    "Session",
    "SessionInfo",
    "SessionStats",
]
