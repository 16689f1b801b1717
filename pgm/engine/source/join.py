"""What the source offers late joiners: OPT_JOIN_MIN (RFC 3208 §9.5) and its refusal floor.

Theory of operation
-------------------
With ``SourceConfig.late_join`` = *p* percent (Windows' ``RM_LATEJOIN``, 0–75), the source
advertises on every SPM, ODATA and RDATA an OPT_JOIN whose OPT_JOIN_MIN is the lowest sequence
number a receiver that joins now may NAK for: the leading edge minus *p* % of the current
window (``lead - trail + 1`` packets), never below the trailing edge — the trailing edge as
it will be after the next step, so that what is offered stays repairable for a step at least.

The value is recomputed only when the trailing edge advances (every ``window_advance_pct`` of
the window's time, :meth:`TransmitWindow.advance`), so it stays put while a joiner that read it
sends its NAKs.  A joiner needs time to catch up: its repairs, up to *p* % of the window, go out
at no more than the source's rate, that is within *p* % of ``window_secs``.  So the source
keeps the values it advertised over that time plus one step (a few entries), and refuses a NAK
below the *floor* — the oldest of them, the lowest OPT_JOIN_MIN a joiner may still be working
from — without an NCF or RDATA, counting it (``naks_below_join_min``).  A crowd of late joiners
can thus ask for no more than what is offered, and what they ask for goes out as RDATA under
the same token bucket as everything else (RFC 3208 §5.1.1): they cannot push the source past
its rate.

With *p* = 0 there is no OPT_JOIN (unless ``options_on_all_data`` puts one with the packet's
own sequence number, which offers nothing) and no refusal: NAKs are answered across the whole
window, as before.  Sequence numbers here are unbounded, as in :mod:`.txw`.
"""

from __future__ import annotations

from collections import deque

from .txw import TransmitWindow

__all__ = ["LateJoin"]


class LateJoin:
    """OPT_JOIN_MIN of one source session and the floor below which NAKs are refused."""

    __slots__ = ("_hold", "_offered", "_step", "floor", "join_min", "share")

    def __init__(
        self, percent: float, first_sqn: int, window_secs: float, step_secs: float, now: float
    ) -> None:
        self.share = percent / 100.0
        """The share of the window offered (0 .. 0.75)."""
        self.join_min = first_sqn
        """OPT_JOIN_MIN advertised now (unbounded); the trailing edge until the first step."""
        self.floor = first_sqn
        """NAKs below this are refused: the lowest OPT_JOIN_MIN a joiner may still use."""
        self._hold = self.share * window_secs + step_secs
        self._step = step_secs
        self._offered: deque[tuple[float, int]] = deque([(now, first_sqn)])

    @property
    def enabled(self) -> bool:
        """Late join is on (``late_join > 0``): OPT_JOIN is advertised, NAKs below refused."""
        return self.share > 0

    def step(self, window: TransmitWindow, now: float) -> bool:
        """The trailing edge advanced: recompute OPT_JOIN_MIN; True when it changed."""
        # The window as it will be after the next step: what is offered now must outlast it.
        lead = window.lead
        trail = window.trail_after(now + self._step - window.window_secs)
        jm = max(trail, lead - int((lead - trail + 1) * self.share))
        offered = self._offered
        changed = jm != self.join_min
        if changed:
            self.join_min = jm
            offered.append((now, jm))
        # The oldest value still in force is the one advertised ``hold`` seconds ago.
        horizon = now - self._hold
        while len(offered) > 1 and offered[1][0] <= horizon:
            offered.popleft()
        self.floor = max(window.trail, offered[0][1])
        return changed
