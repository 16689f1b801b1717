"""The session demultiplexer: engine events in, one bounded queue per sender session out.

Theory of operation
-------------------
A receiver hears many sources on one group and port; an application usually wants them apart
(one socket per sender in the Windows-style facade, :mod:`pgm.rm`) or wants just one of them
(``pgm recv`` follows the first session it hears).  :class:`SessionDemux` does that sorting and
nothing else: it is sans-I/O (no sockets, no clocks, no threads, no locks — the caller holds
whatever lock protects it) and is fed the receiver engine's events with :meth:`SessionDemux.feed`.

* **Admission.**  A session (a TSI) is *tracked* from its :class:`~pgm.engine.SessionStarted`
  event.  It becomes *visible* — acceptable, or followed — either when its first message
  arrives (:attr:`Admit.ON_DATA`, what Windows' ``listen`` does: sessions that send only
  SPMs never appear, and one that ends before sending data is forgotten) or at once
  (:attr:`Admit.ON_START`).  Data and loss before a session is visible are not queued: the
  session starts after them.
* **Accept or follow.**  Visible sessions wait on an accept queue for :meth:`SessionDemux.accept`;
  or, with ``follow_first``, the first visible session becomes :attr:`SessionDemux.followed` and
  every other TSI is ignored until :meth:`SessionDemux.drop` releases it (the next session to
  become visible is then followed).
* **Candidates.**  With ``follow_first`` and ``candidate_bytes`` > 0, other sessions are not
  ignored but kept as *candidates* (:meth:`SessionDemux.candidates`, in the order first heard):
  their messages, losses and end are recorded so that one of them can replace the followed
  session from its very start (:meth:`SessionDemux.follow`) if that one turns out not to be the
  transfer wanted (``pgm recv`` prefers, rather than locks onto, the first session heard:
  docs/security.md "Session choice").  A candidate queues at most ``candidate_bytes`` and all
  candidates together at most ``max_bytes``; past either cap its queue is freed and it is marked
  :attr:`DemuxSession.truncated` (its start is gone: it can no longer be a complete
  replacement).  Candidates' bytes are counted apart (:attr:`SessionDemux.candidate_buffered`)
  and never in :attr:`SessionDemux.has_room`, so they never hold up the followed session.  A
  candidate that ends other than gracefully (reset, expiry) is forgotten; when ``max_sessions``
  are tracked, a new candidate evicts the oldest ended one.
* **Queues and end markers.**  A visible session queues its messages in order; an end —
  graceful (OPT_FIN), reset (OPT_RST), expiry, or, when ``loss_ends_session`` is set,
  unrecoverable loss — is recorded as :attr:`DemuxSession.end` after the data before it, and
  nothing more is queued for that session.  Without ``loss_ends_session`` a loss is recorded
  in :attr:`DemuxSession.losses` and delivery goes on after the gap (as the engine does).
* **Caps.**  ``max_bytes`` is a back-pressure budget over all queued message bytes: while
  :attr:`SessionDemux.has_room` is false the caller stops taking events from the receiver (the
  receiver's own bounded queue then fills and stops reading the network), so nothing is ever
  dropped for lack of room.  ``max_sessions`` bounds the sessions tracked at once (a new TSI
  beyond it is ignored and counted in :attr:`SessionDemux.refused`); ``max_loss_records`` bounds
  each session's loss list (later ranges are only counted).  A closed or dropped session's
  queue is freed at once.

Sequence numbers in loss records are the 32-bit numbers of the engine's events.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .engine import DataReceived, Event, SessionEnded, SessionStarted, UnrecoverableLoss
from .wire import NLA, TSI

__all__ = [
    "Admit",
    "DemuxConfig",
    "DemuxSession",
    "EndReason",
    "LossRecord",
    "SessionDemux",
    "SessionEnd",
]


class Admit(enum.Enum):
    """When a tracked session becomes visible (acceptable or followed)."""

    ON_DATA = "data"
    """At its first non-empty message (Windows' ``listen``)."""
    ON_START = "start"
    """At its :class:`~pgm.engine.SessionStarted` event."""


class EndReason(enum.Enum):
    """Why a session's queue ended."""

    FIN = "fin"
    """The source ended it gracefully (OPT_FIN): everything before is delivered or lost."""
    RST = "rst"
    """The source aborted it (OPT_RST)."""
    EXPIRED = "expired"
    """The source fell silent for longer than the peer expiry."""
    LOSS = "loss"
    """Data was lost for good (only with ``DemuxConfig.loss_ends_session``)."""


_REASONS = {"fin": EndReason.FIN, "rst": EndReason.RST, "expired": EndReason.EXPIRED}


def _text(reason: object) -> str:
    """An engine reason as text, whether the engine gives a string or an Enum of strings."""
    value = getattr(reason, "value", reason)
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True, slots=True)
class LossRecord:
    """One unrecoverable gap reported by the engine."""

    first: int
    """First lost sequence number (32-bit)."""
    last: int
    """Last lost sequence number, inclusive (32-bit)."""
    reason: str
    """The engine's reason: 'retries', 'window', 'capacity' or 'fragment'."""

    @property
    def count(self) -> int:
        """How many sequence numbers were lost (modulo 2**32)."""
        return ((self.last - self.first) & 0xFFFFFFFF) + 1


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """The end marker of a session's queue: read after the data queued before it."""

    reason: EndReason
    """Why the session ended."""
    detail: str
    """A sentence for the application (the facade puts it in its WSAECONNRESET message)."""
    loss: LossRecord | None = None
    """The gap that ended it, for :attr:`EndReason.LOSS`."""

    @property
    def graceful(self) -> bool:
        """True for OPT_FIN: the data is complete (reads return ``b""``); else a reset."""
        return self.reason is EndReason.FIN


