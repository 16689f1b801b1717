"""The Windows-style facade without a network: constants, structures, errors, the option table
and every option row's rules on unconnected sockets, and the receive semantics of accepted
sockets fed with engine events (a stand-in for the PgmReceiver).

Over real sockets (connect/listen, statistics after a lossy transfer, the examples):
tests/rm/test_rm_net.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import re
import select
import selectors
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pgm
from pgm import rm, rmsocket
from pgm.engine import (
    DataReceived,
    Event,
    SessionEnded,
    SessionStarted,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.rm.base import SocketState
from pgm.rm.hub import Hub
from pgm.rm.listener import ListenerRole
from pgm.wire import TSI

ROOT = Path(__file__).resolve().parents[2]
GROUP = "239.192.0.1"
NOT_LOCAL = "198.51.100.77"  # TEST-NET-2: on no interface
U32 = st.integers(0, 0xFFFFFFFF)
U64 = st.integers(0, (1 << 64) - 1)


@contextlib.contextmanager
def wsa(name: str) -> Iterator[Any]:
    """Expect an RMError for Winsock error ``name``: errno, message and attributes."""
    with pytest.raises(pgm.RMError) as info:
        yield info
    e = info.value
    code, eno = rm.WSA_ERRORS[name]
    assert e.wsaname == name and e.wsaerror == code, e
    assert e.errno == eno, e
    assert f"{name} ({code})" in str(e), e


def sender(type: int = pgm.SOCK_RDM) -> rmsocket.RMSocket:
    s = pgm.socket(pgm.AF_INET, type, pgm.IPPROTO_RM)
    s.bind(("0.0.0.0", 0))
    return s


def receiver(type: int = pgm.SOCK_RDM) -> rmsocket.RMSocket:
    s = pgm.socket(pgm.AF_INET, type, pgm.IPPROTO_RM)
    s.bind((GROUP, 7500))
    return s


def readable(sock: Any) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


# -- constants ------------------------------------------------------------------------------------


def test_constants_have_windows_values() -> None:
    assert pgm.IPPROTO_RM == pgm.IPPROTO_PGM == 113
    assert (pgm.AF_INET, pgm.SOCK_STREAM, pgm.SOCK_RDM) == (2, 1, 4)
    assert pgm.AF_INET == socket.AF_INET and pgm.SOCK_STREAM == socket.SOCK_STREAM
    assert pgm.MSG_PARTIAL == 0x8000
    assert pgm.RM_OPTIONSBASE == 1000
    names = [
        "RM_RATE_WINDOW_SIZE", "RM_SET_MESSAGE_BOUNDARY", "RM_FLUSHCACHE",
        "RM_SENDER_WINDOW_ADVANCE_METHOD", "RM_SENDER_STATISTICS", "RM_LATEJOIN",
        "RM_SET_SEND_IF", "RM_ADD_RECEIVE_IF", "RM_DEL_RECEIVE_IF", "RM_SEND_WINDOW_ADV_RATE",
        "RM_USE_FEC", "RM_SET_MCAST_TTL", "RM_RECEIVER_STATISTICS", "RM_HIGH_SPEED_INTRANET_OPT",
    ]
    assert [getattr(pgm, n) for n in names] == list(range(1001, 1015))
    assert [r.name for r in rm.OPTIONS] == names
    assert pgm.E_WINDOW_ADVANCE_BY_TIME == 1 and pgm.E_WINDOW_USE_AS_DATA_CACHE == 2
    assert pgm.SENDER_DEFAULT_RATE_KBITS_PER_SEC == 56
    assert pgm.SENDER_DEFAULT_WINDOW_SIZE_BYTES == 10_000_000
    assert pgm.SENDER_DEFAULT_WINDOW_ADV_PERCENTAGE == 15
    assert pgm.MAX_WINDOW_INCREMENT_PERCENTAGE == 25
    assert pgm.SENDER_DEFAULT_LATE_JOINER_PERCENTAGE == 0
    assert pgm.SENDER_MAX_LATE_JOINER_PERCENTAGE == 75
    assert (pgm.BITS_PER_BYTE, pgm.LOG2_BITS_PER_BYTE, pgm.MAX_MCAST_TTL) == (8, 3, 255)
    assert (pgm.SD_RECEIVE, pgm.SD_SEND, pgm.SD_BOTH) == (
        socket.SHUT_RD, socket.SHUT_WR, socket.SHUT_RDWR)
    assert SourceConfig().max_apdu == rm.MAX_MESSAGE_BYTES
    codes = {"WSAEFAULT": 10014, "WSAEINVAL": 10022, "WSAEWOULDBLOCK": 10035,
             "WSAEMSGSIZE": 10040, "WSAENOPROTOOPT": 10042, "WSAEOPNOTSUPP": 10045,
             "WSAECONNRESET": 10054, "WSAENOTCONN": 10057, "WSAEDISCON": 10101}
    for name, code in codes.items():
        assert getattr(pgm, name) == code == rm.WSA_ERRORS[name][0]


def test_import_pgm_stays_socket_free_until_the_facade_is_used() -> None:
    code = (
        "import sys, pgm\n"
        "assert 'socket' not in sys.modules and 'pgm.rm' not in sys.modules\n"
        "assert pgm.IPPROTO_RM == 113 and pgm.RM_SEND_WINDOW().WindowSizeInBytes == 0\n"
        "assert 'socket' not in sys.modules, 'pgm.rm imported socket'\n"
        "s = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM); s.close()\n"
        "assert 'socket' in sys.modules\n"
        "assert 'RM_USE_FEC' in dir(pgm)\n"
        "try:\n    pgm.nonexistent\nexcept AttributeError:\n    print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# -- structures -----------------------------------------------------------------------------------


def test_structure_sizes_layouts_and_field_names() -> None:
    assert ctypes.sizeof(pgm.RM_SEND_WINDOW) == 12 and ctypes.alignment(pgm.RM_SEND_WINDOW) == 4
    assert ctypes.sizeof(pgm.RM_FEC_INFO) == 6 and ctypes.alignment(pgm.RM_FEC_INFO) == 2
    assert ctypes.sizeof(pgm.RM_SENDER_STATS) == 104
    assert ctypes.sizeof(pgm.RM_RECEIVER_STATS) == 144
    assert [f[0] for f in pgm.RM_SEND_WINDOW._fields_] == [
        "RateKbitsPerSec", "WindowSizeInMSecs", "WindowSizeInBytes"]
    assert [(f[0], getattr(pgm.RM_FEC_INFO, f[0]).offset) for f in pgm.RM_FEC_INFO._fields_] == [
        ("FECBlockSize", 0), ("FECProActivePackets", 2), ("FECGroupSize", 4),
        ("fFECOnDemandParityEnabled", 5)]
    sender_fields = [
        "DataBytesSent", "TotalBytesSent", "NaksReceived", "NaksReceivedTooLate",
        "NumOutstandingNaks", "NumNaksAfterRData", "RepairPacketsSent", "BufferSpaceAvailable",
        "TrailingEdgeSeqId", "LeadingEdgeSeqId", "RateKBitsPerSecOverall", "RateKBitsPerSecLast",
        "TotalODataPacketsSent"]
    receiver_fields = [
        "NumODataPacketsReceived", "NumRDataPacketsReceived", "NumDuplicateDataPackets",
        "DataBytesReceived", "TotalBytesReceived", "RateKBitsPerSecOverall",
        "RateKBitsPerSecLast", "TrailingEdgeSeqId", "LeadingEdgeSeqId",
        "AverageSequencesInWindow", "MinSequencesInWindow", "MaxSequencesInWindow",
        "FirstNakSequenceNumber", "NumPendingNaks", "NumOutstandingNaks",
        "NumDataPacketsBuffered", "TotalSelectiveNaksSent", "TotalParityNaksSent"]
    for cls, names in ((pgm.RM_SENDER_STATS, sender_fields),
                       (pgm.RM_RECEIVER_STATS, receiver_fields)):
        assert [(f[0], getattr(cls, f[0]).offset) for f in cls._fields_] == [
            (n, 8 * i) for i, n in enumerate(names)]


@given(U32, U32, U32)
def test_send_window_bytes_match_hand_packed(a: int, b: int, c: int) -> None:
    w = pgm.RM_SEND_WINDOW(a, b, c)
    raw = struct.pack("<3I", a, b, c)
    assert bytes(w) == raw
    assert pgm.RM_SEND_WINDOW.from_buffer_copy(raw) == w
    assert dict(w.items()) == {"RateKbitsPerSec": a, "WindowSizeInMSecs": b,
                               "WindowSizeInBytes": c}


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 255))
def test_fec_info_bytes_match_hand_packed(n: int, p: int, k: int, f: int) -> None:
    info = pgm.RM_FEC_INFO(n, p, k, f)
    raw = struct.pack("<HHBB", n, p, k, f)
    assert bytes(info) == raw and pgm.RM_FEC_INFO.from_buffer_copy(raw) == info


@given(st.lists(U64, min_size=13, max_size=13), st.lists(U64, min_size=18, max_size=18))
def test_stats_bytes_match_hand_packed(s13: list[int], r18: list[int]) -> None:
    s = pgm.RM_SENDER_STATS(*s13)
    assert bytes(s) == struct.pack("<13Q", *s13)
    assert pgm.RM_SENDER_STATS.from_buffer_copy(struct.pack("<13Q", *s13)) == s
    r = pgm.RM_RECEIVER_STATS(*r18)
    assert bytes(r) == struct.pack("<18Q", *r18)
    assert list(dict(r.items()).values()) == r18


def test_structures_compare_and_print_by_value() -> None:
    assert pgm.RM_SEND_WINDOW(1, 2, 3) == pgm.RM_SEND_WINDOW(1, 2, 3)
    assert pgm.RM_SEND_WINDOW(1, 2, 3) != pgm.RM_SEND_WINDOW(1, 2, 4)
    assert pgm.RM_SEND_WINDOW(1, 2, 3) != b"\x01\0\0\0\x02\0\0\0\x03\0\0\0"
    assert repr(pgm.RM_FEC_INFO(255, 0, 4, 1)) == (
        "RM_FEC_INFO(FECBlockSize=255, FECProActivePackets=0, FECGroupSize=4, "
        "fFECOnDemandParityEnabled=1)")


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("WSAEWOULDBLOCK", BlockingIOError),
        ("WSAECONNRESET", ConnectionResetError),
        ("WSAETIMEDOUT", TimeoutError),
        ("WSAEMSGSIZE", pgm.RMMessageSize),
        ("WSAEINVAL", OSError),
        ("WSAENOPROTOOPT", OSError),
        ("WSAEFAULT", OSError),
        ("WSAEOPNOTSUPP", OSError),
        ("WSAENOTCONN", OSError),
    ],
)
def test_errors_are_oserrors_with_the_winsock_name(name: str, base: type[OSError]) -> None:
    with wsa(name) as info:
        raise rm.rm_error(name, "detail")
    assert isinstance(info.value, base) and isinstance(info.value, OSError)
    assert str(info.value).endswith("detail")


def test_posix_errnos_of_the_errors() -> None:
    assert rm.WSA_ERRORS["WSAEWOULDBLOCK"][1] == errno.EWOULDBLOCK
    assert rm.WSA_ERRORS["WSAEINVAL"][1] == errno.EINVAL
    assert rm.WSA_ERRORS["WSAENOPROTOOPT"][1] == errno.ENOPROTOOPT
    assert rm.WSA_ERRORS["WSAEFAULT"][1] == errno.EFAULT
    assert rm.WSA_ERRORS["WSAEMSGSIZE"][1] == errno.EMSGSIZE
    assert rm.WSA_ERRORS["WSAECONNRESET"][1] == errno.ECONNRESET
    assert rm.WSA_ERRORS["WSAENOTSOCK"][1] == errno.EBADF


# -- the option table and its rule functions ------------------------------------------------------


def test_option_table_is_consistent() -> None:
    assert len(rm.OPTIONS) == 14 and len(rm.OPTION_RULES) == 14
    for r in rm.OPTIONS:
        assert getattr(pgm, r.name) == r.number
        if r.struct is not None:
            assert ctypes.sizeof(r.struct) == r.size
        elif r.value != "NONE":
            assert r.size == 4
        assert r.get or r.set
        assert r.maps_to
    settable_anytime = {r.name for r in rm.OPTIONS if r.set and not r.before}
    assert settable_anytime == {"RM_SET_MESSAGE_BOUNDARY", "RM_FLUSHCACHE"}


def test_every_option_row_carries_its_handlers() -> None:
    """The table is the dispatch: a row may be set iff it has ``apply``, read iff ``read``."""
    for r in rm.OPTIONS:
        assert (r.apply is not None) == (r.set and r.implemented), r.name
        assert (r.read is not None) == r.get, r.name


def test_setsockopt_replaces_the_frozen_option_record() -> None:
    with sender() as s:
        before = s.options
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, 10)
        assert s.options is not before and before.latejoin == 0 and s.options.latejoin == 10
        with pytest.raises(AttributeError):
            s.options.latejoin = 20  # type: ignore[misc]
    assert pgm.socket is pgm.RMSocket is rmsocket.RMSocket


def test_porting_page_covers_every_option_and_error() -> None:
    text = (ROOT / "docs" / "windows-porting.md").read_text()
    for r in rm.OPTIONS:
        assert r.name in text, r.name
    for name in rm.WSA_ERRORS:
        if name != "WSAEDISCON":
            assert name in text, name
    for call in ("socket", "bind", "connect", "listen", "accept", "recv", "send", "setsockopt",
                 "getsockopt", "closesocket", "shutdown", "select", "WSARecv", "ioctlsocket"):
        assert call in text, call


DEFAULT_WINDOW = pgm.RM_SEND_WINDOW(56, 1428571, 10_000_000)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((1000, 2000, 0), (1000, 2000, 250_000)),  # rate + ms -> bytes
        ((1000, 0, 250_000), (1000, 2000, 250_000)),  # rate + bytes -> ms
        ((0, 2000, 250_000), (1000, 2000, 250_000)),  # ms + bytes -> rate
        ((1000, 2000, 250_000), (1000, 2000, 250_000)),  # consistent three
        ((56, 1428571, 10_000_000), (56, 1428571, 10_000_000)),  # the defaults (rounded)
        ((1000, 0, 0), (1000, 1428571, 178_571_375)),  # rate only: keep the current ms
        ((0, 2000, 0), (56, 2000, 14_000)),  # ms only: keep the current rate
        ((0, 0, 14_000), (56, 2000, 14_000)),  # bytes only: keep the rate, derive ms
    ],
)
def test_resolve_send_window(given: tuple[int, int, int], expected: tuple[int, int, int]) -> None:
    got = rm.resolve_send_window(DEFAULT_WINDOW, pgm.RM_SEND_WINDOW(*given))
    assert got == pgm.RM_SEND_WINDOW(*expected)


@pytest.mark.parametrize(
    "given",
    [
        (0, 0, 0),  # nothing
        (1000, 2000, 999_999),  # three that disagree
        (0, 2000, 1),  # derived rate 0
        (1_000_000, 100_000, 0),  # derived bytes beyond a ULONG
    ],
)
def test_resolve_send_window_rejects(given: tuple[int, int, int]) -> None:
    with wsa("WSAEINVAL"):
        rm.resolve_send_window(DEFAULT_WINDOW, pgm.RM_SEND_WINDOW(*given))


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_any_two_members_fix_the_third(rate: int, ms: int) -> None:
    nbytes = rate * ms // 8
    if not 0 < nbytes <= 0xFFFFFFFF:
        return
    full = rm.resolve_send_window(DEFAULT_WINDOW, pgm.RM_SEND_WINDOW(rate, ms, 0))
    assert full == pgm.RM_SEND_WINDOW(rate, ms, nbytes)
    # the result is always self-consistent: setting it back is accepted unchanged
    assert rm.resolve_send_window(DEFAULT_WINDOW, full) == full


@pytest.mark.parametrize(
    "info",
    [(255, 0, 4, 1), (255, 4, 4, 0), (255, 8, 128, 1), (16, 12, 4, 0), (3, 1, 2, 0)],
)
def test_fec_accepted(info: tuple[int, int, int, int]) -> None:
    rm.check_fec(pgm.RM_FEC_INFO(*info))


@pytest.mark.parametrize(
    ("info", "why"),
    [
        ((256, 0, 4, 1), "FECBlockSize"),  # > 255
        ((0, 0, 4, 1), "FECBlockSize"),  # 0 is not "the default"
        ((255, 0, 3, 1), "power of two"),
        ((255, 0, 1, 1), "power of two"),  # k >= 2
        ((255, 0, 0, 1), "power of two"),
        ((255, 0, 4, 0), "neither"),  # no mode at all
        ((4, 0, 4, 1), "smaller"),  # k < n
        ((8, 5, 4, 0), "exceeds"),  # k + proactive <= n
    ],
)
def test_fec_rejected(info: tuple[int, int, int, int], why: str) -> None:
    with wsa("WSAEINVAL") as e:
        rm.check_fec(pgm.RM_FEC_INFO(*info))
    assert why in str(e.value)


# -- the socket: creation, state rules, generic option rules --------------------------------------


def test_socket_arguments() -> None:
    with pgm.socket() as s:
        assert (s.family, s.type, s.proto) == (2, 4, 113)
    with wsa("WSAEAFNOSUPPORT"):
        pgm.socket(socket.AF_INET6, pgm.SOCK_RDM, pgm.IPPROTO_RM)
    with wsa("WSAESOCKTNOSUPPORT"):
        pgm.socket(pgm.AF_INET, socket.SOCK_DGRAM, pgm.IPPROTO_RM)
    with wsa("WSAEPROTONOSUPPORT"):
        pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, 0)
    with pytest.raises(ValueError):
        pgm.socket(transport="tcp")
    with pgm.socket(pgm.AF_INET, pgm.SOCK_STREAM, pgm.IPPROTO_PGM, transport="udp") as s:
        assert s.type == pgm.SOCK_STREAM and "SOCK_STREAM" in repr(s)


def test_timeouts_and_blocking_mode() -> None:
    with pgm.socket() as s:
        assert s.gettimeout() is None and s.getblocking()
        s.setblocking(False)
        assert s.gettimeout() == 0.0 and not s.getblocking()
        s.settimeout(1.5)
        assert s.gettimeout() == 1.5 and s.getblocking()
        s.setblocking(True)
        assert s.gettimeout() is None
        with pytest.raises(ValueError):
            s.settimeout(-1)


def test_fileno_is_selectable_and_closed_socket_fails() -> None:
    s = pgm.socket()
    fd = s.fileno()
    assert fd >= 0 and not readable(s)
    with selectors.DefaultSelector() as sel:
        sel.register(s, selectors.EVENT_READ)
        assert sel.select(0) == []
    s.close()
    s.close()  # idempotent
    assert s.fileno() == -1
    for call in (lambda: s.bind(("0.0.0.0", 0)), lambda: s.getsockname(),
                 lambda: s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, 1),
                 lambda: s.send(b"x"), lambda: s.recv(1)):
        with wsa("WSAENOTSOCK"):
            call()


def test_bind_decides_the_role() -> None:
    with sender() as s:
        assert s.getsockname() == ("0.0.0.0", 0)  # the port is ignored
        with wsa("WSAEINVAL"):
            s.bind(("0.0.0.0", 0))  # twice
        with wsa("WSAEINVAL"):
            s.listen()  # a sender does not listen
        with wsa("WSAEINVAL"):
            s.accept()
        with wsa("WSAENOTCONN"):
            s.send(b"x")  # not connected yet
        with wsa("WSAEOPNOTSUPP"):
            s.recv(10)  # a sender never receives
        with wsa("WSAENOTCONN"):
            s.getpeername()
        with wsa("WSAENOTCONN"):
            s.shutdown(pgm.SD_SEND)
        with wsa("WSAEINVAL"):
            s.connect(("10.0.0.1", 7500))  # not a group
        with wsa("WSAEINVAL"):
            s.connect((GROUP, 0))
    with receiver() as r:
        assert r.getsockname() == (GROUP, 7500)
        with wsa("WSAEINVAL"):
            r.connect((GROUP, 7500))  # a receiver does not connect
        with wsa("WSAEOPNOTSUPP"):
            r.send(b"x")  # sending on a receiver
        with wsa("WSAENOTCONN"):
            r.recv(10)  # the listening socket has no session
        with wsa("WSAEINVAL"):
            r.accept()  # before listen
    with pgm.socket() as s:
        with wsa("WSAEINVAL"):
            s.listen()  # unbound
        with wsa("WSAEINVAL"):
            s.bind((GROUP, 0))  # a receiver needs the port
        with wsa("WSAEINVAL"):
            s.bind(("not an address", 1))
        with wsa("WSAEADDRNOTAVAIL"):
            s.bind((NOT_LOCAL, 0))
        with pytest.raises(TypeError):
            s.bind("0.0.0.0")  # type: ignore[arg-type]


def test_options_need_bind_first_and_a_known_option_and_level() -> None:
    with pgm.socket() as s:
        with wsa("WSAEINVAL") as e:
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, 10)
        assert "bind" in str(e.value)
        with wsa("WSAEINVAL"):
            s.getsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE)
    with sender() as s:
        for opt in (999, 1000, 1015, 2000):
            with wsa("WSAENOPROTOOPT"):
                s.setsockopt(pgm.IPPROTO_RM, opt, 1)
            with wsa("WSAENOPROTOOPT"):
                s.getsockopt(pgm.IPPROTO_RM, opt)
        with wsa("WSAEINVAL"):
            s.setsockopt(socket.IPPROTO_IP, pgm.RM_LATEJOIN, 1)  # wrong level
        with wsa("WSAENOPROTOOPT"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        with pytest.raises(TypeError):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, "10")
        with pytest.raises(TypeError):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, 1.5)
        with wsa("WSAEINVAL"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, 1 << 32)  # not a ULONG


def test_sol_socket_options_are_stored() -> None:
    with sender() as s:
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == pgm.SOCK_RDM
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 1 << 20
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, struct.pack("<i", 4096))
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4) == struct.pack("<i", 4096)
        with wsa("WSAEFAULT"):
            s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2)


def test_wrong_side_is_enoprotoopt_for_every_one_sided_option() -> None:
    with sender() as s, receiver() as r:
        for rule in rm.OPTIONS:
            if rule.side in ("both", "any"):
                continue
            wrong = r if rule.side == "sender" else s
            for op in ("set", "get"):
                if not getattr(rule, op):
                    continue
                with wsa("WSAENOPROTOOPT") as e:
                    if op == "set":
                        wrong.setsockopt(pgm.IPPROTO_RM, rule.number, b"\0" * max(rule.size, 4))
                    else:
                        wrong.getsockopt(pgm.IPPROTO_RM, rule.number)
                assert rule.name in str(e.value)


def test_direction_not_allowed_is_enoprotoopt() -> None:
    with sender() as s, receiver() as r:
        for rule in rm.OPTIONS:
            if not rule.implemented:
                continue
            sock = r if rule.side == "receiver" else s
            if not rule.get:
                with wsa("WSAENOPROTOOPT"):
                    sock.getsockopt(pgm.IPPROTO_RM, rule.number)
            if not rule.set:
                with wsa("WSAENOPROTOOPT"):
                    sock.setsockopt(pgm.IPPROTO_RM, rule.number, b"\0" * rule.size)


def test_short_values_are_efault_longer_ones_are_accepted() -> None:
    with sender() as s, receiver() as r:
        for rule in rm.OPTIONS:
            sock = r if rule.side == "receiver" else s
            if rule.set and rule.size:
                with wsa("WSAEFAULT"):
                    sock.setsockopt(pgm.IPPROTO_RM, rule.number, b"\0" * (rule.size - 1))
            if rule.get and rule.implemented and not rule.needs_session:
                with wsa("WSAEFAULT"):
                    sock.getsockopt(pgm.IPPROTO_RM, rule.number, rule.size - 1)
                raw = sock.getsockopt(pgm.IPPROTO_RM, rule.number, rule.size + 16)
                assert isinstance(raw, bytes) and len(raw) == rule.size
        # Winsock reads only optlen's first bytes of a longer buffer
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, struct.pack("<II", 20, 99))
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN) == 20
        # a NULL optval (None, optlen) is a fault for options that need a value
        with wsa("WSAEFAULT"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, None, 4)


# -- each option row ------------------------------------------------------------------------------


def test_rm_rate_window_size() -> None:
    with sender() as s:
        got = s.getsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE)
        assert got == pgm.RM_SEND_WINDOW(56, 1428571, 10_000_000)  # Windows' defaults
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, 12) == struct.pack(
            "<3I", 56, 1428571, 10_000_000)
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, pgm.RM_SEND_WINDOW(8000, 500, 0))
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE) == pgm.RM_SEND_WINDOW(
            8000, 500, 500_000)
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, struct.pack("<3I", 0, 0, 1_000_000))
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE) == pgm.RM_SEND_WINDOW(
            8000, 1000, 1_000_000)
        with wsa("WSAEINVAL"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, pgm.RM_SEND_WINDOW(1, 1, 1))
        with wsa("WSAEFAULT"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, 1000)  # an int is 4 bytes
        # the failed calls changed nothing
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE).RateKbitsPerSec == 8000


def test_rm_set_message_boundary_rules() -> None:
    with sender() as s:
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MESSAGE_BOUNDARY, 2_000_000)
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MESSAGE_BOUNDARY, struct.pack("<I", 10))
        for bad in (0, rm.MAX_MESSAGE_BYTES + 1):
            with wsa("WSAEINVAL"):
                s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MESSAGE_BOUNDARY, bad)
        with wsa("WSAENOPROTOOPT"):
            s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MESSAGE_BOUNDARY)
    with sender(pgm.SOCK_STREAM) as s, wsa("WSAENOPROTOOPT") as e:
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MESSAGE_BOUNDARY, 100)
    assert "SOCK_RDM" in str(e.value)


def test_rm_flushcache_is_not_implemented_anywhere() -> None:
    with pgm.socket() as u, sender() as s, receiver() as r:
        for sock in (u, s, r):
            with wsa("WSAEOPNOTSUPP"):
                sock.setsockopt(pgm.IPPROTO_RM, pgm.RM_FLUSHCACHE, None, 0)
            with wsa("WSAEOPNOTSUPP"):
                sock.setsockopt(pgm.IPPROTO_RM, pgm.RM_FLUSHCACHE, 1)
            with wsa("WSAEOPNOTSUPP"):
                sock.getsockopt(pgm.IPPROTO_RM, pgm.RM_FLUSHCACHE)


def test_rm_sender_window_advance_method() -> None:
    with sender() as s:
        opt = pgm.RM_SENDER_WINDOW_ADVANCE_METHOD
        assert s.getsockopt(pgm.IPPROTO_RM, opt) == pgm.E_WINDOW_ADVANCE_BY_TIME
        s.setsockopt(pgm.IPPROTO_RM, opt, pgm.E_WINDOW_ADVANCE_BY_TIME)
        with wsa("WSAEOPNOTSUPP"):
            s.setsockopt(pgm.IPPROTO_RM, opt, pgm.E_WINDOW_USE_AS_DATA_CACHE)
        for bad in (0, 3):
            with wsa("WSAEINVAL"):
                s.setsockopt(pgm.IPPROTO_RM, opt, bad)
        assert s.getsockopt(pgm.IPPROTO_RM, opt, 4) == struct.pack("<I", 1)


def test_rm_sender_statistics_needs_a_session() -> None:
    with sender() as s:
        with wsa("WSAENOTCONN"):
            s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SENDER_STATISTICS)
        with wsa("WSAENOPROTOOPT"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SENDER_STATISTICS, bytes(104))
        with wsa("WSAEFAULT"):
            s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SENDER_STATISTICS, 103)


def test_rm_latejoin() -> None:
    with sender() as s:
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN) == 0
        for ok in (75, 0, 30):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, ok)
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN) == 30
        for bad in (76, 100, -1):
            with wsa("WSAEINVAL"):
                s.setsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN, bad)
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_LATEJOIN) == 30


def test_rm_set_send_if_value_forms() -> None:
    lo = socket.inet_aton("127.0.0.1")
    as_int = int.from_bytes(lo, "little")  # what inet_addr() returns on (little-endian) Windows
    with sender() as s:
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF) == 0
        for value in (lo, "127.0.0.1", IPv4Address("127.0.0.1"), as_int):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF, 0)  # INADDR_ANY: the default again
            assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF) == 0
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF, value)
            assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF) == as_int
            assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF, 4) == lo
        with wsa("WSAEADDRNOTAVAIL"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF, socket.inet_aton(NOT_LOCAL))
        with wsa("WSAEINVAL"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF, "10.0.0.300")
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_SEND_IF, 4) == lo  # unchanged


def test_rm_add_and_del_receive_if() -> None:
    lo = socket.inet_aton("127.0.0.1")
    with receiver() as r:
        with wsa("WSAEINVAL"):
            r.setsockopt(pgm.IPPROTO_RM, pgm.RM_DEL_RECEIVE_IF, lo)  # never added
        r.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, lo)
        r.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, "127.0.0.1")  # again: no change
        r.setsockopt(pgm.IPPROTO_RM, pgm.RM_DEL_RECEIVE_IF, lo)
        with wsa("WSAEINVAL"):
            r.setsockopt(pgm.IPPROTO_RM, pgm.RM_DEL_RECEIVE_IF, lo)  # gone
        with wsa("WSAEADDRNOTAVAIL"):
            r.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, socket.inet_aton(NOT_LOCAL))
        for bad in ("0.0.0.0", GROUP):
            with wsa("WSAEINVAL"):
                r.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, bad)
        for opt in (pgm.RM_ADD_RECEIVE_IF, pgm.RM_DEL_RECEIVE_IF):
            with wsa("WSAENOPROTOOPT"):
                r.getsockopt(pgm.IPPROTO_RM, opt)


def test_rm_send_window_adv_rate() -> None:
    with sender() as s:
        opt = pgm.RM_SEND_WINDOW_ADV_RATE
        assert s.getsockopt(pgm.IPPROTO_RM, opt) == 15
        for ok in (1, 20, 25):  # up to MAX_WINDOW_INCREMENT_PERCENTAGE inclusive
            s.setsockopt(pgm.IPPROTO_RM, opt, ok)
            assert s.getsockopt(pgm.IPPROTO_RM, opt) == ok
        for bad in (0, 26, 50, 100):  # 50, the docs' maximum, fails as on Windows
            with wsa("WSAEINVAL"):
                s.setsockopt(pgm.IPPROTO_RM, opt, bad)


def test_rm_use_fec_validated_and_stored() -> None:
    with sender() as s:
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC) == pgm.RM_FEC_INFO()  # off
        info = pgm.RM_FEC_INFO(FECBlockSize=255, FECProActivePackets=0, FECGroupSize=4,
                               fFECOnDemandParityEnabled=1)
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC, info)
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC) == info
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC, 6) == struct.pack(
            "<HHBB", 255, 0, 4, 1)
        s.setsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC, struct.pack("<HHBB", 64, 8, 16, 0))
        with wsa("WSAEINVAL"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC, pgm.RM_FEC_INFO(255, 0, 6, 1))
        assert s.getsockopt(pgm.IPPROTO_RM, pgm.RM_USE_FEC) == pgm.RM_FEC_INFO(64, 8, 16, 0)


def test_rm_set_mcast_ttl() -> None:
    with sender() as s:
        for ok in (0, 1, 255):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MCAST_TTL, ok)
        with wsa("WSAEINVAL"):
            s.setsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MCAST_TTL, 256)
        with wsa("WSAENOPROTOOPT"):
            s.getsockopt(pgm.IPPROTO_RM, pgm.RM_SET_MCAST_TTL)


def test_rm_receiver_statistics_needs_an_accepted_socket() -> None:
    with receiver() as r:
        with wsa("WSAENOTCONN"):
            r.getsockopt(pgm.IPPROTO_RM, pgm.RM_RECEIVER_STATISTICS)
        with wsa("WSAENOPROTOOPT"):
            r.setsockopt(pgm.IPPROTO_RM, pgm.RM_RECEIVER_STATISTICS, bytes(144))
        with wsa("WSAEFAULT"):
            r.getsockopt(pgm.IPPROTO_RM, pgm.RM_RECEIVER_STATISTICS, 143)


def test_rm_high_speed_intranet_opt_on_both_sides() -> None:
    with sender() as s, receiver() as r:
        for sock in (s, r):
            opt = pgm.RM_HIGH_SPEED_INTRANET_OPT
            assert sock.getsockopt(pgm.IPPROTO_RM, opt) == 0
            sock.setsockopt(pgm.IPPROTO_RM, opt, 1)
            assert sock.getsockopt(pgm.IPPROTO_RM, opt) == 1
            sock.setsockopt(pgm.IPPROTO_RM, opt, 7)  # BOOL: non-zero is TRUE
            assert sock.getsockopt(pgm.IPPROTO_RM, opt, 4) == struct.pack("<I", 1)
            sock.setsockopt(pgm.IPPROTO_RM, opt, 0)
            assert sock.getsockopt(pgm.IPPROTO_RM, opt) == 0


# -- accepted sockets fed with engine events ------------------------------------------------------


class FakeRx:
    """Stands in for the PgmReceiver behind a hub: events are fed by hand."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pending: list[Event] = []
        self.error: BaseException | None = None
        self.closed = False

    def session_info(self, tsi: TSI) -> None:
        return None  # the engine knows no session

    def next_events(self, timeout: float | None = None) -> list[Event]:
        out, self.pending = self.pending, []
        return out

    def close(self) -> None:
        self.closed = True


