"""The README's promises (issue 14): its two commands work on a fresh Debian machine as written
(a virtual environment, since PEP 668 refuses pip in the system Python), raw mode from that
environment, the licence file pyproject.toml names, the project URLs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _shell_blocks(section: str) -> list[str]:
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", body, re.S)


def test_the_two_commands_use_a_venv_not_the_system_pip() -> None:
    demo, tests = _shell_blocks("Two commands")
    assert "apt-get install -y python3-venv" in demo  # Debian ships venv separately
    assert "python3 -m venv --system-site-packages .venv" in demo
    assert ".venv/bin/pip install ." in demo and ".venv/bin/pgm demo" in demo
    assert ".venv/bin/pip install '.[test]'" in tests and ".venv/bin/python -m pytest" in tests
    for block in (demo, tests):
        assert "python3 -m pip install" not in block  # externally-managed-environment
    assert "sudo .venv/bin/pgm demo" in README  # raw mode as root, from the venv
    assert re.search(r"\d+(–\d+)? minutes on a 2-core", README)  # the test suite's run time


def test_the_stale_coming_next_line_is_gone() -> None:
    coming = [ln for ln in README.splitlines() if ln.startswith("Coming next")]
    assert all("Windows" not in ln and "facade" not in ln for ln in coming)


def test_license_file_and_project_urls() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    toml = (ROOT / "pyproject.toml").read_text()  # no tomllib before Python 3.11
    assert re.search(r'^license = \{ text = "MIT" \}', toml, re.M)
    urls = toml.split("[project.urls]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert urls and all(re.fullmatch(r'.+ = "https://\S+"', u) for u in urls)


def test_cli_md_synopsis_names_every_flag_of_every_command() -> None:
    import argparse

    from pgm.cli import build_parser

    doc = (ROOT / "docs" / "cli.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `pgm (\w+) .*$", doc, re.M)}
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, parser in sub.choices.items():
        row = rows.get(name)
        if row is None:
            missing.append(f"pgm {name}: no synopsis row")
            continue
        for action in parser._actions:
            flags = [o for o in action.option_strings if o not in ("-h", "--help")]
            if flags and not any(re.search(rf"\[{re.escape(f)}\b", row) for f in flags):
                missing.append(f"pgm {name} {flags[0]}")
    assert not missing, missing
