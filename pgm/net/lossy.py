"""Simulated loss on a real transport: a wrapper that drops received data packets at random.

Theory of operation
-------------------
:class:`LossyTransport` wraps any :class:`~pgm.net.transport.DatagramTransport` and presents the
same interface.  Sending passes straight through.  :meth:`LossyTransport.recv_batch` takes the
inner transport's batch and drops each ODATA / RDATA packet (RFC 3208 §8: the type byte at
offset 4) with probability ``loss``, drawn from its own ``random.Random(seed)``; every other
packet (SPM, NCF, NAK, ...) passes, so the session itself survives and only data has to be
repaired.  Drops are counted in :attr:`LossyTransport.drops`.

This is how ``pgm recv --loss`` / ``pgm demo`` and ``PgmReceiver(loss=...)`` lose packets: the
production reactor never knows about it.  The drop happens where a lossy wire would lose the
packet — before the engine sees it — so NAKs, NCFs and repairs follow as on a real network.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence

from ..wire import NLA, TYPE_ODATA, TYPE_RDATA
from .transport import DatagramTransport

__all__ = ["LossyTransport"]

_TYPE_OFFSET = 4  # RFC 3208 §8: the type byte of the PGM header
_DATA_TYPES = frozenset((TYPE_ODATA, TYPE_RDATA))


class LossyTransport:
    """``inner`` with each received data packet dropped with probability ``loss``.

    ``seed`` seeds the drop RNG (``None``: a random seed, so runs differ); the same seed and the
    same arrivals give the same drops.
    """

    def __init__(self, inner: DatagramTransport, loss: float, seed: int | None = None) -> None:
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"loss must be a probability in [0, 1], not {loss!r}")
        self.inner = inner
        """The wrapped transport."""
        self.loss = loss
        """Probability that a received ODATA/RDATA packet is dropped."""
        self.drops = 0
        """Data packets dropped so far."""
        self._rng = random.Random(os.urandom(8) if seed is None else seed)

    @property
    def kind(self) -> str:
        """The inner transport's kind."""
        return self.inner.kind

    @property
    def buffer_warning(self) -> str | None:
        """The inner transport's socket-buffer warning."""
        return self.inner.buffer_warning

    @property
    def tx_errors(self) -> int:
        """The inner transport's send errors."""
        return self.inner.tx_errors

    def fileno(self) -> int:
        """The inner transport's descriptor."""
        return self.inner.fileno()

    def send(self, packet: bytes, dst: NLA, ttl: int | None = None) -> None:
        """Send through the inner transport (no loss on the way out)."""
        self.inner.send(packet, dst, ttl)

    def send_all(self, datagrams: Sequence[tuple[bytes, NLA, int | None]]) -> None:
        """Send one engine flush through the inner transport."""
        self.inner.send_all(datagrams)

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        """The inner transport's batch, minus the data packets this wrapper loses."""
        items = self.inner.recv_batch()
        loss = self.loss
        if not loss:
            return items
        rnd = self._rng.random
        keep: list[tuple[bytes, NLA, NLA | None]] = []
        for it in items:
            d = it[0]
            if len(d) > _TYPE_OFFSET and d[_TYPE_OFFSET] in _DATA_TYPES and rnd() < loss:
                self.drops += 1
                continue
            keep.append(it)
        return keep

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()

    def __getattr__(self, name: str) -> object:
        # Anything else (ttl, group, iface, rx_bytes, join/leave...) is the inner transport's.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
