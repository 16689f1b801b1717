"""What the receiver believes of a source it cannot authenticate (docs/security.md).

Theory of operation
-------------------
PGM has no authentication (RFC 3208 §10): anyone who can send to the group can forge packets
with a session's TSI, window edges and SPM sequence number.  The receiver therefore believes a
packet only as far as the source has already shown plausible, and treats the rest as
*suspect*: counted (``SessionStats.suspect_packets`` and friends), dropped, and never a reason
to declare loss.  Per session a :class:`SessionGuard` keeps what that takes:

* **Plausible leading edge** (:meth:`Guard.lead_ok`): a packet (ODATA/RDATA, SPM, NCF) may
  move the leading edge at most ``allow + rate * (now - moved)`` past the delivery point,
  where ``allow`` is ``lead_jump_sqns`` or ``lead_jump_secs`` of the session's peak packet
  rate (data packets heard per second, believed or not, sampled about once a second by
  :meth:`Guard.tick` and over the current interval), ``rate`` is ``lead_rate_floor`` plus
  twice that peak, and ``moved`` is when delivery last moved.  A real outage is caught up
  with as time passes; one forged packet cannot open a gap the source never sent.
* **Trailing edge**: data whose TRAIL is ahead of its own SQN (OpenPGM drops SQN - TRAIL >=
  2^31 - 1) and SPMs whose trail is beyond their lead are suspect; a trail is believed only up
  to the plausible edge.
* **SPM sequence** (:meth:`Guard.spm_sqn_ok`): an SPM more than ``max_spm_sqn_jump`` ahead is
  suspect; three consecutive, increasing SPMs behind the believed sequence resynchronise it (a
  forged SPM moved it).  **Path NLA** changes are damped (:meth:`Guard.nla_ok`): an SPM
  naming another NLA is not believed at all until no SPM with the current one was heard for
  ``path_nla_damping``.
* **FIN** (:meth:`Guard.fin`): a FIN never ends the session at once.  It must not lie below
  what is known to exist; the receiver asks the source for an SPM (SPMR) and waits
  ``fin_confirm``: data beyond the FIN or a newer SPM without OPT_FIN contradicts it (the FIN
  is cancelled and counted in ``suspect_fins``).  A FIN SPM whose lead is below what one
  unconfirmed packet claimed rolls the window back to it (:meth:`Guard.roll_back`).
* **FIN probe suppression** (``PROBE_TRANSITIONS``, RFC 3208 §13.6 / App. C): N receivers
  each probing a FIN at once would be N SPMRs heard by N peers and N SPMs answering.  The
  probe waits a random back-off (at most ``min(spmr_bo_ivl, fin_confirm / 4)``, from the
  receiver's seeded RNG) and is dropped (``spmrs_suppressed``) when an SPM is believed
  first.  Another receiver's multicast SPMR only defers it: if no SPM follows within
  ``fin_confirm / 4`` the probe goes out anyway, so one forged SPMR cannot silence every
  probe.
* **Peer NAK suppression** (:meth:`Guard.peer_nak_ok`): other receivers' NAKs suppress ours
  at most ``PEER_NAK_CAP`` times per number; afterwards our NAK goes out whatever peers send.
* **Memory** (:meth:`Guard.room`): held packets count ``HELD_PACKET_OVERHEAD`` besides their
  payload and NAK records ``NAK_RECORD_OVERHEAD``; per session ``max_buffer_bytes`` (the
  message at the head of delivery may use ``max_apdu`` more), for all sessions together
  ``max_total_bytes``, beyond which only sessions under their fair share may grow, up to twice
  the budget at most.
  Fragments are checked on arrival (:meth:`Guard.fragment_ok`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING

from ... import wire
from ..config import HELD_PACKET_OVERHEAD, NAK_RECORD_OVERHEAD, ReceiverConfig

if TYPE_CHECKING:
    from .session import Session

__all__ = ["PROBE_TRANSITIONS", "Guard", "Probe", "ProbeInput", "SessionGuard", "session_bytes"]

#: How often other receivers' NAKs may suppress ours for one sequence number (each restarts
#: at most ``nak_rpt_ivl``), so our NAK goes out at the latest after about 4 × nak_rpt_ivl.
PEER_NAK_CAP = 3

#: Consecutive SPMs behind the believed SPM sequence that resynchronise it.
SPM_RESYNC = 3


class Probe(Enum):
    """Where the SPMR probing a FIN stands (one per session)."""

    IDLE = "idle"  # no FIN believed
    WAIT = "wait"  # FIN believed: our SPMR waits its random back-off
    ASKED = "asked"  # a peer's SPMR asked for us: wait for the answering SPM
    DONE = "done"  # sent, or an SPM came first (suppressed)


class ProbeInput(Enum):
    """What moves the FIN probe."""

    FIN = "fin"  # a FIN was believed
    PEER_SPMR = "peer_spmr"  # another receiver's multicast SPMR for this TSI
    SPM = "spm"  # an SPM was believed
    DUE = "due"  # the probe's deadline came


#: (state, input) -> (next state, what to do): "backoff" schedules the random back-off,
#: "answer" the wait for an answer to a peer's SPMR, "send" sends our SPMR, "suppress" drops
#: it (counted).  Pairs not listed change nothing.
PROBE_TRANSITIONS: dict[tuple[Probe, ProbeInput], tuple[Probe, str]] = {
    (Probe.IDLE, ProbeInput.FIN): (Probe.WAIT, "backoff"),
    (Probe.WAIT, ProbeInput.PEER_SPMR): (Probe.ASKED, "answer"),
    (Probe.WAIT, ProbeInput.SPM): (Probe.DONE, "suppress"),
    (Probe.WAIT, ProbeInput.DUE): (Probe.DONE, "send"),
    (Probe.ASKED, ProbeInput.SPM): (Probe.DONE, "suppress"),
    (Probe.ASKED, ProbeInput.DUE): (Probe.DONE, "send"),  # nobody answered: ask ourselves
}


class SessionGuard:
    """Plausibility state of one session (see the module docstring)."""

    __slots__ = (
        "count_at",
        "count_mark",
        "fin_spm",
        "moved_at",
        "next_mark",
        "nla_heard",
        "nla_new",
        "old_count",
        "old_sqn",
        "peak",
        "probe",
        "probe_at",
    )

    def __init__(self, now: float) -> None:
        self.next_mark: int | None = None  # delivery point at the last sample ...
        self.moved_at = now  # ... and when it was last seen moving
        self.count_mark = 0  # data packets received at the last sample ...
        self.count_at = now  # ... and its time
        self.peak = 0.0  # peak data packets per second
        self.old_sqn: int | None = None  # SPMs behind the believed sequence: the last ...
        self.old_count = 0  # ... and how many in a row
        self.nla_new: wire.NLA | None = None  # a path NLA not adopted yet
        self.nla_heard = now  # last SPM with the current path NLA
        self.fin_spm: int | None = None  # SPM sequence number of the FIN believed
        self.probe = Probe.IDLE  # the SPMR probing a FIN (PROBE_TRANSITIONS) ...
        self.probe_at: float | None = None  # ... and its deadline


def _heard(s: Session) -> int:
    """Data packets heard for session ``s``, believed or not (the rate a source has shown:
    one forged packet adds one)."""
    st = s.stats
    return (
        st.odata_packets_received
        + st.rdata_packets_received
        + st.duplicate_data_packets
        + st.suspect_packets
        + st.buffer_drops
        + st.memory_drops
    )


def _beyond(table: Mapping[int, object], lead: int, hi: int) -> list[int]:
    """Keys of ``table`` in (lead, hi], at the cost of the smaller of table and stretch."""
    if len(table) < hi - lead:
        return [q for q in table if q > lead]
    return [q for q in range(lead + 1, hi + 1) if q in table]


def session_bytes(s: Session) -> int:
    """Engine-held memory of session ``s`` by the engine's own accounting."""
    return (
        s.buf_bytes
        + len(s.buf) * HELD_PACKET_OVERHEAD
        + (len(s.naks) + len(s.lost)) * NAK_RECORD_OVERHEAD
    )


