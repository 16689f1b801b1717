"""``pgm decode`` (issue 14): hex with or without ``0x``, several arguments handled explicitly,
standard input, pcap files, an IP header in front, truncated packets, readable output."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pgm import wire
from pgm.pcap import PcapWriter, pgm_ip_packet
from tests.cli.test_cli import run

PKT = wire.ODATA(
    source_port=1,
    destination_port=7500,
    gsi=b"abcdef",
    data_sqn=5,
    data_trail=0,
    data=b"hello",
    options=[wire.OptFragment(first_sqn=5, offset=0, apdu_length=5)],
).encode()
HEX = PKT.hex()


def _decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = run(["decode", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_readable_multi_line_output(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _decode(capsys, HEX)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"ODATA  {len(PKT)} bytes  TSI 97.98.99.100.101.102.1"
    assert "  destination port: 7500" in lines and "  data sqn: 5" in lines
    assert "  option: OPT_FRAGMENT  first_sqn=5 offset=0 apdu_length=5" in lines
    assert lines[-1] == "  data: 5 bytes  68656c6c6f"


def test_0x_prefix_colons_and_tcpdump_offsets(capsys: pytest.CaptureFixture[str]) -> None:
    assert _decode(capsys, "0x" + HEX)[0] == 0
    assert _decode(capsys, ":".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)))[0] == 0
    dump = "\n".join(f"\t0x{i:04x}:  {HEX[i * 2 : i * 2 + 32]}" for i in range(0, len(PKT), 16))
    assert _decode(capsys, dump)[0] == 0


def test_several_arguments_are_joined_and_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _decode(capsys, HEX[:20], HEX[20:])
    assert rc == 0 and out.startswith("ODATA")
    assert "joined 2 arguments into one packet (--each: one per argument)" in err


def test_each_argument_its_own_packet(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _err = _decode(capsys, "--each", HEX, HEX)
    assert rc == 0
    assert out.count("ODATA  ") == 2 and "argument 1" in out and "argument 2" in out


def test_standard_input_one_packet_per_paragraph(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{HEX}\n\n0x{HEX}\n"))
    rc, out, _err = _decode(capsys)
    assert rc == 0 and out.count("ODATA  ") == 2 and "packet 2" in out


def test_pcap_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cap.pcap"
    with PcapWriter(path) as w:
        w.write(pgm_ip_packet("10.0.0.1", "239.192.0.1", PKT), ts=1.0)
        w.write(pgm_ip_packet("10.0.0.1", "239.192.0.1", PKT, udp_ports=(3055, 3055)), ts=2.0)
    rc, out, _err = _decode(capsys, "--pcap", str(path))
    assert rc == 0 and out.count("ODATA  ") == 2
    assert "frame 1: 10.0.0.1 -> 239.192.0.1" in out
    assert "frame 2: 10.0.0.1 -> 239.192.0.1 udp 3055>3055" in out


@pytest.mark.parametrize(
    ("src", "udp", "words"),
    [
        ("10.0.0.1", None, "IPv4 header: 10.0.0.1 -> 239.192.0.1, protocol 113; 20 bytes"),
        ("10.0.0.1", (3055, 3055), "IPv4 header: 10.0.0.1 -> 239.192.0.1, UDP 3055>3055"),
        ("fd00::1", None, "IPv6 header: fd00::1 -> ff08::1, protocol 113; 40 bytes"),
    ],
)
def test_an_ip_header_in_front_is_recognised(
    src: str, udp: tuple[int, int] | None, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dst = "ff08::1" if ":" in src else "239.192.0.1"
    rc, out, _err = _decode(capsys, pgm_ip_packet(src, dst, PKT, udp_ports=udp).hex())
    assert rc == 0 and words in out and "ODATA  " in out


@pytest.mark.parametrize("cut", [10, 30, len(PKT) - 2])
def test_a_truncated_packet_is_called_truncated(
    cut: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _decode(capsys, HEX[: cut * 2])
    assert rc == 1 and out == ""
    assert f"malformed: truncated packet ({cut} bytes)" in err and "BadChecksum" not in err


def test_a_bad_checksum_suggests_no_verify(capsys: pytest.CaptureFixture[str]) -> None:
    bad = bytearray(PKT)
    bad[-1] ^= 1
    rc, _out, err = _decode(capsys, bad.hex())
    assert rc == 1 and "--no-verify decodes it anyway" in err
    assert _decode(capsys, "--no-verify", bad.hex())[0] == 0


@pytest.mark.parametrize("bad", ["zz", "0x12345"])
def test_not_hex_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _out, err = _decode(capsys, bad)
    assert rc == 2 and ("not hexadecimal" in err or "odd number of hex digits" in err)
