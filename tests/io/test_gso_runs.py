"""How pgm.net.gso cuts an engine flush into UDP_SEGMENT runs (no sockets)."""

from __future__ import annotations

from ipaddress import IPv4Address

from pgm.net.gso import GSO_MAX_SEGMENTS, run_end

G = IPv4Address("239.192.0.1")
U = IPv4Address("10.0.0.2")


def _pkt(kind: int, n: int) -> bytes:
    return bytes(4) + bytes([kind]) + bytes(n - 5)


def _runs(dgrams: list[tuple[bytes, IPv4Address, int | None]]) -> list[int]:
    out, i = [], 0
    while i < len(dgrams):
        # as UdpTransport.send_all: a TTL override goes alone
        j = run_end(dgrams, i, len(dgrams)) if dgrams[i][2] is None else i + 1
        out.append(j - i)
        i = j
    return out


def test_runs_of_data_end_at_size_destination_ttl_and_limits() -> None:
    odata, rdata, spm = (_pkt(4, 1424), _pkt(5, 1424), _pkt(0, 40))
    d: list[tuple[bytes, IPv4Address, int | None]] = [(spm, G, None)] * 3  # SPMs: one each
    d += [(odata, G, None)] * 5 + [(_pkt(4, 700), G, None)]  # a shorter one ends the run
    d += [(rdata, G, None)] * 2 + [(odata, U, None)] + [(odata, G, 1)] + [(odata, G, None)]
    assert _runs(d) == [1, 1, 1, 6, 2, 1, 1, 1]
    many = [(odata, G, None)] * 100
    assert _runs(many) == [45, 45, 10]  # 45 * 1424 bytes fit 65000
    small = [(_pkt(4, 100), G, None)] * 100
    assert _runs(small) == [GSO_MAX_SEGMENTS, 100 - GSO_MAX_SEGMENTS]
