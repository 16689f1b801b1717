"""Reading Wireshark's PDML (``tshark -T pdml``): protocols, fields, numbers, NLAs, expert info.

Theory of operation
-------------------
PDML is XML: one ``<packet>`` per frame, ``<proto>`` elements per layer and nested ``<field>``
elements with ``name``, ``show`` (the value as text), ``pos`` (byte offset in the frame) and
``showname``.  These helpers find fields by name, insist on exactly one where one is expected,
read numbers and NLAs (checking their byte positions) and collect expert items of warning
severity or worse.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from ipaddress import IPv4Address, IPv6Address, ip_address

SEV_WARNING = 0x00600000  # PI_WARN; PI_ERROR is 0x00800000


def proto(pkt: ET.Element, name: str) -> ET.Element | None:
    return next((p for p in pkt.iter("proto") if p.get("name") == name), None)


def all_fields(elem: ET.Element, name: str) -> list[ET.Element]:
    return [f for f in elem.iter("field") if f.get("name") == name]


def one(elem: ET.Element, name: str) -> ET.Element:
    found = all_fields(elem, name)
    assert len(found) == 1, f"expected one {name!r} in the dissection, found {len(found)}"
    return found[0]


def num(elem: ET.Element, name: str) -> int:
    return int(one(elem, name).get("show", ""), 0)


def addr(
    elem: ET.Element,
    prefix: str,
    afi_field: str,
    want: IPv4Address | IPv6Address,
    base: int,
    off: int,
) -> None:
    """An NLA: AFI (1/2), reserved 0, and the address, at PGM offset ``off``."""
    assert num(elem, afi_field) == (1 if want.version == 4 else 2)
    assert int(one(elem, afi_field).get("pos", "")) == base + off
    f = one(elem, f"{prefix}.ipv{want.version}")
    assert ip_address(f.get("show", "")) == want
    assert int(f.get("pos", "")) == base + off + 4


def severity_problems(pkt: ET.Element) -> list[str]:
    bad = []
    for ex in all_fields(pkt, "_ws.expert"):
        sev = int(one(ex, "_ws.expert.severity").get("show", "0"))
        if sev >= SEV_WARNING:
            bad.append(ex.get("showname", "?"))
    if proto(pkt, "_ws.malformed") is not None or all_fields(pkt, "_ws.malformed"):
        bad.append("_ws.malformed")
    return bad