class Fed:
    """A listening socket whose receiver is a FakeRx."""

    def __init__(self, type: int = pgm.SOCK_RDM, limit: int = 1 << 20) -> None:
        self.sock = receiver(type)
        self.hub = Hub(limit)
        self.hub.listener = self.sock
        role = ListenerRole()
        role.hub = self.hub
        self.sock._role = role
        self.sock._state = SocketState.LISTENING
        self.rx = FakeRx()
        self.hub.attach(self.rx)  # type: ignore[arg-type]

    def feed(self, *events: Event) -> None:
        with self.rx.lock:
            self.rx.pending.extend(events)
            self.hub.on_events()


TSI1 = TSI(b"\x01\x02\x03\x04\x05\x06", 40001)
TSI2 = TSI(b"\x0a\x0b\x0c\x0d\x0e\x0f", 40002)
SRC = IPv4Address("10.0.0.1")


def started(tsi: TSI = TSI1) -> SessionStarted:
    return SessionStarted(tsi, SRC)


def data(payload: bytes, tsi: TSI = TSI1, sqn: int = 0) -> DataReceived:
    return DataReceived(tsi, payload, sqn)


def test_a_session_is_acceptable_once_data_arrives() -> None:
    f = Fed()
    f.sock.setblocking(False)
    f.feed(started())  # SPMs only: nothing to accept (Windows' listen waits for ODATA)
    assert not readable(f.sock)
    with wsa("WSAEWOULDBLOCK") as e:
        f.sock.accept()
    assert isinstance(e.value, BlockingIOError) and e.value.errno == errno.EWOULDBLOCK
    f.feed(data(b"hello"))
    assert readable(f.sock)
    conn, addr = f.sock.accept()
    assert addr == ("10.0.0.1", 40001) == conn.getpeername()
    assert conn.getsockname() == (GROUP, 7500) and conn.tsi == TSI1
    assert not readable(f.sock) and readable(conn)
    assert conn.recv(100) == b"hello"
    assert not readable(conn)
    f.sock.settimeout(0.05)
    with wsa("WSAETIMEDOUT") as e:
        f.sock.accept()
    assert isinstance(e.value, TimeoutError)
    conn.close()
    f.sock.close()
    assert f.rx.closed


