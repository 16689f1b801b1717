"""``pgm recv --source`` / ``--tsi`` pin the engine's session choice (docs/security.md)."""

from __future__ import annotations

import pytest

from pgm.cli.args import UsageError, build_receiver_config
from pgm.wire import TSI, as_nla


def test_source_and_tsi_pin_the_receiver() -> None:
    tsi = TSI(b"\x01\x02\x03\x04\x05\x06", 4000)
    cfg = build_receiver_config(source="10.0.0.1", tsi=str(tsi))
    assert cfg.only_source == as_nla("10.0.0.1") and cfg.only_tsi == tsi
    assert build_receiver_config().only_source is None


@pytest.mark.parametrize("bad", [{"source": "not-an-address"}, {"tsi": "1.2.3"}])
def test_a_bad_value_is_a_usage_error(bad: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="--source / --tsi"):
        build_receiver_config(**bad)
