"""Rate limiting and rate measurement for the engine.

Theory of operation
-------------------
:class:`TokenBucket` is the source's rate limiter (RFC 3208 §5.1.1 TXW_MAX_RTE; OpenPGM
``rate_control.c``).  The bucket holds up to ``burst`` bytes and refills at ``rate`` bytes per
second.  A packet may leave when the bucket is not in debt; it then takes its cost, possibly
driving the bucket negative, so packets larger than the burst still pass and the long-run rate
is exact.  The engine never busy-waits: :meth:`TokenBucket.ready_at` says when the next packet
may leave.

:class:`RateMeter` measures what was sent: the engine feeds it byte counts as it sends, in whole
seconds counted from the session's start, and keeps the current and the previous second.  Reading
a figure never changes it, so any number of pollers (statistics sockets, a CLI progress line)
see the same "rate over the last second".
"""

from __future__ import annotations

import math

__all__ = ["RateMeter", "TokenBucket"]


class TokenBucket:
    """Byte-granular token bucket driven by the caller's clock."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate_bytes_per_sec: float, burst_bytes: float, now: float = 0.0) -> None:
        self.rate = float(rate_bytes_per_sec)
        self.burst = float(burst_bytes)
        self._tokens = self.burst  # starts full, as OpenPGM's
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            t = self._tokens + (now - self._last) * self.rate
            self._tokens = t if t < self.burst else self.burst
            self._last = now

    def try_consume(self, cost: int, now: float) -> bool:
        """Take ``cost`` bytes if the bucket is not in debt; False means wait (:meth:`ready_at`)."""
        if now > self._last:
            t = self._tokens + (now - self._last) * self.rate
            self._tokens = t if t < self.burst else self.burst
            self._last = now
        if self._tokens < 0:
            return False
        self._tokens -= cost
        return True

    def available(self, now: float) -> float:
        """Refill up to ``now`` and return the tokens in the bucket (negative: in debt).

        The batch form of :meth:`try_consume`: a caller sending a run of packets at one
        ``now`` lets each go while the running balance is not negative, then pays the run with
        one :meth:`debit` — exactly what one :meth:`try_consume` per packet would do, since a
        second refill at the same ``now`` adds nothing."""
        if now > self._last:
            t = self._tokens + (now - self._last) * self.rate
            self._tokens = t if t < self.burst else self.burst
            self._last = now
        return self._tokens

    def debit(self, cost: float) -> None:
        """Take ``cost`` bytes (a run let through after :meth:`available`)."""
        self._tokens -= cost

    def ready_at(self, now: float, reserve: float = 0.0) -> float:
        """Earliest time a packet may leave (``now`` if one may leave now).

        With ``reserve`` (bytes, at most :attr:`burst`): a bucket in debt is ready once it
        holds that much again, so a waiting sender wakes for a batch rather than for every
        packet; refills stay below the depth, so the long-run rate is unchanged."""
        self._refill(now)
        if self._tokens >= 0:
            return now
        t = self._last + (reserve - self._tokens) / self.rate
        # A deficit smaller than the clock's resolution must still move time forward, or the
        # caller would spin at ``now``.
        return t if t > self._last else math.nextafter(self._last, math.inf)

    @property
    def tokens(self) -> float:
        """Bytes currently in the bucket (negative: in debt)."""
        return self._tokens


class RateMeter:
    """Bytes sent per whole second since ``start``; the engine calls :meth:`add` as it sends.

    Only the second being filled and the one before it are kept: that is all
    :meth:`last_kbps` needs, and the state stays constant-size.
    """

    __slots__ = ("_cur", "_prev", "_sec", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self._sec = 0  # whole seconds since start of the second being filled
        self._cur = 0  # bytes in second ``_sec``
        self._prev = 0  # bytes in second ``_sec - 1``

    def add(self, nbytes: int, now: float) -> None:
        """Count ``nbytes`` sent at ``now``."""
        sec = math.floor(now - self.start)
        if sec > self._sec:
            self._prev = self._cur if sec == self._sec + 1 else 0
            self._cur = 0
            self._sec = sec
        self._cur += nbytes

    def last_kbps(self, now: float) -> float:
        """kbit/s over the last whole second completed before ``now`` (0 before the first)."""
        done = math.floor(now - self.start) - 1
        if done == self._sec:
            nbytes = self._cur
        elif done == self._sec - 1:
            nbytes = self._prev
        else:
            nbytes = 0
        return nbytes * 8 / 1000