def test_rdm_keeps_boundaries_and_partial_reads() -> None:
    f = Fed()
    f.feed(started(), data(b"0123456789"), data(b"abc"), data(b"XY"))
    conn, _ = f.sock.accept()
    with wsa("WSAEMSGSIZE") as e:
        conn.recv(4)
    assert e.value.partial == b"0123" and "6 more bytes" in str(e.value)
    with wsa("WSAEMSGSIZE") as e:
        conn.recv(4)
    assert e.value.partial == b"4567"
    assert conn.recv(4) == b"89"  # the last piece returns normally
    assert conn.recv(100) == b"abc"  # one message even with a bigger buffer
    buf = bytearray(1)
    with wsa("WSAEMSGSIZE") as e:
        conn.recv_into(buf)
    assert e.value.nbytes == 1 and buf == b"X"
    assert conn.recvfrom(10) == (b"Y", ("10.0.0.1", 40001))


def test_recvmsg_reports_msg_partial() -> None:
    f = Fed()
    f.feed(started(), data(b"0123456789"), data(b"z"))
    conn, _ = f.sock.accept()
    assert conn.recvmsg(6) == (b"012345", [], pgm.MSG_PARTIAL, ("10.0.0.1", 40001))
    assert conn.recvmsg(6)[:3] == (b"6789", [], 0)
    assert conn.recvmsg(6)[:3] == (b"z", [], 0)
    buf = bytearray(8)
    f.feed(data(b"abcdefgh"))
    assert conn.recvfrom_into(buf, 8) == (8, ("10.0.0.1", 40001)) and buf == b"abcdefgh"


