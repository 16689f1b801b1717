"""The library logs on ``logging.getLogger("pgm")`` (issue 14); ``pgm -v`` shows it; a TSI's
repr is the dotted form the CLI prints.

Loopback UDP with TTL 0 (nothing leaves the host) and scripted engine events.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pgm.engine import DataReceived, SessionEnded, SessionStarted, UnrecoverableLoss
from pgm.io import PgmReceiver, PgmSender
from pgm.io.log import log_receiver_events
from pgm.wire import TSI

ROOT = Path(__file__).resolve().parents[2]
TSI1 = TSI(bytes([1, 2, 3, 4, 5, 6]), 7500)


def test_tsi_repr_is_dotted_and_reads_back() -> None:
    assert repr(TSI1) == "TSI.parse('1.2.3.4.5.6.7500')"
    assert TSI.parse(str(TSI1)) == TSI1
    assert "1.2.3.4.5.6.7500" in repr(SessionEnded(TSI1, "fin"))
    for bad in ("1.2.3.4.5.6", "1.2.3.4.5.256.1", "a.b.c.d.e.f.g", "1.2.3.4.5.6.70000"):
        with pytest.raises(ValueError, match="not a TSI"):
            TSI.parse(bad)


def test_session_events_and_loss_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pgm")
    src = IPv4Address("10.0.0.1")
    events = [
        SessionStarted(TSI1, src),
        DataReceived(TSI1, b"x", 0),
        UnrecoverableLoss(TSI1, 5, 9, "window"),
        SessionEnded(TSI1, "rst"),
    ]
    log_receiver_events("239.192.0.1", 7500, events)
    assert {r.name for r in caplog.records} == {"pgm.io"}
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "session 1.2.3.4.5.6.7500 from 10.0.0.1 started on 239.192.0.1 port 7500"),
        ("WARNING", "unrecoverable loss: sequence numbers 5-9 from TSI 1.2.3.4.5.6.7500 (window)"),
        ("WARNING", "session 1.2.3.4.5.6.7500 on 239.192.0.1 port 7500 ended: rst"),
    ]


def test_a_real_session_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pgm")
    with (
        PgmReceiver("239.192.0.80", 7761, iface="127.0.0.1", transport="udp") as rx,
        PgmSender("239.192.0.80", 7761, iface="127.0.0.1", transport="udp", ttl=0) as tx,
    ):
        tx.send(b"hi")
        tx.shutdown(linger=0.2)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if any(isinstance(e, SessionEnded) for e in rx.next_events(0.2)):
                break
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"source {tx.tsi} opened on 239.192.0.80 port 7761 (udp)" in text
    assert f"session {tx.tsi} from 127.0.0.1 started on 239.192.0.80 port 7761" in text
    assert f"session {tx.tsi} on 239.192.0.80 port 7761 ended: fin" in text


def test_nothing_is_printed_without_logging_configured() -> None:
    code = (
        "from pgm.io.log import log_receiver_events\n"
        "from pgm.engine import UnrecoverableLoss\n"
        "from pgm.wire import TSI\n"
        "loss = UnrecoverableLoss(TSI(b'abcdef', 1), 1, 2, 'window')\n"
        "log_receiver_events('239.1.1.1', 1, [loss])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stderr == ""  # no last-resort handler output


@pytest.mark.parametrize("where", ["before", "after"])
def test_cli_verbose_shows_the_log(where: str) -> None:
    args = ["send", "239.192.0.80", "/dev/null", "--port", "7762", "--iface", "127.0.0.1"]
    args += ["--transport", "udp", "--ttl", "0", "--linger", "0"]
    argv = ["-v", *args] if where == "before" else [*args, "-v"]
    r = subprocess.run(
        [sys.executable, "-m", "pgm", *argv], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "pgm: pgm.io: INFO: source " in r.stderr and " opened on 239.192.0.80" in r.stderr
