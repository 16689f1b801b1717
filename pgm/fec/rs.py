"""The systematic Reed–Solomon (n, k) erasure code of RFC 3208 Appendix A, as OpenPGM builds it.

Theory of operation
-------------------
The construction is Luigi Rizzo's (``fec.c``, used by OpenPGM and the Windows provider): take the
n evaluation points ``x_0 = 0`` and ``x_r = α^(r-1)`` for r = 1..n-1 (α = 2 in GF(2^8),
:mod:`pgm.fec.gf256`), the n×k Vandermonde matrix ``V[r][c] = x_r^c`` and its top k×k block
``T``; the generator matrix ``G = V·T^-1`` has the identity as its top k rows (systematic: the
data packets are themselves code words), and parity packet ``h`` is row ``k + h`` applied byte
by byte: ``P_h = XOR_c G[k+h][c]·D_c``.

``V·T^-1`` never needs a matrix inverse: view the k data bytes at one offset as the values at
``x_0..x_{k-1}`` of the polynomial ``p`` of degree < k through them; row r of ``V·T^-1`` gives
``p(x_r)``, so ``G[r][c]`` is the Lagrange basis polynomial ``L_c`` of those k points at
``x_r``.  Decoding is the same interpolation from the other side: any k received packets are
``p`` at k distinct points, and a missing data packet ``c`` is ``p(x_c)``, a combination of the
received packets with the Lagrange coefficients of the received points at ``x_c``.  Both cost
O(k²) field operations per coefficient row, computed once and cached: parity rows per (k, h),
decode plans per (k, erasure pattern) in an LRU of :data:`DECODE_CACHE_SIZE` entries.

Packets are combined a whole packet at a time: ``packet.translate(MUL[g])`` multiplies every
byte by ``g``, and XOR of ``int.from_bytes`` values adds packets.  The rows depend only on k
and h; n only caps h at n - k - 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache, lru_cache

from .gf256 import EXP, LOG, MUL

__all__ = ["DECODE_CACHE_SIZE", "FecError", "ReedSolomon"]

#: Decode plans (one per k and set of received indices) kept in an LRU cache.  A plan holds, per
#: missing data packet, one reference per received packet: at most 128 × 128 references.
DECODE_CACHE_SIZE = 256

_GROUP_SIZES = frozenset(1 << m for m in range(1, 8))  # 2, 4, ..., 128


class FecError(ValueError):
    """Packets that cannot be encoded or decoded: too few, out of range, or of wrong length."""


def _point(r: int) -> int:
    """The evaluation point of row ``r``: 0 for r = 0, else α^(r-1)."""
    return 0 if r == 0 else EXP[r - 1]


def _denominators(points: Sequence[int]) -> list[int]:
    """``log prod_{t != s} (x_s - x_t)`` for each point ``s`` (subtraction is XOR)."""
    return [
        sum(LOG[xs ^ xt] for j, xt in enumerate(points) if j != i) for i, xs in enumerate(points)
    ]


def _lagrange(points: Sequence[int], den: Sequence[int], x: int) -> tuple[int, ...]:
    """``L_s(x)`` for each of ``points`` (distinct, none equal to ``x``; ``den`` from
    :func:`_denominators`): ``prod_{t != s} (x - x_t) / (x_s - x_t)``."""
    logs = [LOG[x ^ xt] for xt in points]
    total = sum(logs)
    return tuple(EXP[(total - lx - d) % 255] for lx, d in zip(logs, den, strict=True))


@cache  # bounded: 7 group sizes
def _data_points(k: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The points of the k data rows and their Lagrange denominators."""
    points = tuple(_point(c) for c in range(k))
    return points, tuple(_denominators(points))


@cache  # bounded: 7 group sizes × at most 254 parity indices
def _parity_row(k: int, h: int) -> tuple[int, ...]:
    """Row ``k + h`` of the generator matrix ``G``."""
    points, den = _data_points(k)
    return _lagrange(points, den, _point(k + h))


@lru_cache(maxsize=DECODE_CACHE_SIZE)
def _decode_plan(k: int, used: tuple[int, ...]) -> tuple[tuple[int, tuple[bytes, ...]], ...]:
    """For each missing data index: (index, translation tables aligned with ``used``)."""
    points = [_point(r) for r in used]
    den = _denominators(points)
    present = set(used)
    return tuple(
        (c, tuple(MUL[g] for g in _lagrange(points, den, _point(c))))
        for c in range(k)
        if c not in present
    )