class Guard:
    """The receiver's plausibility checks (see the module docstring)."""

    def __init__(self, config: ReceiverConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng if rng is not None else random.Random(0)
        self._probe_bo = min(config.spmr_bo_ivl, config.fin_confirm / 4)
        self._jump = config.lead_jump_sqns
        self._jump_secs = config.lead_jump_secs
        self._floor = config.lead_rate_floor
        self._total = 0  # upper estimate of all sessions' bytes since the last exact sum

    # -- window edges ------------------------------------------------------------------------

    def tick(self, s: Session, now: float) -> None:
        """About once a second: sample delivery progress and the packet rate."""
        g = s.guard
        if s.next != g.next_mark:
            if g.next_mark is not None:
                g.moved_at = now
            g.next_mark = s.next
        count = _heard(s)
        span = now - g.count_at
        if span >= 0.5:
            rate = (count - g.count_mark) / span
            if rate > g.peak:
                g.peak = rate
            g.count_mark = count
            g.count_at = now

    def limit(self, s: Session, now: float) -> int:
        """The highest sequence number the session may plausibly have reached at ``now``."""
        g = s.guard
        span = now - g.count_at
        peak = g.peak
        if span > 0:  # the current interval counts too (a fast start), over >= 0.1 s
            cur = (_heard(s) - g.count_mark) / max(span, 0.1)
            if cur > peak:
                peak = cur
        allow = max(self._jump, int(peak * self._jump_secs))
        rate = self._floor + 2 * peak
        return s.next + allow + int(rate * (now - g.moved_at + 1.0))

    def lead_ok(self, s: Session, sqn: int, now: float) -> bool:
        """May a packet move the leading edge to ``sqn``?  If not it is counted suspect."""
        if sqn <= s.lead + 1 or sqn <= self.limit(s, now):
            return True
        s.stats.suspect_packets += 1
        return False

    def trail_ok(self, s: Session, sqn: int, trail: int, now: float) -> bool:
        """Data at ``sqn`` with trailing edge ``trail`` (both unbounded): TRAIL ahead of SQN
        (OpenPGM: SQN - TRAIL >= 2^31 - 1) or beyond the plausible edge is suspect."""
        if trail <= sqn and (trail <= s.trail or trail <= self.limit(s, now) + 1):
            return True
        s.stats.suspect_packets += 1
        return False

    # -- SPMs ----------------------------------------------------------------------------------

    def spm_sqn_ok(self, s: Session, spm_sqn: int) -> bool:
        """Is this SPM in sequence (RFC 3208 §6.2), within ``max_spm_sqn_jump``, or the third
        consecutive one behind a believed sequence that a forged SPM moved?"""
        g = s.guard
        d = (spm_sqn - s.spm_sqn) & wire.SQN_MASK
        if 0 < d <= self.config.max_spm_sqn_jump:
            g.old_sqn = None
            g.old_count = 0
            return True
        st = s.stats
        if d == 0 or d < 1 << 31:
            # Far ahead (or a repeat): a forged jump would make every real SPM look old.
            st.spms_out_of_sequence += 1
            if d:
                st.suspect_packets += 1
            return False
        st.spms_out_of_sequence += 1
        old = g.old_sqn
        if old is not None and 0 < (spm_sqn - old) & wire.SQN_MASK <= self.config.max_spm_sqn_jump:
            g.old_count += 1
        else:
            g.old_count = 1
        g.old_sqn = spm_sqn
        if g.old_count >= SPM_RESYNC:
            g.old_sqn = None
            g.old_count = 0
            return True
        return False

    def nla_ok(self, s: Session, nla: wire.NLA, now: float) -> bool:
        """May an SPM naming path NLA ``nla`` be believed?  A change of an established NLA is
        damped (RFC 3208 §10): such SPMs are not believed at all - not their NLA, sequence,
        edges nor FIN - until no SPM with the current NLA was heard for ``path_nla_damping``."""
        cur = s.nak_dst
        if cur is None or nla == cur:
            return True
        g = s.guard
        if g.nla_new == nla and now - g.nla_heard >= self.config.path_nla_damping:
            return True
        if g.nla_new != nla:
            g.nla_new = nla
        s.stats.path_nla_changes_damped += 1
        return False

    def spm_believed(self, s: Session, nla: wire.NLA, now: float) -> None:
        """An SPM was believed: its path NLA is where NAKs go from now on."""
        s.nak_dst = nla
        s.guard.nla_heard = now
        s.guard.nla_new = None
        if s.guard.probe is not Probe.IDLE:
            self.probe(s, ProbeInput.SPM, now)  # the source spoke: no need to ask it

    def roll_back(self, s: Session, lead: int) -> None:
        """A FIN SPM believed says the source's last number is ``lead``, below what one
        unconfirmed packet claimed: forget the NAK records and held data beyond it (suspect),
        so nothing that never existed is declared lost."""
        hi = s.lead
        for q in _beyond(s.naks, lead, hi):
            del s.naks[q]
        for q in _beyond(s.lost, lead, hi):
            del s.lost[q]
        for q in _beyond(s.buf, lead, hi):
            s.buf_bytes -= len(s.buf.pop(q)[0])
            s.stats.suspect_packets += 1
        s.lead = lead
        if s.fin is not None and s.fin > lead:
            s.fin = None  # a FIN beyond the source's last number was not its FIN

    # -- FIN -----------------------------------------------------------------------------------

    def fin(self, s: Session, last: int, spm_sqn: int | None, now: float) -> None:
        """A FIN says ``last`` is the session's last sequence number (from an SPM with
        ``spm_sqn``, or on data): believe it for now, unless it lies below what is known to
        exist, and schedule the SPMR that asks the source whether it really finished."""
        if last < s.lead:
            s.stats.suspect_fins += 1
            return
        g = s.guard
        if s.fin is None or last > s.fin:
            s.fin = last
        if spm_sqn is not None:
            g.fin_spm = spm_sqn
        if s.fin_at is None:
            s.fin_at = now + self.config.fin_confirm
        self.probe(s, ProbeInput.FIN, now)

    def fin_contradicted(self, s: Session) -> None:
        """The source went on after the FIN (data beyond it, a newer SPM without OPT_FIN):
        the FIN was forged or is stale; forget it."""
        s.fin = None
        s.fin_at = None
        g = s.guard
        g.fin_spm = None
        g.probe = Probe.IDLE
        g.probe_at = None
        s.stats.suspect_fins += 1

    def probe(self, s: Session, what: ProbeInput, now: float) -> bool:
        """Move the FIN probe (``PROBE_TRANSITIONS``); True when our SPMR is to go out now."""
        g = s.guard
        step = PROBE_TRANSITIONS.get((g.probe, what))
        if step is None:
            return False
        g.probe, action = step
        g.probe_at = None
        if action == "backoff":
            g.probe_at = now + self.rng.random() * self._probe_bo
        elif action == "answer":
            g.probe_at = now + self.config.fin_confirm / 4
        elif action == "suppress":
            s.stats.spmrs_suppressed += 1
        return action == "send"

    def probe_due(self, s: Session, now: float) -> bool:
        """Timers: True when the FIN probe's deadline came and our SPMR is to go out."""
        at = s.guard.probe_at
        return at is not None and at <= now and self.probe(s, ProbeInput.DUE, now)

    # -- peer NAKs -----------------------------------------------------------------------------

    def peer_nak_ok(self, s: Session, sqn: int) -> bool:
        """May another receiver's NAK suppress ours for ``sqn``?  At most ``PEER_NAK_CAP``
        times per number: then our NAK goes out whatever peers send."""
        rec = s.naks.get(sqn)
        if rec is None:
            return True  # no record: the table does nothing with it
        if rec.peer_naks >= PEER_NAK_CAP:
            s.stats.peer_naks_ignored += 1
            return False
        rec.peer_naks += 1
        return True

    # -- memory --------------------------------------------------------------------------------

    def fragment_ok(self, s: Session, sqn: int, first: int, frag: wire.OptFragment, n: int) -> bool:
        """OpenPGM's checks on arrival: the message starts at or before this fragment, and its
        length covers this fragment (each fragment carries at least one byte)."""
        total = frag.apdu_length
        if first <= sqn and sqn - first < max(total, 1) and n <= total and frag.offset + n <= total:
            return True
        s.stats.bad_fragments += 1
        return False

    def room(self, s: Session, need: int, head: bool, sessions: dict[object, Session]) -> bool:
        """May session ``s`` hold ``need`` more bytes (engine accounting)?  ``head``: it is
        part of the message at the head of delivery, which may use ``max_apdu`` more."""
        cfg = self.config
        mine = session_bytes(s) + need
        cap = cfg.max_buffer_bytes + (cfg.max_apdu if head else 0)
        if mine > cap:
            s.stats.buffer_drops += 1
            return False
        self._total += need
        if self._total > cfg.max_total_bytes:
            self._total = sum(session_bytes(x) for x in sessions.values()) + need
            # Over the budget only a session under its fair share may grow, and never past
            # twice the budget: fair shares shrink as sessions arrive, so without the ceiling
            # sessions admitted at ever smaller shares would add up (harmonically) beyond it.
            if self._total > cfg.max_total_bytes and (
                mine > cfg.max_total_bytes // len(sessions) or self._total > 2 * cfg.max_total_bytes
            ):
                s.stats.memory_drops += 1
                return False
        return True
