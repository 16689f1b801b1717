"""Adaptive NAK waits: how long a receiver waits for an NCF, and for RDATA after one.

Theory of operation
-------------------
RFC 3208 §6.3 gives the waits as fixed receiver parameters, NAK_RPT_IVL (NAK to NCF) and
NAK_RDATA_IVL (NCF to RDATA); OpenPGM and ZeroMQ use 200 ms each.  On a LAN the answer comes
within a millisecond, so a lost NCF or a lost repair costs a 200 ms stall — at 5 % loss nearly
every transfer ends with one or two of them (each lost repair is lost with 5 % again).

With ``ReceiverConfig.adaptive_nak_timers`` (off by default: with many receivers sharing a
rate-limited source it NAKs more, docs/engine.md) each session measures both
latencies, as TCP measures its round trip (RFC 6298): :class:`RepairRtt` keeps a smoothed mean
and mean deviation of the samples, and a wait is ``srtt + 4 × rttvar``, at least
``nak_timer_floor``, doubled for every retry of the record (a slow or loaded source is not
asked again and again), and never longer than the configured interval, which also applies
until the first sample.  Samples come only from records on their first NAK (Karn's rule: an
answer after a retry cannot be matched to the NAK that caused it).  Retry counts and
``nak_*_retries`` are unchanged, and as the doubled wait reaches the configured interval
after a few retries, a gap is still given up after about the same time as with fixed waits.
"""

from __future__ import annotations

__all__ = ["RepairRtt"]


class RepairRtt:
    """Smoothed latency of one kind of answer (NCF or RDATA) from one source."""

    __slots__ = ("rttvar", "samples", "srtt")

    def __init__(self) -> None:
        self.srtt = 0.0
        self.rttvar = 0.0
        self.samples = 0

    def sample(self, rtt: float) -> None:
        """One measured latency (seconds): RFC 6298 §2 gains 1/8 and 1/4."""
        if rtt < 0:
            return
        if not self.samples:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar += (abs(self.srtt - rtt) - self.rttvar) / 4
            self.srtt += (rtt - self.srtt) / 8
        self.samples += 1

    def wait(self, cap: float, floor: float, retries: int) -> float:
        """The wait for a record after ``retries`` retries: ``cap`` until a sample exists."""
        if not self.samples:
            return cap
        w = max(floor, self.srtt + 4 * self.rttvar) * (1 << min(retries, 30))
        return w if w < cap else cap
