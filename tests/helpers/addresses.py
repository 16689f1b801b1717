"""The conformance scene: who is where, which ports and GSI the scripted packets carry.

Theory of operation
-------------------
OpenPGM's conformance scripts run three hosts; here they are fixed addresses on one
:mod:`pgm.sim` network: the source (or ``sim.c`` playing one) at ``SRC_ADDR``, the receiver (or
``sim.c`` playing one) at ``RCV_ADDR``, both on ``GROUP``, data to ``DPORT`` from ``SPORT`` with
the session's ``GSI``.  Every builder in :mod:`tests.helpers.packets` and every check in
:mod:`tests.helpers.checks` uses these values, so a test only states what differs.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from pgm.wire import NLA, TSI

GROUP = IPv4Address("239.192.0.1")
OTHER_GROUP = IPv4Address("239.192.0.2")
SRC_ADDR = IPv4Address("10.0.0.1")  # the source (or sim.c playing one)
RCV_ADDR = IPv4Address("10.0.0.2")  # the receiver (or sim.c playing one)
OTHER_RCV_ADDR = IPv4Address("10.0.0.3")  # a second receiver
ROUTER_ADDR = IPv4Address("10.0.0.254")  # an upstream PGM hop named by the SPM path NLA
DPORT = 7500
SPORT = 40000
GSI = bytes.fromhex("0a0b0c0d0e0f")
OTHER_GSI = bytes.fromhex("010203040506")
SESSION = TSI(GSI, SPORT)
EMPTY_LEAD = 0xFFFFFFFF  # SPM lead before any data (TRAIL 0 / LEAD 2**32 - 1)
EPS = 1e-9  # float slack on virtual times (sums of interval floats)

Datagram = tuple[bytes, NLA, "int | None"]


Datagram = tuple[bytes, NLA, "int | None"]
"""What a scripted peer hands the network: bytes, destination, TTL (None: the default)."""
