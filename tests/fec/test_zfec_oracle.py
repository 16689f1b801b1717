"""pgm.fec against zfec (PyPI; the same Rizzo code family, C), an independent implementation.

zfec's encoder emits block k + h as parity h, and its decoder takes any k blocks with their
indices: our parity must equal its check blocks and each must decode the other's.  zfec's
decoder overwrites the buffers it is given (even ``bytes`` objects, whose one-byte instances
the interpreter shares), so it only ever sees fresh ``bytearray`` copies.
"""

from __future__ import annotations

import importlib.util
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pgm.fec import ReedSolomon
from tests.conftest import require

HAVE_ZFEC = importlib.util.find_spec("zfec") is not None


@settings(max_examples=80, deadline=None)
@given(
    k=st.sampled_from([2, 4, 8, 16, 32, 64, 128]),
    extra=st.integers(1, 127),
    length=st.integers(1, 200),
    seed=st.randoms(),
)
def test_same_code_as_zfec(k: int, extra: int, length: int, seed: random.Random) -> None:
    require(HAVE_ZFEC, "zfec is not installed (pip install '.[test]')")
    import zfec  # type: ignore[import-not-found, unused-ignore]

    n = min(255, k + extra)
    rs = ReedSolomon(k, n)
    data = [seed.randbytes(length) for _ in range(k)]
    ours = rs.encode_many(data, range(n - k))
    theirs = zfec.Encoder(k, n).encode(data, list(range(k, n)))
    assert ours == [bytes(b) for b in theirs]

    chosen = seed.sample(range(n), k)
    blocks = [data[r] if r < k else ours[r - k] for r in chosen]
    scratch = [bytearray(b) for b in blocks]
    assert [bytes(b) for b in zfec.Decoder(k, n).decode(scratch, chosen)] == data
    assert rs.decode(dict(zip(chosen, blocks, strict=True)), length) == data
