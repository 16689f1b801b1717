"""Receiver.session_info(): a read-only, frozen snapshot of a session, live or ended."""

from __future__ import annotations

import dataclasses
import random
from ipaddress import ip_address

import pytest

from pgm import wire
from pgm.engine import (
    EndReason,
    Receiver,
    ReceiverConfig,
    SessionEnded,
    SessionInfo,
    SessionStarted,
)

GROUP = ip_address("239.192.0.1")
SRC = ip_address("10.0.0.1")
GSI = b"abcdef"
TSI = wire.TSI(GSI, 1000)


def _spm(lead: int, sqn: int = 0, trail: int = 0, fin: bool = False) -> bytes:
    return wire.SPM(
        source_port=1000,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=sqn,
        spm_trail=trail,
        spm_lead=lead,
        path_nla=SRC,
        options=[wire.OptFin()] if fin else [],
    ).encode()


def _odata(sqn: int, data: bytes = b"x" * 100, trail: int = 0) -> bytes:
    return wire.ODATA(
        source_port=1000, destination_port=7500, gsi=GSI, data_sqn=sqn, data_trail=trail, data=data
    ).encode()


def _rx() -> Receiver:
    return Receiver(ReceiverConfig(), group=GROUP, rng=random.Random(1))


def test_unknown_session_has_no_info() -> None:
    assert _rx().session_info(TSI) is None


def test_live_session_snapshot_in_64_bit_numbers() -> None:
    r = _rx()
    r.receive(_spm(lead=0xFFFFFFFF - 2, trail=0xFFFFFFF0), SRC, 0.0, GROUP)  # starts at 2**32-2
    for sqn in (0xFFFFFFFE, 0xFFFFFFFF, 2, 3):  # 0 and 1 (64-bit 2**32, 2**32+1) missing
        r.receive(_odata(sqn, trail=0xFFFFFFF0), SRC, 0.5, GROUP)
    (started,) = [e for e in r.take_events() if isinstance(e, SessionStarted)]
    assert started.first_sqn == 0xFFFFFFFE and not started.ended_when_heard
    info = r.session_info(TSI)
    assert isinstance(info, SessionInfo)
    assert info.started and not info.ended and info.end_reason is None
    assert info.first_sqn == 0xFFFFFFFE
    assert (info.next, info.lead) == (1 << 32, (1 << 32) + 3)
    assert info.trail == 0xFFFFFFF0
    assert info.first_nak == 1 << 32
    assert (info.pending_naks, info.outstanding_naks) == (2, 0)
    assert (info.buffered_packets, info.buffered_bytes) == (2, 200)
    assert info.stats.odata_packets_received == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.next = 0  # type: ignore[misc]
    # A copy: the engine's counters move on, the snapshot does not.
    r.receive(_odata(4, trail=0xFFFFFFF0), SRC, 0.6, GROUP)
    assert info.stats.odata_packets_received == 4
    assert r.session_info(TSI).stats.odata_packets_received == 5  # type: ignore[union-attr]


def test_reading_rates_changes_nothing() -> None:
    r = _rx()
    r.receive(_spm(lead=0xFFFFFFFF), SRC, 0.0, GROUP)
    for i in range(10):
        r.receive(_odata(i), SRC, 0.1 * i, GROUP)
    a = r.session_info(TSI, now=1.5)
    b = r.session_info(TSI, now=1.5)
    assert a == b and a is not None and a.rate_kbps_last > 0
    s = r.sessions[TSI]
    assert s.rates_kbps(2.0) == s.rates_kbps(2.0)
    # The engine's own sample (on its next call after a second) sets the last interval.
    r.receive(_odata(10), SRC, 2.0, GROUP)
    before = s.rates_kbps(2.5)
    for _ in range(3):
        assert s.rates_kbps(2.5) == before


def test_ended_session_keeps_a_frozen_summary() -> None:
    r = _rx()
    r.receive(_spm(lead=0xFFFFFFFF), SRC, 0.0, GROUP)
    r.receive(_odata(0), SRC, 0.1, GROUP)
    r.receive(_odata(2), SRC, 0.2, GROUP)  # 1 missing
    r.receive(_spm(lead=2, sqn=1, fin=True), SRC, 0.3, GROUP)
    while TSI in r.sessions and (t := r.next_timer()) is not None:
        r.handle_timer(t)  # nobody answers the NAKs: the gap is given up, then FIN ends it
    ends = [e for e in r.take_events() if isinstance(e, SessionEnded)]
    assert [e.reason for e in ends] == ["fin"] and ends[0].reason is EndReason.FIN
    info = r.session_info(TSI)
    assert info is not None and info.ended and info.end_reason is EndReason.FIN
    assert info.buffered_packets == 0 and info.first_nak is None
    assert info.next == 3 and info.first_sqn == 0
    assert r.session_info(TSI, now=5000.0) == info  # frozen at the end


def test_session_that_had_ended_when_first_heard() -> None:
    r = _rx()
    r.receive(_spm(lead=41, sqn=7, trail=30, fin=True), SRC, 0.0, GROUP)
    r.handle_timer(r.config.fin_confirm)  # a FIN stands its confirmation time (security.md)
    evs = r.take_events()
    started = [e for e in evs if isinstance(e, SessionStarted)]
    assert started[0].ended_when_heard and started[0].first_sqn == 42
    assert [e.reason for e in evs if isinstance(e, SessionEnded)] == ["fin"]
    info = r.session_info(TSI)
    assert info is not None and info.ended_when_heard and info.ended