@dataclass(frozen=True, slots=True)
class DemuxConfig:
    """What the demultiplexer admits and how much it holds."""

    max_bytes: int = 64 * 1024 * 1024
    """Back-pressure budget over all queued message bytes (see :attr:`SessionDemux.has_room`)."""
    max_sessions: int = 1024
    """Sessions tracked at once (pending, visible and accepted); more are ignored."""
    admit: Admit = Admit.ON_DATA
    """When a session becomes visible."""
    follow_first: bool = False
    """Follow the first visible session only (:attr:`SessionDemux.followed`), no accept queue."""
    loss_ends_session: bool = True
    """Unrecoverable loss in a visible session ends it (Windows: the session is reset) instead
    of being recorded in :attr:`DemuxSession.losses`."""
    max_loss_records: int = 10_000
    """Loss records kept per session; later ones only counted (:attr:`DemuxSession.loss_events`)."""
    keep_empty: bool = True
    """Queue zero-length messages: in message mode ``b""`` is a message like any other.  A
    reader for which ``b""`` means the end (a socket's ``recv``) sets False: they are skipped
    and do not make a session visible."""
    candidate_bytes: int = 0
    """With ``follow_first``: keep other sessions as candidates with up to this many message
    bytes queued each (all candidates together: at most ``max_bytes``); 0 ignores them."""

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {self.max_bytes}")
        if self.max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, not {self.max_sessions}")
        if self.candidate_bytes < 0:
            raise ValueError(f"candidate_bytes must be >= 0, not {self.candidate_bytes}")
        if self.max_loss_records < 0:
            raise ValueError(f"max_loss_records must be >= 0, not {self.max_loss_records}")
        if not isinstance(self.admit, Admit):
            raise ValueError(f"admit must be an Admit, not {self.admit!r}")


