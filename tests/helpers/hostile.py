"""A hostile group member for the attack tests (issue 13, docs/security.md).

Theory of operation
-------------------
:class:`Forger` builds forged packets of one session from what a listener learns by
listening: the TSI, the group and port, the latest SPM (sequence, edges, path NLA) and the
latest data sequence number (:meth:`Forger.learn`).  Every builder returns wire bytes, so the
same forger serves the in-memory tests (an :class:`Attacker` node on a :mod:`pgm.sim` network)
and the namespace bed (bytes sent on a raw socket).  Nothing here has protocol logic: it only
fills fields as an attacker would.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgm import wire
from pgm.sim import Network, Node
from pgm.wire import NLA, TSI, as_nla
from tests.helpers.peer import Peer

MASK = 0xFFFFFFFF


class Forger:
    """Forged packets of session ``tsi`` on ``group``/``dport`` (see the module docstring)."""

    def __init__(self, tsi: TSI, group: NLA | str, dport: int) -> None:
        self.tsi = tsi
        self.group = as_nla(group)
        self.dport = dport
        self.spm_sqn = 0
        self.trail = 0
        self.lead = 0
        self.path: NLA | None = None
        self.heard_spm = False

    def learn(self, pkt: wire.Packet) -> None:
        """Take in an overheard downstream packet of the session."""
        if getattr(pkt, "gsi", None) != self.tsi.gsi or pkt.source_port != self.tsi.source_port:
            return
        if isinstance(pkt, wire.SPM):
            if not self.heard_spm or wire.sqn_gt(pkt.spm_sqn, self.spm_sqn):
                self.spm_sqn, self.trail, self.path = pkt.spm_sqn, pkt.spm_trail, pkt.path_nla
                self.heard_spm = True
            if wire.sqn_gt(pkt.spm_lead, self.lead):
                self.lead = pkt.spm_lead
        elif isinstance(pkt, wire.DataPacket) and wire.sqn_gt(pkt.data_sqn, self.lead):
            self.lead = pkt.data_sqn

    def spm(
        self,
        *,
        sqn_ahead: int = 1,
        lead: int | None = None,
        trail: int | None = None,
        path: NLA | str | None = None,
        options: Sequence[wire.Option] = (),
    ) -> bytes:
        """An SPM ``sqn_ahead`` after the last one heard (default edges: the ones known)."""
        return wire.SPM(
            source_port=self.tsi.source_port,
            destination_port=self.dport,
            gsi=self.tsi.gsi,
            spm_sqn=(self.spm_sqn + sqn_ahead) & MASK,
            spm_trail=(self.trail if trail is None else trail) & MASK,
            spm_lead=(self.lead if lead is None else lead) & MASK,
            path_nla=as_nla(path) if path is not None else (self.path or self.group),
            options=list(options),
        ).encode()

    def odata(
        self,
        sqn: int,
        data: bytes = b"forged",
        *,
        trail: int | None = None,
        options: Sequence[wire.Option] = (),
    ) -> bytes:
        """An ODATA at wire number ``sqn``."""
        return wire.ODATA(
            source_port=self.tsi.source_port,
            destination_port=self.dport,
            gsi=self.tsi.gsi,
            data_sqn=sqn & MASK,
            data_trail=(self.trail if trail is None else trail) & MASK,
            data=data,
            options=list(options),
        ).encode()

    def ncf(self, sqns: Sequence[int]) -> bytes:
        """An NCF (list) for ``sqns``, as the source would multicast it."""
        return wire.encode_nak_list(
            wire.NCF,
            source_port=self.tsi.source_port,
            destination_port=self.dport,
            gsi=self.tsi.gsi,
            sqns=[q & MASK for q in sqns],
            source_nla=self.path or self.group,
            group_nla=self.group,
        )

    def nak(self, sqns: Sequence[int], source_nla: NLA | str | None = None) -> bytes:
        """A NAK (list) for ``sqns`` that the source accepts (to its path NLA, or multicast);
        with another ``source_nla`` the source refuses it but receivers still see a peer NAK."""
        return wire.encode_nak_list(
            wire.NAK,
            source_port=self.dport,
            destination_port=self.tsi.source_port,
            gsi=self.tsi.gsi,
            sqns=[q & MASK for q in sqns],
            source_nla=as_nla(source_nla) if source_nla else (self.path or self.group),
            group_nla=self.group,
        )


class Attacker(Peer):
    """A group member that listens (feeding a :class:`Forger`) and sends what tests give it."""

    def __init__(self, forger: Forger) -> None:
        super().__init__()
        self.forger = forger

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        try:
            pkt = wire.parse(datagram)
        except wire.PacketError:
            return
        self.forger.learn(pkt)


def add_attacker(net: Network, tsi: TSI, group: str, dport: int = 7500) -> Node[Attacker]:
    """An attacker at 10.0.0.66 joined to ``group``."""
    return net.add_node(Attacker(Forger(tsi, group, dport)), "10.0.0.66", groups=[group],
                        name="attacker")  # fmt: skip


def send(node: Node[Attacker], datagram: bytes, dst: NLA | str | None = None) -> None:
    """Send ``datagram`` from the attacker now (to the group by default)."""
    eng = node.engine
    eng.out.append((datagram, as_nla(dst) if dst is not None else eng.forger.group, None))
    node.poke()
