"""Adaptive NAK waits (pgm.engine.receiver.rtt, ``adaptive_nak_timers=True``): a receiver that
has measured its source's answers waits about that long for an NCF or a repair, not the fixed
200 ms, and backs off doubling per retry up to the configured interval; with the option off
(the default) it waits the interval."""

from __future__ import annotations

import random

import pytest

from pgm import wire
from pgm.engine import DataReceived, NakState, Receiver, ReceiverConfig
from pgm.engine.receiver.rtt import RepairRtt
from tests.helpers import packets
from tests.helpers.addresses import DPORT, EMPTY_LEAD, GROUP, SESSION, SRC_ADDR


def _spm() -> bytes:
    return packets.spm(0, 0, EMPTY_LEAD).encode()


def _data(kind: type[wire.DataPacket], sqn: int) -> bytes:
    return packets.data_packet(kind, sqn, 0, b"d%d" % sqn).encode()


def _ncf(sqn: int) -> bytes:
    return packets.ncf(sqn).encode()


class Rx:
    def __init__(self, **cfg: object) -> None:
        cfg.setdefault("adaptive_nak_timers", True)
        self.r = Receiver(ReceiverConfig(**cfg), group=GROUP, dport=DPORT, rng=random.Random(3))  # type: ignore[arg-type]
        self.now = 0.0
        self.naks: list[tuple[float, list[int]]] = []
        self.feed(_spm())

    def feed(self, pkt: bytes, dt: float = 0.0) -> None:
        self.now += dt
        self.r.receive(pkt, SRC_ADDR, self.now, GROUP)
        self._sent()

    def run_until(self, t: float) -> None:
        self.now = t
        self.r.handle_timer(t)
        self._sent()

    def _sent(self) -> None:
        for pkt, _dst, _ttl in self.r.datagrams_to_send(self.now):
            p = wire.parse(pkt)
            if isinstance(p, wire.NAK):
                lst = p.option(wire.OptNakList)
                self.naks.append((self.now, [p.nak_sqn, *(lst.sqns if lst else [])]))

    def deadline(self, sqn: int) -> float:
        s = self.r.sessions[SESSION]
        return s.naks[s.unwrap(sqn)].deadline

    def state(self, sqn: int) -> NakState:
        s = self.r.sessions[SESSION]
        return s.nak_state(s.unwrap(sqn))

    def repair_round(self, sqn: int, ncf_after: float, rdata_after: float | None) -> float:
        """Let ``sqn``'s back-off expire (NAK), answer with an NCF ``ncf_after`` later and
        RDATA ``rdata_after`` after that (None: the repair is lost); returns the NCF's time."""
        self.run_until(self.deadline(sqn))
        assert self.naks and sqn in self.naks[-1][1]
        self.feed(_ncf(sqn), ncf_after)
        t_ncf = self.now
        if rdata_after is not None:
            self.feed(_data(wire.RDATA, sqn), rdata_after)
        return t_ncf


def test_estimator_follows_rfc6298_and_doubles_per_retry() -> None:
    e = RepairRtt()
    assert e.wait(0.2, 0.005, 0) == 0.2  # nothing measured: the configured interval
    e.sample(0.004)
    assert (e.srtt, e.rttvar) == (0.004, 0.002)
    assert e.wait(0.2, 0.005, 0) == pytest.approx(0.012)  # srtt + 4 rttvar
    e.sample(0.012)
    assert e.srtt == pytest.approx(0.005) and e.rttvar == pytest.approx(0.0035)
    assert e.wait(0.2, 0.005, 1) == pytest.approx(2 * (0.005 + 4 * 0.0035))
    assert e.wait(0.2, 0.005, 5) == 0.2  # doubling stops at the interval
    assert RepairRtt().wait(0.2, 0.005, 0) == 0.2
    f = RepairRtt()
    f.sample(0.0001)
    assert f.wait(0.2, 0.005, 0) == 0.005  # never below the floor


def test_a_lost_repair_is_asked_again_after_the_measured_wait_not_200_ms() -> None:
    rx = Rx(nak_timer_floor=0.005)
    rx.feed(_data(wire.ODATA, 0))
    rx.feed(_data(wire.ODATA, 2), 0.001)  # 1 missing
    rx.repair_round(1, 0.001, 0.001)  # NCF and RDATA 1 ms each: the first samples
    rx.feed(_data(wire.ODATA, 4), 0.001)  # 3 missing
    t_ncf = rx.repair_round(3, 0.001, None)  # its repair is lost
    assert rx.state(3) is NakState.WAIT_DATA
    assert rx.deadline(3) - t_ncf == pytest.approx(0.005)  # the floor, not nak_rdata_ivl
    rx.run_until(rx.deadline(3))
    assert rx.state(3) is NakState.BACK_OFF  # asked again after a back-off
    t2 = rx.repair_round(3, 0.001, None)  # lost again: the wait doubles
    assert rx.deadline(3) - t2 == pytest.approx(0.010)
    rx.feed(_data(wire.RDATA, 3), 0.002)
    got = [e.sqn for e in rx.r.take_events() if isinstance(e, DataReceived)]
    assert got == [0, 1, 2, 3, 4]
    s = rx.r.sessions[SESSION]
    assert s.rdata_rtt.samples == 1  # the answer after a retry is no sample (Karn)
    assert s.ncf_rtt.samples == 2


def test_fixed_waits_when_adaptive_timers_are_off() -> None:
    assert not ReceiverConfig().adaptive_nak_timers  # the default: OpenPGM's fixed waits
    rx = Rx(adaptive_nak_timers=False)
    rx.feed(_data(wire.ODATA, 0))
    rx.feed(_data(wire.ODATA, 2), 0.001)
    rx.repair_round(1, 0.001, 0.001)
    rx.feed(_data(wire.ODATA, 4), 0.001)
    t_ncf = rx.repair_round(3, 0.001, None)
    assert rx.deadline(3) - t_ncf == pytest.approx(0.200)  # NAK_RDATA_IVL, as OpenPGM


def test_a_lost_ncf_is_waited_for_as_long_as_measured() -> None:
    rx = Rx(nak_timer_floor=0.001)
    rx.feed(_data(wire.ODATA, 0))
    rx.feed(_data(wire.ODATA, 2), 0.001)
    rx.repair_round(1, 0.002, 0.001)  # NCF 2 ms after the NAK
    rx.feed(_data(wire.ODATA, 4), 0.001)
    rx.run_until(rx.deadline(3))  # NAK for 3; its NCF is lost
    t_nak = rx.now
    assert rx.state(3) is NakState.WAIT_NCF
    assert rx.deadline(3) - t_nak == pytest.approx(0.002 + 4 * 0.001)