def test_stream_mode_is_a_byte_stream() -> None:
    f = Fed(pgm.SOCK_STREAM)
    f.feed(started(), data(b"abc"), data(b"defg"), data(b"hij"))
    conn, _ = f.sock.accept()
    assert conn.recv(5) == b"abcde"
    assert conn.recv(3) == b"fgh"
    buf = bytearray(10)
    assert conn.recv_into(buf) == 2 and buf[:2] == b"ij"
    f.feed(SessionEnded(TSI1, "fin"))
    assert conn.recv(10) == b""


def test_graceful_end_reads_empty_every_time() -> None:
    f = Fed()
    f.feed(started(), data(b"last"), SessionEnded(TSI1, "fin"))
    conn, _ = f.sock.accept()
    assert conn.recv(10) == b"last"
    assert readable(conn)  # the end is readable, like EOF
    assert conn.recv(10) == b""
    assert conn.recv(10) == b""
    assert conn.recvmsg(10)[0] == b""


@pytest.mark.parametrize(
    ("end", "why"),
    [
        (UnrecoverableLoss(TSI1, 7, 9, "retries"), "unrecoverable loss of sequence numbers 7-9"),
        (UnrecoverableLoss(TSI1, 3, 3, "window"), "window"),
        (SessionEnded(TSI1, "rst"), "OPT_RST"),
        (SessionEnded(TSI1, "expired"), "expired"),
    ],
)
def test_loss_and_aborts_reset_the_session_for_good(end: Event, why: str) -> None:
    f = Fed()
    f.feed(started(), data(b"before"), end, data(b"after"), SessionEnded(TSI1, "fin"))
    conn, _ = f.sock.accept()
    assert conn.recv(100) == b"before"  # data before the gap comes first
    for _ in range(2):  # sticky: every later receive fails the same way
        with wsa("WSAECONNRESET") as e:
            conn.recv(100)
        assert isinstance(e.value, ConnectionResetError) and why in str(e.value)
    with wsa("WSAECONNRESET"):
        conn.recvmsg(100)


