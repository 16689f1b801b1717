"""``pgm dump``'s decoding: one captured frame to one :class:`Decoded` packet, one line, one JSON.

Theory of operation
-------------------
:func:`decode` takes a pcap record (a captured frame: any link type :mod:`pgm.pcap` reads, or
the bare IP packets the live captures produce), digs out the PGM packet (raw IP protocol 113 or
UDP on the encapsulation ports, :func:`pgm.pcap.extract_pgm`) and parses it with
:func:`pgm.wire.parse`.  A frame that carries no PGM gives ``None``.  A PGM packet the codec
refuses is still a :class:`Decoded`, with ``error`` set and whatever the first 16 bytes say
about its type and session (``raw_type``, ``tsi``), so filters and the summary can place it;
nothing here raises on captured bytes.

:func:`format_line` is the one-line text form (time in UTC, ``src -> dst``, ``udp:SPORT>DPORT``
for UDP encapsulation, type, TSI, the type's sequence fields from :data:`LINE_FIELDS`, options,
flags); :func:`to_json` the JSON object of ``--json`` (pgm.wire's field names).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from .. import wire
from ..pcap import DEFAULT_UDP_ENCAP_PORTS, PcapRecord, extract_pgm

__all__ = [
    "LINE_FIELDS",
    "TYPE_NAMES",
    "UPSTREAM_TYPES",
    "Decoded",
    "decode",
    "format_line",
    "parse_tsi",
    "to_json",
]

#: Packet type code -> name (SPM, ODATA, ...), from the codec.
TYPE_NAMES: dict[int, str] = {t: c.NAME for t, c in wire.PACKET_TYPES.items()}
#: Types sent towards the source: their TSI's port is the destination port (RFC 3208 §8).
UPSTREAM_TYPES = frozenset(t for t, c in wire.PACKET_TYPES.items() if c.UPSTREAM)

#: What the line shows after the TSI, per type: (label, pgm.wire attribute).
LINE_FIELDS: dict[int, tuple[tuple[str, str], ...]] = {
    wire.TYPE_SPM: (("sqn", "spm_sqn"), ("trail", "spm_trail"), ("lead", "spm_lead"),
                    ("nla", "path_nla")),
    wire.TYPE_POLL: (("sqn", "poll_sqn"), ("round", "poll_round"), ("s_type", "poll_s_type"),
                     ("nla", "path_nla"), ("bo_ivl", "poll_bo_ivl"), ("rand", "poll_rand"),
                     ("mask", "poll_mask")),
    wire.TYPE_POLR: (("sqn", "polr_sqn"), ("round", "polr_round")),
    wire.TYPE_ODATA: (("sqn", "data_sqn"), ("trail", "data_trail")),
    wire.TYPE_RDATA: (("sqn", "data_sqn"), ("trail", "data_trail")),
    wire.TYPE_NAK: (("sqn", "nak_sqn"), ("src", "source_nla"), ("grp", "group_nla")),
    wire.TYPE_NNAK: (("sqn", "nak_sqn"), ("src", "source_nla"), ("grp", "group_nla")),
    wire.TYPE_NCF: (("sqn", "nak_sqn"), ("src", "source_nla"), ("grp", "group_nla")),
    wire.TYPE_SPMR: (),
    wire.TYPE_ACK: (("rx_max", "ack_rx_max"), ("bitmap", "ack_bitmap")),
}  # fmt: skip

_HEADER_FIELDS = {f.name for f in dataclasses.fields(wire.Packet)}
_OPT_HEADER = ("opx", "f_bits", "u")


@dataclass(frozen=True, slots=True)
class Decoded:
    """One PGM packet seen in a capture."""

    ts: float
    """Capture time, seconds since the epoch."""
    src: str
    """IP source address."""
    dst: str
    """IP destination address."""
    udp: tuple[int, int] | None
    """UDP source and destination port when UDP-encapsulated, else ``None`` (raw IP)."""
    size: int
    """Bytes of the PGM packet (from its header on)."""
    packet: wire.Packet | None
    """The parsed packet, or ``None`` if it is malformed."""
    error: str | None = None
    """Why the codec refused it: ``"BadChecksum: ..."``; ``None`` for a good packet."""
    raw_type: int | None = None
    """The type code from the header bytes (also for malformed packets with a header)."""
    tsi: wire.TSI | None = None
    """The session, from the header bytes (also for malformed packets with a header)."""

    @property
    def type_name(self) -> str:
        """SPM, ODATA, ... (``type 0x3f`` for an unknown code, ``?`` without a header)."""
        if self.raw_type is None:
            return "?"
        return TYPE_NAMES.get(self.raw_type, f"type 0x{self.raw_type:02x}")


def _header_tsi(raw: bytes) -> tuple[int | None, wire.TSI | None]:
    if len(raw) < wire.HEADER_SIZE:
        return None, None
    typ = raw[4] & 0x3F
    port_at = 2 if typ in UPSTREAM_TYPES else 0
    return typ, wire.TSI(bytes(raw[8:14]), int.from_bytes(raw[port_at : port_at + 2], "big"))


def decode(
    record: PcapRecord,
    udp_ports: Collection[int] = DEFAULT_UDP_ENCAP_PORTS,
    *,
    verify: bool = True,
) -> Decoded | None:
    """The PGM packet in ``record`` (see the module docstring), or ``None`` if it has none."""
    try:
        found = extract_pgm(record, udp_ports)
    except (ValueError, IndexError, struct.error):  # a frame too odd to take apart: not PGM
        return None
    if found is None:
        return None
    raw, meta = found
    udp = None if meta["sport"] is None else (meta["sport"], meta["dport"] or 0)
    typ, tsi = _header_tsi(raw)
    try:
        pkt: wire.Packet | None = wire.parse(raw, verify=verify)
        error = None
    except wire.PacketError as exc:
        pkt, error = None, f"{type(exc).__name__}: {exc}"
    if error is not None and meta["truncated"]:
        error += " (capture truncated)"
    return Decoded(record.ts, meta["src"], meta["dst"], udp, len(raw), pkt, error, typ, tsi)


def parse_tsi(text: str) -> wire.TSI:
    """A TSI as the user types it: OpenPGM's ``31.29.110.65.96.43.7550`` (six GSI bytes in
    decimal, then the source port) or ``1f1d6e41602b.7550`` (the GSI in hex)."""
    parts = text.strip().split(".")
    try:
        if len(parts) == 7:
            gsi, port = bytes(int(p) for p in parts[:6]), int(parts[6])
        elif len(parts) == 2 and len(parts[0]) == 12:
            gsi, port = bytes.fromhex(parts[0]), int(parts[1])
        else:
            raise ValueError
        if not 0 <= port <= 0xFFFF:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"not a TSI: {text!r} (examples: 31.29.110.65.96.43.7550, 1f1d6e41602b.7550)"
        ) from None
    return wire.TSI(gsi, port)


# -- the text line -----------------------------------------------------------------------------


def _value(v: Any) -> str:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def _option_text(o: wire.Option) -> str:
    name = o.NAME.removeprefix("OPT_")
    fields = [(f.name, getattr(o, f.name)) for f in dataclasses.fields(o)]
    if isinstance(o, wire.UnknownOption):
        name = f"0x{o.type:02x}"
    parts = [f"{k}={_value(v)}" for k, v in fields if k not in _OPT_HEADER]
    parts += [f"{k}={v:#x}" if k == "f_bits" else f"{k}={_value(v)}"
              for k, v in fields if k in _OPT_HEADER and v]  # fmt: skip
    return f"{name}({','.join(parts)})" if parts else name


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S.%f")


def format_line(d: Decoded) -> str:
    """The one-line form of a decoded packet, e.g.
    ``10:17:21.123456 10.77.0.1 -> 239.192.0.1 ODATA tsi=31.29.110.65.96.43.7550 sqn=10
    trail=0 len=1400 opts=FRAGMENT(first_sqn=10,offset=0,apdu_length=5000)``."""
    head = f"{_when(d.ts)} {d.src} -> {d.dst}"
    if d.udp is not None:
        head += f" udp:{d.udp[0]}>{d.udp[1]}"
    p = d.packet
    if p is None:
        tsi = f" tsi={d.tsi}" if d.tsi is not None else ""
        return f"{head} MALFORMED {d.type_name}{tsi} size={d.size}: {d.error}"
    parts = [head, p.NAME, f"tsi={p.tsi}"]
    parts += [f"{label}={_value(getattr(p, attr))}" for label, attr in LINE_FIELDS[p.TYPE]]
    if isinstance(p, wire.DataPacket):
        parts.append(f"len={len(p.data)}")
    if p.options:
        parts.append("opts=" + ",".join(_option_text(o) for o in p.options))
    if p.parity:
        parts.append("parity")
    if p.var_pktlen:
        parts.append("var_pktlen")
    return " ".join(parts)


# -- JSON --------------------------------------------------------------------------------------


def _json_value(v: Any) -> Any:
    if isinstance(v, IPv4Address | IPv6Address):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    return v


def _option_json(o: wire.Option) -> dict[str, Any]:
    out: dict[str, Any] = {"option": o.NAME}
    for f in dataclasses.fields(o):
        out[f.name] = _json_value(getattr(o, f.name))
    return out


def to_json(d: Decoded) -> dict[str, Any]:
    """The ``--json`` object of a decoded packet (field names as in :mod:`pgm.wire`)."""
    out: dict[str, Any] = {"ts": d.ts, "src": d.src, "dst": d.dst}
    out["transport"] = "ip" if d.udp is None else "udp"
    if d.udp is not None:
        out["udp_sport"], out["udp_dport"] = d.udp
    out["size"] = d.size
    out["type"] = d.type_name
    out["tsi"] = None if d.tsi is None else str(d.tsi)
    p = d.packet
    if p is None:
        out["malformed"] = d.error
        return out
    out.update(source_port=p.source_port, destination_port=p.destination_port)
    for f in dataclasses.fields(p):
        if f.name not in _HEADER_FIELDS and f.name != "data":
            out[f.name] = _json_value(getattr(p, f.name))
    if isinstance(p, wire.DataPacket):
        out["tsdu_length"] = len(p.data)
    out["options"] = [_option_json(o) for o in p.options]
    out["parity"], out["var_pktlen"] = p.parity, p.var_pktlen
    out["checksum"] = p.checksum
    return out