def _combine(packets: Sequence[bytes], tables: Sequence[bytes], length: int) -> bytes:
    """``XOR_i tables_i(packets_i)``: a linear combination of equal-length packets."""
    acc = 0
    for packet, table in zip(packets, tables, strict=True):
        acc ^= int.from_bytes(packet.translate(table), "little")
    return acc.to_bytes(length, "little")


class ReedSolomon:
    """The (n, k) code: ``k`` data packets per group, parity indices ``0 <= h < n - k``.

    ``k`` is a power of two in 2..128 and ``k < n <= 255`` (RFC 3208 Appendix A; OpenPGM's
    limits); anything else raises ValueError.  Instances are immutable and thread-safe.
    """

    __slots__ = ("_k", "_n")

    def __init__(self, k: int, n: int = 255) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k not in _GROUP_SIZES:
            raise ValueError(f"k must be a power of two in 2..128, not {k!r}")
        if isinstance(n, bool) or not isinstance(n, int) or not k < n <= 255:
            raise ValueError(f"n must satisfy k < n <= 255 (k = {k}), not {n!r}")
        self._k = k
        self._n = n

    @property
    def k(self) -> int:
        """Data packets per group."""
        return self._k

    @property
    def n(self) -> int:
        """Block size: data plus the most parity packets a group can have."""
        return self._n

    def __repr__(self) -> str:
        return f"ReedSolomon(k={self._k}, n={self._n})"

    def coefficients(self, h: int) -> tuple[int, ...]:
        """Row ``k + h`` of the generator matrix: parity ``h`` = XOR_c row[c]·D_c."""
        self._check_h(h)
        return _parity_row(self._k, h)

    def encode(self, data: Sequence[bytes], h: int) -> bytes:
        """Parity packet ``h`` (0 <= h < n - k) of ``k`` equal-length data packets."""
        return self.encode_many(data, (h,))[0]

    def encode_many(self, data: Sequence[bytes], hs: Sequence[int]) -> list[bytes]:
        """Parity packets for each index in ``hs``, in that order."""
        packets = self._check_data(data)
        length = len(packets[0])
        rows = [self.coefficients(h) for h in hs]
        return [_combine(packets, [MUL[g] for g in row], length) for row in rows]

    def decode(self, received: Mapping[int, bytes], length: int) -> list[bytes]:
        """The ``k`` data packets from any ``k`` received packets of ``length`` bytes each.

        ``received`` maps a packet index to its bytes: 0..k-1 are data packets, ``k + h`` is
        parity ``h``.  Extra packets beyond k are ignored (data packets are preferred, then the
        lowest parity indices).  FecError if fewer than k packets, an index outside 0..n-1,
        or a packet whose length is not ``length``.
        """
        k = self._k
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise FecError(f"length must be a non-negative int, not {length!r}")
        for index, packet in received.items():
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self._n:
                raise FecError(f"packet index {index!r} outside 0..{self._n - 1}")
            if len(packet) != length:
                raise FecError(f"packet {index} has {len(packet)} bytes, expected {length}")
        if len(received) < k:
            raise FecError(f"{len(received)} packets received, {k} needed to decode")
        used = tuple(sorted(received)[:k])
        out = [bytes(received[c]) if c in received else b"" for c in range(k)]
        if used[-1] < k:
            return out
        packets = [bytes(received[r]) for r in used]
        for c, tables in _decode_plan(k, used):
            out[c] = _combine(packets, tables, length)
        return out

    def _check_h(self, h: int) -> None:
        if isinstance(h, bool) or not isinstance(h, int) or not 0 <= h < self._n - self._k:
            raise ValueError(f"parity index must be in 0..{self._n - self._k - 1}, not {h!r}")

    def _check_data(self, data: Sequence[bytes]) -> list[bytes]:
        if len(data) != self._k:
            raise FecError(f"{len(data)} data packets given, the code needs k = {self._k}")
        packets = [bytes(p) for p in data]
        length = len(packets[0])
        for i, packet in enumerate(packets):
            if len(packet) != length:
                raise FecError(f"data packet {i} has {len(packet)} bytes, packet 0 has {length}")
        return packets