class DemuxSession:
    """One sender session as the demultiplexer sees it: identity, queue, end marker, losses.

    Read it with :meth:`pop_message`, :meth:`pop_all`, :meth:`read_message` or
    :meth:`read_stream`; these keep the demultiplexer's byte budget up to date.
    """

    __slots__ = (
        "_demux",
        "_offset",
        "_q",
        "accepted",
        "candidate",
        "closed",
        "end",
        "loss_events",
        "losses",
        "queued_bytes",
        "source",
        "tag",
        "truncated",
        "tsi",
        "visible",
    )

    def __init__(self, demux: SessionDemux, tsi: TSI, source: NLA) -> None:
        self._demux = demux
        self.tsi = tsi
        """The session's TSI."""
        self.source = source
        """The IP address its packets come from."""
        self._q: deque[bytes] = deque()
        self._offset = 0  # bytes of _q[0] already read (a message read in parts)
        self.queued_bytes = 0
        """Message bytes queued and not yet read."""
        self.end: SessionEnd | None = None
        """The end marker, once the session ended (nothing more is queued after it)."""
        self.losses: list[LossRecord] = []
        """Gaps delivery went on after (without ``loss_ends_session``), oldest first, capped."""
        self.loss_events = 0
        """Every loss reported for it while visible, recorded or not."""
        self.visible = False
        """Admitted: on the accept queue, accepted or followed."""
        self.accepted = False
        """Returned by :meth:`SessionDemux.accept` (or followed)."""
        self.closed = False
        """Dropped by the application: nothing is kept or queued any more."""
        self.tag: Any = None
        """Free for the caller (the facade keeps the session's socket here)."""
        self.candidate = False
        """Kept as a candidate beside the followed session (see :meth:`SessionDemux.follow`)."""
        self.truncated = False
        """A candidate whose queue went over its cap and was freed: its start is gone."""

    def __repr__(self) -> str:
        end = self.end.reason.value if self.end is not None else None
        return (
            f"<DemuxSession {self.tsi} from {self.source}: {len(self._q)} messages, "
            f"{self.queued_bytes} bytes, end={end}>"
        )

    # -- state --------------------------------------------------------------------------------

    @property
    def queued_messages(self) -> int:
        """Messages queued (a message read in part counts until its last byte is read)."""
        return len(self._q)

    @property
    def readable(self) -> bool:
        """Something to read: a message, or the end marker."""
        return bool(self._q) or self.end is not None

    @property
    def at_end(self) -> bool:
        """Every message is read and the end marker is next."""
        return not self._q and self.end is not None

    # -- reading ------------------------------------------------------------------------------

    def pop_message(self) -> bytes | None:
        """The next whole message (the unread rest of one read in part), or None."""
        if not self._q:
            return None
        head = self._q[0]
        off = self._offset
        self._consume()
        return head[off:] if off else head

    def pop_all(self) -> list[bytes]:
        """Every queued message, oldest first."""
        q = self._q
        if not q:
            return []
        head = self.pop_message() if self._offset else None  # the unread rest of a message
        out = list(q)
        q.clear()
        self._demux.buffered -= self.queued_bytes
        self.queued_bytes = 0
        if head is not None:
            out.insert(0, head)
        return out

    def read_message(self, max_bytes: int) -> tuple[bytes, int]:
        """Message mode: up to ``max_bytes`` of the next message, and how many bytes of that
        message remain for the next call (0: it was the message's last piece).  ``(b"", 0)``
        when nothing is queued."""
        if not self._q or max_bytes <= 0:
            return b"", 0
        head = self._q[0]
        off = self._offset
        rest = len(head) - off
        if rest <= max_bytes:
            self._consume()
            return (head[off:] if off else head), 0
        self._offset = off + max_bytes
        return head[off : off + max_bytes], rest - max_bytes

    def read_stream(self, max_bytes: int) -> bytes:
        """Stream mode: up to ``max_bytes`` across message boundaries."""
        parts: list[bytes] = []
        want = max_bytes
        while want > 0 and self._q:
            part, _ = self.read_message(want)
            parts.append(part)
            want -= len(part)
        return b"".join(parts)

    def _consume(self) -> None:
        head = self._q.popleft()
        self._offset = 0
        self.queued_bytes -= len(head)
        self._demux.buffered -= len(head)

    # -- filling (the demultiplexer's side) ---------------------------------------------------

    def _push(self, data: bytes) -> None:
        self._q.append(data)
        self.queued_bytes += len(data)
        self._demux.buffered += len(data)

    def _clear(self) -> None:
        if self.candidate:
            self._demux.candidate_buffered -= self.queued_bytes
        else:
            self._demux.buffered -= self.queued_bytes
        self._q.clear()
        self._offset = 0
        self.queued_bytes = 0


