"""The facade's pgm extensions RM_PGM_ONLY_SOURCE / RM_PGM_ONLY_TSI pin the sessions a listener
accepts (issue 13, docs/windows-porting.md, docs/security.md "Session choice").

The option rules are checked on unconnected sockets; the pin itself on a real listener over UDP
on the loopback interface (TTL 0 multicast, nothing leaves the host), fed forged ODATA from two
loopback source addresses (tests/helpers/hostile.py).
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from ipaddress import IPv4Address

import pytest

import pgm
from pgm import rm, wire
from pgm.wire import TSI
from tests.helpers.hostile import Forger
from tests.rm.test_rm import GROUP, receiver, sender, wsa

RM = pgm.IPPROTO_RM
TSI_A = TSI(b"\x01\x02\x03\x04\x05\x06", 40001)
TSI_B = TSI(b"\x0a\x0b\x0c\x0d\x0e\x0f", 40002)
_ports = itertools.count(47240)


def test_extension_numbers_are_outside_the_windows_range() -> None:
    assert pgm.RM_PGM_ONLY_SOURCE == rm.RM_PGM_OPTIONSBASE + 1
    assert pgm.RM_PGM_ONLY_TSI == rm.RM_PGM_OPTIONSBASE + 2
    windows = {r.number for r in rm.OPTIONS}
    assert len(rm.OPTIONS) == 14  # the Windows table is untouched
    for r in rm.EXTENSIONS:
        assert r.number not in windows and not 1000 <= r.number <= 1100
        assert r.side == "receiver" and r.before and r.get and r.set
        assert r.apply is not None and r.read is not None and "pgm extension" in r.maps_to
        assert rm.EXTENSION_RULES[r.number] is r


@pytest.mark.parametrize(
    "value",
    ["10.0.0.7", IPv4Address("10.0.0.7"), ("10.0.0.7", 7500), socket.inet_aton("10.0.0.7"),
     struct.pack("<HH4s8x", socket.AF_INET, 7500, socket.inet_aton("10.0.0.7")),
     int.from_bytes(socket.inet_aton("10.0.0.7"), "little")],
)  # fmt: skip
def test_only_source_value_forms(value: object) -> None:
    with receiver() as r:
        assert r.getsockopt(RM, pgm.RM_PGM_ONLY_SOURCE) == 0  # unset: any source
        r.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, value)
        assert r.options.only_source == IPv4Address("10.0.0.7")
        assert r.getsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, 4) == socket.inet_aton("10.0.0.7")
        r.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, "0.0.0.0")
        assert r.options.only_source is None
        with wsa("WSAEINVAL"):
            r.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, GROUP)  # a group is no source
        with wsa("WSAEFAULT"):
            r.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, b"\x0a\x00")


def test_only_tsi_value_forms() -> None:
    wire_form = bytes(TSI_A.gsi) + TSI_A.source_port.to_bytes(2, "big")
    with receiver() as r:
        assert r.getsockopt(RM, pgm.RM_PGM_ONLY_TSI, 8) == b"\0" * 8
        for value in (TSI_A, str(TSI_A), wire_form):
            r.setsockopt(RM, pgm.RM_PGM_ONLY_TSI, value)
            assert r.options.only_tsi == TSI_A
            assert r.getsockopt(RM, pgm.RM_PGM_ONLY_TSI) == wire_form
            r.setsockopt(RM, pgm.RM_PGM_ONLY_TSI, b"\0" * 8)
            assert r.options.only_tsi is None
        with wsa("WSAEINVAL"):
            r.setsockopt(RM, pgm.RM_PGM_ONLY_TSI, "1.2.3")
        with wsa("WSAEFAULT"):
            r.setsockopt(RM, pgm.RM_PGM_ONLY_TSI, wire_form[:7])


def test_pins_are_receiver_options_set_before_listen() -> None:
    s = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM)
    with s, wsa("WSAEINVAL") as e:
        s.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, "10.0.0.7")  # not bound: no side yet
    assert "bind() first" in str(e.value)
    with sender() as tx, wsa("WSAENOPROTOOPT"):
        tx.setsockopt(RM, pgm.RM_PGM_ONLY_TSI, TSI_A)
    port = next(_ports)
    r = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM, transport="udp")
    with r:
        r.bind((GROUP, port))
        r.setsockopt(RM, pgm.RM_ADD_RECEIVE_IF, "127.0.0.1")
        r.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, "127.0.0.2")
        r.listen()
        for opt, value in ((pgm.RM_PGM_ONLY_SOURCE, "127.0.0.3"), (pgm.RM_PGM_ONLY_TSI, TSI_A)):
            with wsa("WSAEINVAL") as e:
                r.setsockopt(RM, opt, value)
            assert "before listen()" in str(e.value)
        assert r.getsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, 4) == socket.inet_aton("127.0.0.2")


def _forge(src: str, tsi: TSI, port: int, payload: bytes) -> None:
    """Three ODATA of session ``tsi`` from loopback address ``src`` (UDP encapsulation)."""
    f = Forger(tsi, GROUP, port)
    f.path = wire.as_nla(src)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with out:
        out.bind((src, 0))
        out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
        out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        for q in range(3):
            out.sendto(f.odata(q, payload, trail=0, options=[wire.OptSyn()] if not q else []),
                       (GROUP, port))  # fmt: skip


@pytest.mark.parametrize("pin", ["source", "tsi"])
def test_the_listener_accepts_only_the_pinned_source(pin: str) -> None:
    port = next(_ports)
    r = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM, transport="udp")
    with r:
        r.bind((GROUP, port))
        r.setsockopt(RM, pgm.RM_ADD_RECEIVE_IF, "127.0.0.1")
        if pin == "source":
            r.setsockopt(RM, pgm.RM_PGM_ONLY_SOURCE, ("127.0.0.2", 0))
        else:
            r.setsockopt(RM, pgm.RM_PGM_ONLY_TSI, TSI_B)
        r.listen()
        r.settimeout(20.0)
        # The unwanted session first, then the wanted one, each sent until it is heard.
        deadline = time.monotonic() + 30.0
        conn = None
        while conn is None and time.monotonic() < deadline:
            _forge("127.0.0.3", TSI_A, port, b"unwanted")
            _forge("127.0.0.2", TSI_B if pin == "tsi" else TSI_A._replace(source_port=1), port,
                   b"wanted")  # fmt: skip
            r.settimeout(0.5)
            try:
                conn, addr = r.accept()
            except TimeoutError:
                continue
        assert conn is not None, "the pinned session never arrived"
        with conn:
            assert addr[0] == "127.0.0.2"
            assert conn.recv(100) == b"wanted"
        r.setblocking(False)
        with wsa("WSAEWOULDBLOCK"):
            r.accept()  # the other session was never started
