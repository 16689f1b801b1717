"""When the source sends SPMs (RFC 3208 §5.1.4 ambient, §5.1.5 heartbeat, §13.6 SPMR).

Theory of operation
-------------------
SPMs announce the session, its path NLA (where NAKs go) and the window edges.  Three clocks and
two queues decide when one goes out:

* a **burst** of ``spm_burst`` at start and ``spm_close_burst`` when the session starts to
  linger, sent at once and not rate-limited (as OpenPGM);
* **heartbeats** (§5.1.5) after data, on the ``spm_heartbeats`` schedule, restarted by every
  ODATA/RDATA (OpenPGM's behaviour), so receivers learn of a lost tail quickly;
* **ambient** SPMs (§5.1.4) every ``spm_ambient_ivl`` after the last SPM of any kind;
* one at once for each SPM request (SPMR, §13.6).

The timers only mark an SPM *due*; the scheduler sends a due SPM under the token bucket, ahead
of RDATA and ODATA.  Every SPM sent takes the next SPM sequence number (its own 32-bit space)
and restarts the ambient clock.  ``options`` is what every SPM carries: nothing while open,
OPT_FIN once a closed session's last data is out, OPT_RST after an abort.
"""

from __future__ import annotations

from collections.abc import Sequence

from ... import wire
from ..config import SourceConfig

__all__ = ["SpmSchedule"]


class SpmSchedule:
    """The SPM clocks and sequence number of one source session."""

    __slots__ = (
        "_hb",
        "_hb_idx",
        "_ivl",
        "_template",
        "ambient_at",
        "burst",
        "due",
        "heartbeat_at",
        "options",
        "sqn",
    )

    def __init__(self, config: SourceConfig, template: wire.SpmTemplate, now: float) -> None:
        self._template = template
        self._ivl = config.spm_ambient_ivl
        self._hb = config.spm_heartbeats
        self._hb_idx = 0
        self.sqn = 0
        """SPM_SQN of the next SPM."""
        self.due = False
        """A rate-limited SPM is owed (ambient, heartbeat or SPMR)."""
        self.burst = config.spm_burst
        """Immediate (not rate-limited) SPMs owed."""
        self.ambient_at = now + self._ivl
        """When the next ambient SPM falls due."""
        self.heartbeat_at: float | None = None
        """When the next heartbeat SPM falls due; None when none is scheduled."""
        self.options: Sequence[wire.Option] = ()
        """Options on every SPM from now on (OPT_FIN, OPT_RST)."""

    def next_deadline(self) -> float:
        """The earlier of the ambient and heartbeat clocks."""
        hb = self.heartbeat_at
        return hb if hb is not None and hb < self.ambient_at else self.ambient_at

    def on_timer(self, now: float) -> None:
        """Mark an SPM due for each clock that has run out."""
        if now >= self.ambient_at:
            self.due = True
            self.ambient_at = now + self._ivl
        if self.heartbeat_at is not None and now >= self.heartbeat_at:
            self.due = True
            self._hb_idx += 1
            hb = self._hb
            self.heartbeat_at = now + hb[self._hb_idx] if self._hb_idx < len(hb) else None

    def request(self) -> None:
        """An SPMR asked for an SPM: answer at once (RFC 3208 §13.6 / OpenPGM)."""
        self.due = True

    def data_sent(self, now: float) -> None:
        """ODATA/RDATA went out: restart the heartbeat walk (RFC 3208 §5.1.5, as OpenPGM)."""
        hb = self._hb
        if hb:
            self._hb_idx = 0
            self.heartbeat_at = now + hb[0]

    def linger(self, now: float, close_burst: int, options: Sequence[wire.Option]) -> None:
        """The session's data is all out: a closing burst, then SPMs with ``options``."""
        self.options = options
        self.burst += close_burst
        self._hb_idx = 0
        self.heartbeat_at = now + self._hb[0] if self._hb else None

    def stop(self) -> None:
        """The session is over: no more heartbeats."""
        self.heartbeat_at = None

    def build(self, trail: int, lead: int, extra: Sequence[wire.Option] = ()) -> bytes:
        """The next SPM's bytes (not yet counted as sent: see :meth:`sent`), with the options
        ``extra`` (OPT_JOIN) before :attr:`options`."""
        opts = (*extra, *self.options) if extra else self.options
        return self._template.encode(self.sqn, trail, lead, opts)

    def sent(self, now: float) -> None:
        """The SPM from :meth:`build` went out: next SPM_SQN, restart the ambient clock."""
        self.sqn = (self.sqn + 1) & wire.SQN_MASK
        self.ambient_at = now + self._ivl
