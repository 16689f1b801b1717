"""Forward error correction: GF(2^8) and the Reed–Solomon (n, k) erasure code (docs/fec.md).

No PGM knowledge lives here: :class:`ReedSolomon` turns k equal-length packets into parity
packets and any k of the n packets back into the k data packets, byte for byte compatible with
OpenPGM's ``reed_solomon.c`` (Luigi Rizzo's systematic Vandermonde code, RFC 3208 Appendix A).

>>> from pgm.fec import ReedSolomon
>>> rs = ReedSolomon(4)
>>> data = [b"ringo000", b"ichigo00", b"momo0000", b"yakitori"]
>>> rs.encode(data, 0).hex()
'4c338d49a3738b09'
>>> rs.decode({0: data[0], 2: data[2], 4: rs.encode(data, 0), 5: rs.encode(data, 1)}, 8) == data
True
"""

from __future__ import annotations

from .rs import DECODE_CACHE_SIZE, FecError, ReedSolomon

__all__ = ["DECODE_CACHE_SIZE", "FecError", "ReedSolomon"]
