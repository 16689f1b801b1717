"""The listener role of a Windows-style PGM socket: ``listen`` and the sessions to accept.

Theory of operation: a socket bound to a multicast group and port is a receiver.  ``listen()``
starts a :class:`~pgm.io.PgmReceiver` on the RM_ADD_RECEIVE_IF interfaces (else the default
one) and a :class:`~pgm.rm.hub.Hub` around it; the hub makes a session acceptable when its
first message arrives.  ``accept()`` (on the socket, :mod:`pgm.rm.sock`) takes the oldest one
and gives it a socket of its own.  Closing the listener drops the sessions not accepted yet;
the receiver lives on while accepted sockets use it.  RM_PGM_ONLY_SOURCE / RM_PGM_ONLY_TSI
(pgm extensions) become the receiver's ``only_source`` / ``only_tsi``: other sessions are never
started, so never accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from ipaddress import IPv4Address

from ..engine import ReceiverConfig
from ..interfaces import InterfaceError
from ..io import PgmReceiver
from ..sessions import DemuxSession
from ..wire import TSI
from .errors import rm_error
from .hub import Hub, Signal

__all__ = ["ListenerRole"]


class ListenerRole:
    """A listening socket's own state: the hub once listening."""

    kind = "receiver"

    def __init__(self) -> None:
        self.hub: Hub | None = None
        """The receiver and its sessions, once :meth:`listen` ed."""

    def listen(
        self,
        listener: Signal,
        group: IPv4Address,
        port: int,
        *,
        ifaces: Sequence[IPv4Address],
        transport: str,
        config: ReceiverConfig | None,
        max_queue_bytes: int,
        loss: float,
        only_source: IPv4Address | None = None,
        only_tsi: TSI | None = None,
    ) -> None:
        """Start receiving on ``group`` and ``port`` (WSAEADDRNOTAVAIL for a bad interface);
        ``only_source`` / ``only_tsi`` pin the sessions accepted (None: the config's).

        The hub tracks as many sessions as the receiver keeps, live and ended."""
        cfg = config or ReceiverConfig()
        pins: dict[str, object] = {}
        if only_source is not None:
            pins["only_source"] = only_source
        if only_tsi is not None:
            pins["only_tsi"] = only_tsi
        cfg = dataclasses.replace(cfg, **pins)  # type: ignore[arg-type]
        hub = Hub(max_queue_bytes, cfg.max_sessions + cfg.ended_memory)
        hub.listener = listener
        try:
            rx = PgmReceiver(
                str(group),
                port,
                ifaces=[str(a) for a in ifaces] or None,
                transport=transport,
                config=cfg,
                max_queue_bytes=max_queue_bytes,
                loss=loss,
            )
        except InterfaceError as exc:
            raise rm_error("WSAEADDRNOTAVAIL", f"listen: {exc}") from None
        self.hub = hub
        hub.attach(rx)

    def next_session(self) -> DemuxSession | None:
        """The oldest acceptable session, taken off the queue (receiver lock held)."""
        return self.hub.demux.accept() if self.hub is not None else None

    @property
    def pending(self) -> bool:
        """A session waits to be accepted."""
        return self.hub is not None and bool(self.hub.demux.pending)