def test_loss_before_the_first_message_does_not_reset() -> None:
    f = Fed()
    f.feed(started(), UnrecoverableLoss(TSI1, 0, 4, "fragment"), data(b"first whole"))
    conn, _ = f.sock.accept()
    assert conn.recv(100) == b"first whole"


def test_sessions_that_end_without_data_are_never_offered() -> None:
    f = Fed()
    f.sock.setblocking(False)
    f.feed(started(), SessionEnded(TSI1, "fin"), data(b"", TSI1))
    with wsa("WSAEWOULDBLOCK"):
        f.sock.accept()
    assert TSI1 not in f.hub.demux.sessions


def test_empty_messages_are_skipped() -> None:
    f = Fed()
    f.feed(started(), data(b""), data(b"x"), data(b""), data(b"y"))
    conn, _ = f.sock.accept()
    assert conn.recv(10) == b"x" and conn.recv(10) == b"y"


def test_one_socket_per_session_and_select_per_socket() -> None:
    f = Fed()
    f.feed(started(TSI1), started(TSI2), data(b"one", TSI1), data(b"two", TSI2))
    c1, a1 = f.sock.accept()
    c2, a2 = f.sock.accept()
    assert {a1[1], a2[1]} == {40001, 40002}
    by_port = {a1[1]: c1, a2[1]: c2}
    with selectors.DefaultSelector() as sel:
        sel.register(by_port[40001], selectors.EVENT_READ, "one")
        sel.register(by_port[40002], selectors.EVENT_READ, "two")
        assert sorted(k.data for k, _ in sel.select(0)) == ["one", "two"]
        assert by_port[40001].recv(10) == b"one"
        assert [k.data for k, _ in sel.select(0)] == ["two"]
        f.feed(data(b"more", TSI1, 1))
        assert sorted(k.data for k, _ in sel.select(0)) == ["one", "two"]


