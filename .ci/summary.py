"""Print CI's closing line and decide its exit status.

Usage: ``python3 .ci/summary.py SUMMARY.json PYTEST_RC``.  ``tests/conftest.py`` writes the JSON
(outcomes, and how many tests of each required kind ran, by kind).  Exits with pytest's status, or 1
when pytest wrote no summary or when no test of a required kind ran (CI must run them all).
"""

from __future__ import annotations

import json
import sys


def main(path: str, rc: int) -> int:
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError):
        print(f"CI summary: pytest exited {rc} and wrote no summary")
        return rc or 1
    ran: dict[str, int] = s.get("ran", {})
    kinds = ", ".join(f"{n} {label}" for label, n in ran.items())
    print(
        f"CI summary: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped; "
        f"ran {kinds} tests"
    )
    missing = [label for label, n in ran.items() if not n]
    if missing:
        print("CI summary: no " + ", ".join(missing) + " test ran, which CI does not allow")
        return rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
