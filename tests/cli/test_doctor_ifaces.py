"""``pgm doctor`` and ``pgm ifaces`` (issue 14).  The live self-test runs for real on loopback
(TTL 0); privilege, flags, buffers and firewall rules are faked to reach every finding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pgm import interfaces
from pgm.cli import doctor_checks
from tests.cli.test_cli import run
from tests.conftest import require

LO = ["--iface", "127.0.0.1"]


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    rc = run(["doctor", *argv, "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert obj["exit_status"] == rc
    return rc, obj


def _find(obj: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in obj["findings"] if f["check"] == check]


def test_doctor_udp_with_the_live_self_test(capsys: pytest.CaptureFixture[str]) -> None:
    rc, obj = _doctor(capsys, *LO, "--transport", "udp")
    assert rc == 0, obj
    (st,) = _find(obj, "self-test (udp)")
    assert st["level"] == "ok" and "20 messages, OPT_FIN" in st["text"]
    assert {f["check"] for f in obj["findings"]} >= {
        "interface", "route", "privilege", "buffers", "firewall", "loopback"
    }  # fmt: skip


def test_doctor_raw_without_privilege_fails_and_says_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(interfaces, "raw_sockets_permitted", lambda: False)
    rc = run(["doctor", *LO, "--transport", "raw", "--no-self-test"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL  privilege: raw PGM sockets (IP protocol 113) are not permitted" in out
    assert "fix: run as root (sudo .venv/bin/pgm ...)" in out and "--transport udp" in out
    assert "1 problem(s) stop raw mode here" in out
    # the same host is fine for UDP: the privilege is not needed there
    assert run(["doctor", *LO, "--transport", "udp", "--no-self-test"]) == 0


def test_doctor_interface_buffers_and_firewall_findings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(interfaces, "interface_flags", lambda name: 0)  # down, no multicast
    monkeypatch.setattr(doctor_checks, "_read", lambda path: "212992")
    monkeypatch.setattr(doctor_checks.os, "geteuid", lambda: 1000)
    rules = "table inet filter {\n chain input {\n  udp dport 7500 drop\n }\n}"
    monkeypatch.setattr(doctor_checks, "_ruleset", lambda: ("nft", rules))
    argv = [*LO, "--transport", "udp", "--rate", "100000", "--no-self-test"]
    rc, obj = _doctor(capsys, *argv)
    assert rc == 1
    iface = {f["text"]: f for f in _find(obj, "interface")}
    assert iface["lo is down"]["fix"] == "ip link set lo up"
    buffers = _find(obj, "buffers")
    assert all(f["level"] == "warn" and "sysctl -w net.core." in f["fix"] for f in buffers)
    (fw,) = _find(obj, "firewall")
    assert fw["level"] == "warn" and "udp dport 7500 drop" in fw["text"]


def test_ifaces_lists_index_flags_mtu_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ifaces"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["index", "name", "flags", "mtu", "addresses"]
    lo = next(ln for ln in lines if " lo " in ln)
    assert "loopback" in lo and "127.0.0.1" in lo
    assert run(["ifaces", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["interfaces"]
    (row,) = [r for r in rows if r["name"] == "lo"]
    assert row["loopback"] is True and row["mtu"] and "127.0.0.1" in row["ipv4"]
    assert row["index"] == interfaces.resolve_interface("lo").index


@pytest.mark.raw
def test_doctor_raw_self_test(capsys: pytest.CaptureFixture[str]) -> None:
    require(interfaces.raw_sockets_permitted(), "raw sockets need root or CAP_NET_RAW")
    rc, obj = _doctor(capsys, *LO, "--transport", "raw")
    assert rc == 0, obj
    (st,) = _find(obj, "self-test (raw)")
    assert st["level"] == "ok" and st["needed"]