class SessionDemux:
    """Per-session queues from receiver engine events (see the module docstring)."""

    def __init__(self, config: DemuxConfig | None = None) -> None:
        self.config = config if config is not None else DemuxConfig()
        """The caps and admission rules."""
        self.sessions: dict[TSI, DemuxSession] = {}
        """Tracked sessions by TSI (ended ones stay until dropped, or forgotten if never
        visible)."""
        self.buffered = 0
        """Message bytes queued over all sessions."""
        self.refused = 0
        """New sessions ignored because ``max_sessions`` were tracked."""
        self.followed: DemuxSession | None = None
        """With ``follow_first``: the session followed, once one is visible."""
        self.candidate_buffered = 0
        """Message bytes queued by candidates (not counted in :attr:`buffered`)."""
        self._acceptq: deque[DemuxSession] = deque()
        self._admitting = True

    # -- state --------------------------------------------------------------------------------

    @property
    def has_room(self) -> bool:
        """The queued bytes are within ``max_bytes``: take more events from the receiver."""
        return self.buffered <= self.config.max_bytes

    @property
    def pending(self) -> int:
        """Visible sessions waiting for :meth:`accept`."""
        return len(self._acceptq)

    @property
    def admitting(self) -> bool:
        """New sessions are tracked (until :meth:`stop_admitting`)."""
        return self._admitting

    # -- the application's calls --------------------------------------------------------------

    def accept(self) -> DemuxSession | None:
        """The next visible session (oldest first), or None."""
        if not self._acceptq:
            return None
        s = self._acceptq.popleft()
        s.accepted = True
        return s

    def drop(self, session: DemuxSession) -> None:
        """The application is done with ``session``: free its queue, route nothing more to it.
        With ``follow_first`` the next session to become visible is followed."""
        session.closed = True
        session._clear()
        if self.sessions.get(session.tsi) is session:
            del self.sessions[session.tsi]
        if self.followed is session:
            self.followed = None
        if session in self._acceptq:
            self._acceptq.remove(session)

    def candidates(self) -> list[DemuxSession]:
        """The candidates kept beside the followed session, in the order first heard."""
        return [s for s in self.sessions.values() if s.candidate]

    def follow(self, session: DemuxSession) -> None:
        """Follow the candidate ``session`` from its start instead of the followed session,
        which is dropped: its queued messages, losses and end become the followed session's.
        ValueError if ``session`` is not a candidate of this demultiplexer."""
        if not session.candidate or self.sessions.get(session.tsi) is not session:
            raise ValueError(f"{session!r} is not a candidate session")
        if self.followed is not None:
            self.drop(self.followed)
        session.candidate = False
        self.candidate_buffered -= session.queued_bytes
        self.buffered += session.queued_bytes
        session.visible = session.accepted = True
        self.followed = session

    def stop_admitting(self) -> None:
        """No new sessions (the listener is closed): sessions not yet accepted are dropped;
        accepted ones keep receiving."""
        self._admitting = False
        for s in list(self.sessions.values()):
            if not s.accepted:
                self.drop(s)
        self._acceptq.clear()

    # -- events -------------------------------------------------------------------------------

    def feed(self, events: Iterable[Event]) -> list[DemuxSession]:
        """Route a batch of engine events; returns the visible sessions it changed (became
        visible, queued data, or ended), each once, in the order first changed.  Events other
        than session start, data, loss and end are ignored."""
        changed: dict[TSI, DemuxSession] = {}
        get = self.sessions.get
        keep_empty = self.config.keep_empty
        last: DemuxSession | None = None  # the session the previous event changed
        for e in events:
            if type(e) is DataReceived:
                # The bulk of all events: a message for a visible, open session, queued inline.
                s = get(e.tsi)
                data = e.data
                if s is not None and s.visible and s.end is None and (data or keep_empty):
                    s._q.append(data)
                    s.queued_bytes += len(data)
                    self.buffered += len(data)
                    if s is not last:
                        changed.setdefault(s.tsi, s)
                        last = s
                    continue
            s = self._route(e)
            if s is not None and s is not last:
                changed.setdefault(s.tsi, s)
                last = s
        return list(changed.values())

    def _route(self, e: Event) -> DemuxSession | None:
        if isinstance(e, DataReceived):
            return self._on_data(e)
        if isinstance(e, SessionStarted):
            return self._on_start(e)
        if isinstance(e, UnrecoverableLoss):
            return self._on_loss(e)
        if isinstance(e, SessionEnded):
            return self._on_end(e)
        return None

    def _on_data(self, e: DataReceived) -> DemuxSession | None:
        s = self.sessions.get(e.tsi)
        if s is None or s.end is not None or not (e.data or self.config.keep_empty):
            return None
        if s.candidate:
            self._queue_candidate(s, e.data)
            return None
        if not s.visible and not self._make_visible(s):
            return None
        s._push(e.data)
        return s

    def _queue_candidate(self, s: DemuxSession, data: bytes) -> None:
        """A candidate's message, queued unless that breaks a cap (then it is truncated)."""
        if s.truncated:
            return
        n = len(data)
        cap = self.config.candidate_bytes
        if s.queued_bytes + n > cap or self.candidate_buffered + n > self.config.max_bytes:
            s._clear()
            s.truncated = True
            return
        s._q.append(data)
        s.queued_bytes += n
        self.candidate_buffered += n

    def _on_start(self, e: SessionStarted) -> DemuxSession | None:
        if not self._admitting or e.tsi in self.sessions:
            return None
        candidate = self.config.follow_first and self.followed is not None
        if candidate and not self.config.candidate_bytes:
            return None
        if len(self.sessions) >= self.config.max_sessions and not (
            candidate and self._evict_ended()
        ):
            self.refused += 1
            return None
        s = DemuxSession(self, e.tsi, e.source)
        self.sessions[e.tsi] = s
        if candidate:
            s.candidate = True
            return None
        if self.config.admit is Admit.ON_START and self._make_visible(s):
            return s
        return None

    def _on_loss(self, e: UnrecoverableLoss) -> DemuxSession | None:
        s = self.sessions.get(e.tsi)
        if s is None or s.end is not None or not (s.visible or s.candidate):
            return None  # before the session became visible: it starts after the gap
        s.loss_events += 1
        rec = LossRecord(e.first, e.last, _text(e.reason))
        if self.config.loss_ends_session:
            detail = (
                f"unrecoverable loss of sequence numbers {e.first}-{e.last} ({rec.reason}); "
                "the session is over"
            )
            s.end = SessionEnd(EndReason.LOSS, detail, rec)
        elif len(s.losses) < self.config.max_loss_records:
            s.losses.append(rec)
        return None if s.candidate else s

    def _on_end(self, e: SessionEnded) -> DemuxSession | None:
        s = self.sessions.get(e.tsi)
        if s is None:
            return None
        if not (s.visible or s.candidate):
            self._forget(s)
            return None
        if s.end is not None:
            return None
        text = _text(e.reason)
        reason = _REASONS.get(text, EndReason.EXPIRED)
        if reason is EndReason.FIN:
            detail = "session ended"
        elif reason is EndReason.RST:
            detail = "the sender aborted the session (OPT_RST)"
        else:
            detail = f"the session {text} (the sender fell silent)"
        s.end = SessionEnd(reason, detail)
        if s.candidate:
            if reason is not EndReason.FIN:
                s._clear()
                self._forget(s)  # a failed candidate can replace nothing
            return None
        return s

    def _make_visible(self, s: DemuxSession) -> bool:
        if not self._admitting:
            return False
        if self.config.follow_first:
            if self.followed is not None and self.followed is not s:
                self._forget(s)
                return False
            self.followed = s
            s.accepted = True
            keep = self.config.candidate_bytes > 0
            for other in list(self.sessions.values()):
                if other is s or other.candidate:
                    continue
                if keep:
                    other.candidate = True  # heard before; nothing of it queued yet
                else:
                    self._forget(other)  # follow one session: stop tracking the rest
        else:
            self._acceptq.append(s)
        s.visible = True
        return True

    def _evict_ended(self) -> bool:
        """Make room for a candidate: forget the oldest ended candidate (False if none)."""
        for s in self.sessions.values():
            if s.candidate and s.end is not None:
                s._clear()
                self._forget(s)
                return True
        return False

    def _forget(self, s: DemuxSession) -> None:
        if self.sessions.get(s.tsi) is s:
            del self.sessions[s.tsi]
