"""OpenPGM and ZeroMQ endpoint spellings as GROUP (issue 14): ``eth0;239.192.0.1``,
``epgm://eth0;239.192.0.1:7500``, ``pgm://...`` (pgm.net.endpoint and the command line)."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from pgm.net.endpoint import Endpoint, parse_endpoint
from tests.cli.test_cli import FakeReceiver, FakeSender, fake_receiver, fake_sender, run

__all__ = ["fake_receiver", "fake_sender"]

G4, G6 = ip_address("239.192.0.1"), ip_address("ff08::1")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("239.192.0.1", Endpoint(G4)),
        ("eth0;239.192.0.1", Endpoint(G4, ("eth0",))),
        (";239.192.0.1", Endpoint(G4)),
        ("eth0,eth1;ff08::1", Endpoint(G6, ("eth0", "eth1"))),
        ("eth0;239.192.0.1;239.192.0.1", Endpoint(G4, ("eth0",))),
        ("epgm://eth0;239.192.0.1:7500", Endpoint(G4, ("eth0",), 7500, "udp")),
        ("pgm://10.0.0.1;239.192.0.1:5555", Endpoint(G4, ("10.0.0.1",), 5555, "raw")),
        ("epgm://eth0;[ff08::1]:7500", Endpoint(G6, ("eth0",), 7500, "udp")),
        ("epgm://eth0;ff08::1:7500", Endpoint(G6, ("eth0",), 7500, "udp")),
        ("EPGM://239.192.0.1:7500", Endpoint(G4, (), 7500, "udp")),
    ],
)
def test_spellings(text: str, want: Endpoint) -> None:
    assert parse_endpoint(text) == want


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("10.0.0.1", "is not a multicast group address"),
        ("eth0;nope", "not an IP address: 'nope'"),
        ("tcp://eth0;239.192.0.1:1", "unknown scheme 'tcp'"),
        ("epgm://eth0;239.192.0.1", "no port in"),
        ("epgm://eth0;239.192.0.1:70000", "port must be in 1..65535"),
        ("eth0;239.192.0.1,239.192.0.2", "one receive group"),
        ("eth0;239.192.0.1;239.192.0.9", "the send group must be the receive group"),
    ],
)
def test_bad_spellings_say_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_endpoint(text)


def test_recv_takes_interface_port_and_transport_from_a_zeromq_endpoint(
    fake_receiver: type[FakeReceiver], tmp_path: Path
) -> None:
    argv = ["recv", "epgm://127.0.0.1;239.192.0.1:7611", "--timeout", "0.1"]
    assert run([*argv, "--out", str(tmp_path / "o")]) == 4
    rx = fake_receiver.last
    assert rx is not None and rx.port == 7611 and str(rx.group) == "239.192.0.1"
    assert rx.kw["transport"] == "udp" and [i.name for i in rx.kw["ifaces"]] == ["lo"]


def test_send_takes_an_openpgm_network_string(
    fake_sender: type[FakeSender], tmp_path: Path
) -> None:
    (tmp_path / "in").write_bytes(b"x")
    argv = ["send", "127.0.0.1;239.192.0.1", str(tmp_path / "in"), "--port", "7612"]
    assert run([*argv, "--transport", "udp"]) == 0
    tx = fake_sender.last
    assert tx is not None and tx.port == 7612 and tx.kw["iface"].name == "lo"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["recv", "epgm://lo;239.192.0.1:7611", "--port", "1"], "--port 1 contradicts the port"),
        (["recv", "pgm://lo;239.192.0.1:7611", "--transport", "udp"], "contradicts GROUP's"),
        (["recv", "lo;239.192.0.1"], "--port is required (or give GROUP as epgm://"),
        (["send", "lo,eth0;239.192.0.1", "--port", "1"], "sends on one interface"),
    ],
)
def test_contradictions_and_missing_port_are_usage_errors(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    assert words in capsys.readouterr().err