def test_receiver_released_when_listener_and_sessions_are_closed() -> None:
    f = Fed()
    f.feed(started(TSI1), data(b"a", TSI1), started(TSI2), data(b"b", TSI2))
    conn, _ = f.sock.accept()  # TSI1; TSI2 stays pending
    f.sock.close()  # closes the listener: the pending session is dropped ...
    assert not f.rx.closed  # ... but the accepted one keeps the receiver
    assert TSI2 not in f.hub.demux.sessions
    f.feed(data(b"c", TSI1, 1))
    assert conn.recv(10) == b"a" and conn.recv(10) == b"c"
    conn.close()
    assert f.rx.closed and f.hub.demux.buffered == 0
    with wsa("WSAENOTSOCK"):
        conn.recv(1)


def test_closed_session_socket_drops_later_events() -> None:
    f = Fed()
    f.feed(started(), data(b"x" * 100))
    conn, _ = f.sock.accept()
    conn.close()
    f.feed(data(b"y" * 100, sqn=1))
    assert f.hub.demux.buffered == 0 and TSI1 not in f.hub.demux.sessions


def test_back_pressure_holds_events_in_the_receiver_until_read() -> None:
    f = Fed(limit=10)
    f.feed(started(), data(b"a" * 20))  # over the limit after this batch
    f.feed(data(b"b" * 5, sqn=1))
    assert len(f.rx.pending) == 1  # not taken: the sessions hold more than the limit
    conn, _ = f.sock.accept()
    assert conn.recv(100) == b"a" * 20  # reading takes the rest
    assert not f.rx.pending and conn.recv(100) == b"b" * 5


