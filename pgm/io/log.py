"""What the I/O layer logs, on the ``logging.getLogger("pgm")`` hierarchy (``pgm.io``).

Theory of operation: the library never prints; it logs to ``pgm.io`` and leaves handlers to
the application (``pgm -v`` installs one; :func:`logging.basicConfig` is enough elsewhere).  A
:class:`logging.NullHandler` on ``pgm`` keeps Python's last-resort handler from printing the
warnings of an application that configured no logging.  Levels:

* WARNING — a socket buffer smaller than asked for (high rates will drop), unrecoverable loss
  (the lost sequence range and session), a session joined after its start (what came before
  is never delivered), a session aborted by its source (OPT_RST) or expired;
* INFO — a session started or ended, a source opened or closed;
* DEBUG — nothing on the per-packet path (the hot paths never format a message).

:func:`log_receiver_events` looks at one engine batch: a loop over the events that skips data
at the cost of one type check each, and nothing at all when WARNING is disabled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..engine import DataReceived, SessionEnded, SessionStarted, UnrecoverableLoss

__all__ = ["log", "log_buffer_warning", "log_receiver_events"]

logging.getLogger("pgm").addHandler(logging.NullHandler())
log = logging.getLogger("pgm.io")
"""The I/O layer's logger."""


def log_buffer_warning(what: str, transport: Any) -> None:
    """Warn when the kernel gave ``transport`` a smaller socket buffer than asked for."""
    warning = getattr(transport, "buffer_warning", None)
    if warning:
        log.warning("%s: %s", what, warning)


def log_receiver_events(group: object, port: int, events: Sequence[Any]) -> None:
    """Log the session events and losses of one engine batch (data is skipped)."""
    if not log.isEnabledFor(logging.WARNING):
        return
    for e in events:
        t = type(e)
        if t is DataReceived:
            continue
        if t is UnrecoverableLoss:
            log.warning(
                "unrecoverable loss: sequence numbers %d-%d from TSI %s (%s)",
                e.first,
                e.last,
                e.tsi,
                e.reason,
            )
        elif t is SessionStarted:
            log.info("session %s from %s started on %s port %d", e.tsi, e.source, group, port)
            if e.missed is not None:  # a late join: what came before is never delivered
                log.warning(
                    "session %s: joined at sequence %d; %d..%d not received",
                    e.tsi,
                    e.first_sqn,
                    *e.missed,
                )
        elif t is SessionEnded:
            level = logging.INFO if e.reason == "fin" else logging.WARNING
            log.log(level, "session %s on %s port %d ended: %s", e.tsi, group, port, e.reason)
