"""``pgm recv`` prefers, rather than locks onto, the first session heard (issue 13,
docs/security.md "Session choice").

In memory: engine events fed by hand to :class:`~pgm.cli.follow.FirstSession` and
:class:`~pgm.sessions.SessionDemux`, and to ``pgm recv`` itself through the scripted fake
receiver of tests/cli/test_cli.py.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pgm.cli.follow import FirstSession, Step
from pgm.engine import DataReceived, Event, SessionEnded, SessionStarted, UnrecoverableLoss
from pgm.sessions import Admit, DemuxConfig, EndReason, SessionDemux
from pgm.wire import TSI
from tests.cli.test_cli import FakeReceiver, fake_receiver, recv, run

__all__ = ["fake_receiver"]  # the fixture, re-used

FORGED = TSI(b"forged", 4242)
REAL = TSI(b"\x0a\x0b\x0c\x0d\x0e\x0f", 7500)
THIRD = TSI(b"\x0a\x0b\x0c\x0d\x0e\x10", 7501)
EVIL = IPv4Address("10.0.0.66")
SRC = IPv4Address("10.0.0.1")


def _feed(f: FirstSession, events: list[Event]) -> list[Step]:
    return [f.feed(e) for e in events]


def _forged_then_real(end_forged: Event) -> list[Event]:
    """A 24-message forged session heard first, the real one starting while it is followed."""
    ev: list[Event] = [SessionStarted(FORGED, EVIL)]
    ev += [DataReceived(FORGED, b"attacker data", q) for q in range(24)]
    ev += [SessionStarted(REAL, SRC, syn=True)]
    ev += [DataReceived(REAL, b"real %d;" % q, q) for q in range(100)]
    return [*ev, end_forged]


def _delivered(steps: list[Step]) -> bytes:
    """What the output holds: everything, started over at each switch."""
    out: list[bytes] = []
    for st in steps:
        if st.switched is not None:
            out.clear()
        out += st.messages
    return b"".join(out)


@pytest.mark.parametrize("reason", ["rst", "expired"])
def test_a_failed_first_session_is_replaced_by_the_real_one_whole(reason: str) -> None:
    clock = iter(float(t) for t in range(1000))
    f = FirstSession(clock=lambda: next(clock))
    steps = _feed(f, _forged_then_real(SessionEnded(FORGED, reason)))
    sw = steps[-1].switched
    assert sw is not None and sw.failed == FORGED and sw.now == REAL
    assert sw.failed_source == EVIL and sw.now_source == SRC and sw.heard_secs > 0
    assert ("reset" if reason == "rst" else "expired") in sw.why
    assert f.tsi == REAL and f.messages == 100 and f.nbytes == len(_delivered(steps))
    steps += _feed(f, [DataReceived(REAL, b"tail", 100), SessionEnded(REAL, "fin")])
    assert _delivered(steps) == b"".join(b"real %d;" % q for q in range(100)) + b"tail"
    assert steps[-1].end is not None and steps[-1].end.reason is EndReason.FIN
    assert [h.tsi for h in f.others] == [FORGED] and f.abandoned[FORGED] == sw.why
    assert "following session" in sw.text() and str(EVIL) in sw.text()


def test_an_empty_first_session_is_replaced_and_an_already_ended_one_too() -> None:
    f = FirstSession()
    ev: list[Event] = [SessionStarted(FORGED, EVIL, ended_when_heard=True)]
    ev += [SessionStarted(REAL, SRC), DataReceived(REAL, b"abc", 0), SessionEnded(FORGED, "fin")]
    steps = _feed(f, ev)
    assert steps[-1].switched is not None and steps[-1].messages == (b"abc",)
    assert "already ended" in steps[-1].switched.why
    f2 = FirstSession()
    ev = [SessionStarted(FORGED, EVIL), SessionStarted(REAL, SRC), DataReceived(REAL, b"x", 0)]
    steps = _feed(f2, [*ev, SessionEnded(FORGED, "fin")])
    assert steps[-1].switched is not None and "nothing delivered" in steps[-1].switched.why


def test_a_replacement_that_already_ended_cleanly_is_the_end() -> None:
    f = FirstSession()
    ev: list[Event] = [SessionStarted(FORGED, EVIL), DataReceived(FORGED, b"bad", 0)]
    ev += [SessionStarted(REAL, SRC), DataReceived(REAL, b"good", 0), SessionEnded(REAL, "fin")]
    steps = _feed(f, [*ev, SessionEnded(FORGED, "rst")])
    last = steps[-1]
    assert last.switched is not None and last.messages == (b"good",)
    assert last.end is not None and last.end.graceful and f.ended_at


def test_no_complete_candidate_keeps_the_old_rules() -> None:
    # A reset with no other session is the end (exit 3 in pgm recv).
    f = FirstSession()
    steps = _feed(f, [SessionStarted(FORGED, EVIL), SessionEnded(FORGED, "rst")])
    assert steps[-1].end is not None and steps[-1].switched is None
    # A session already ended when heard, no candidate: skipped, the next to start followed.
    f = FirstSession()
    ev: list[Event] = [SessionStarted(FORGED, EVIL, ended_when_heard=True)]
    steps = _feed(f, [*ev, SessionEnded(FORGED, "fin")])
    assert steps[-1].skipped == FORGED and f.tsi is None
    _feed(f, [SessionStarted(REAL, SRC), DataReceived(REAL, b"r", 0)])
    assert f.tsi == REAL and f.messages == 1


def test_a_candidate_over_its_cap_is_truncated_and_cannot_replace() -> None:
    f = FirstSession(candidate_bytes=1000)
    ev: list[Event] = [SessionStarted(FORGED, EVIL), DataReceived(FORGED, b"f", 0)]
    ev += [SessionStarted(REAL, SRC)]
    ev += [DataReceived(REAL, b"x" * 300, q) for q in range(4)]  # 1200 bytes > 1000
    _feed(f, ev)
    (c,) = f.demux.candidates()
    assert c.truncated and c.queued_bytes == 0 and f.demux.candidate_buffered == 0
    steps = _feed(f, [SessionEnded(FORGED, "rst")])
    assert steps[-1].switched is None and steps[-1].end is not None
    assert f.heard[REAL].messages == 4 and f.heard[REAL].nbytes == 1200  # still tallied


def test_candidates_together_stay_within_max_bytes_and_never_block_the_followed() -> None:
    d = SessionDemux(
        DemuxConfig(admit=Admit.ON_START, follow_first=True, max_bytes=500, candidate_bytes=400)
    )
    d.feed([SessionStarted(FORGED, EVIL), SessionStarted(REAL, SRC), SessionStarted(THIRD, SRC)])
    d.feed([DataReceived(REAL, b"r" * 300, 0), DataReceived(THIRD, b"t" * 300, 0)])
    real, third = d.candidates()
    assert real.queued_bytes == 300 and third.truncated  # 600 > max_bytes together
    assert d.candidate_buffered == 300 and d.buffered == 0 and d.has_room
    d.feed([DataReceived(FORGED, b"f" * 400, 0)])
    assert d.buffered == 400 and d.has_room  # the candidates' bytes are not counted here
    d.follow(real)
    assert d.followed is real and d.buffered == 300 and d.candidate_buffered == 0
    assert real.pop_all() == [b"r" * 300] and FORGED not in d.sessions
    with pytest.raises(ValueError, match="not a candidate"):
        d.follow(real)


def test_candidate_table_is_bounded_and_evicts_ended_candidates() -> None:
    d = SessionDemux(
        DemuxConfig(admit=Admit.ON_START, follow_first=True, max_sessions=3, candidate_bytes=10)
    )
    tsis = [TSI(i.to_bytes(6, "big"), 1) for i in range(10)]
    d.feed([SessionStarted(t, EVIL) for t in tsis[:3]])
    assert len(d.sessions) == 3
    d.feed([SessionStarted(tsis[3], EVIL)])
    assert d.refused == 1  # full of live candidates
    d.feed([SessionEnded(tsis[1], "fin"), SessionEnded(tsis[2], "rst")])
    assert tsis[2] not in d.sessions  # a reset candidate is forgotten at once
    d.feed([SessionStarted(tsis[4], EVIL), SessionStarted(tsis[5], EVIL)])
    assert list(d.sessions) == [tsis[0], tsis[4], tsis[5]]  # the ended one evicted
    lost = UnrecoverableLoss(tsis[4], 1, 2, "window")
    d.feed([lost])
    assert d.sessions[tsis[4]].loss_events == 1


def test_a_switch_rewinds_the_output_and_is_said(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_receiver.script = [
        *_forged_then_real(SessionEnded(FORGED, "rst")),
        SessionEnded(REAL, "fin"),
    ]
    fake_receiver.session_stats = {}
    assert run(recv(tmp_path, "--json", "--timeout", "5")) == 0
    assert (tmp_path / "out").read_bytes() == b"".join(b"real %d;" % q for q in range(100))
    out, err = capsys.readouterr()
    assert f"session {FORGED} from {EVIL} was reset (OPT_RST); following session {REAL}" in err
    obj = json.loads(out)
    assert obj["tsi"] == str(REAL) and obj["exit_status"] == 0 and obj["messages"] == 100
    (other,) = obj["other_sessions"]
    assert other == {
        "tsi": str(FORGED),
        "source": str(EVIL),
        "messages": 24,
        "bytes": 24 * len(b"attacker data"),
        "end": "rst",
        "abandoned": "was reset (OPT_RST)",
    }


def test_a_clean_end_with_another_session_present_names_it(
    fake_receiver: type[FakeReceiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The attack: a forged 24-packet session first, ending with FIN: exit 0 (every
    # byte of the followed session arrived), but the report says loudly who else was sending.
    ev = _forged_then_real(SessionEnded(FORGED, "fin"))
    fake_receiver.script = ev
    fake_receiver.session_stats = {}
    assert run(recv(tmp_path, "--json", "--timeout", "5")) == 0
    out, err = capsys.readouterr()
    obj = json.loads(out)
    assert obj["tsi"] == str(FORGED) and obj["exit_status"] == 0
    assert obj["other_sessions"] == [
        {
            "tsi": str(REAL),
            "source": str(SRC),
            "messages": 100,
            "bytes": sum(len(b"real %d;" % q) for q in range(100)),
            "end": None,
            "abandoned": None,
        }
    ]
    assert (
        f"pgm recv: warning: session {REAL} from {SRC} also sent to this group and was not "
        f"followed (100 messages"
    ) in err
    assert f"--source {SRC} or --tsi {REAL}" in err


def test_a_switch_on_standard_output_cannot_be_taken_back(
    fake_receiver: type[FakeReceiver], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_receiver.script = [
        *_forged_then_real(SessionEnded(FORGED, "rst")),
        SessionEnded(REAL, "fin"),
    ]
    fake_receiver.session_stats = {}
    argv = ["recv", "239.192.0.1", "--port", "7600", "--iface", "127.0.0.1"]
    assert run([*argv, "--transport", "udp", "--out", "-", "--timeout", "5"]) == 3
    err = capsys.readouterr().err
    assert "cannot be taken back" in err