def test_nonblocking_and_timed_receive() -> None:
    f = Fed()
    f.feed(started(), data(b"x"))
    conn, _ = f.sock.accept()
    assert conn.gettimeout() is None  # like socket.accept: blocking
    conn.recv(1)
    conn.setblocking(False)
    with wsa("WSAEWOULDBLOCK") as e:
        conn.recv(1)
    assert isinstance(e.value, BlockingIOError)
    assert re.search("WSAEWOULDBLOCK", str(e.value))
    conn.settimeout(0.05)
    with wsa("WSAETIMEDOUT"):
        conn.recv(1)
    assert conn.recv(0) == b""


def test_blocked_receive_wakes_on_data_from_another_thread() -> None:
    f = Fed()
    f.feed(started(), data(b"first"))
    conn, _ = f.sock.accept()
    conn.recv(10)
    timer = threading.Timer(0.05, lambda: f.feed(data(b"later", sqn=1)))
    timer.start()
    conn.settimeout(5)
    assert conn.recv(10) == b"later"
    timer.join()


def test_accepted_socket_option_rules() -> None:
    f = Fed()
    with wsa("WSAEINVAL"):  # the listener too: after listen()
        f.sock.setsockopt(pgm.IPPROTO_RM, pgm.RM_HIGH_SPEED_INTRANET_OPT, 1)
    f.feed(started(), data(b"x"))
    conn, _ = f.sock.accept()
    assert conn.getsockopt(pgm.IPPROTO_RM, pgm.RM_HIGH_SPEED_INTRANET_OPT) == 0
    with wsa("WSAEINVAL"):  # after listen()
        conn.setsockopt(pgm.IPPROTO_RM, pgm.RM_HIGH_SPEED_INTRANET_OPT, 1)
    with wsa("WSAEINVAL"):
        conn.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, "127.0.0.1")
    with wsa("WSAENOPROTOOPT"):
        conn.getsockopt(pgm.IPPROTO_RM, pgm.RM_SENDER_STATISTICS)
    with wsa("WSAENOTCONN"):  # the stand-in receiver has no engine session
        conn.getsockopt(pgm.IPPROTO_RM, pgm.RM_RECEIVER_STATISTICS)
    with wsa("WSAEOPNOTSUPP"):
        conn.send(b"x")
    conn.shutdown(pgm.SD_RECEIVE)
    with wsa("WSAESHUTDOWN"):
        conn.recv(1)
