"""An in-memory multicast network for sans-I/O PGM engines, driven by a virtual clock.

The simulator runs the same engines as the I/O layer, through the same driver step
(:mod:`pgm.driver`), on a virtual clock with seeded, scriptable loss: every protocol rule is
testable at microsecond precision without sleeping, and every run is reproducible.

* :mod:`pgm.sim.network` — :class:`Network` (clock, event queue, routing); the theory of
  operation is there.  :mod:`pgm.sim.node` — :class:`Node` and the :class:`Engine` protocol.
* :mod:`pgm.sim.links` — :class:`Link` conditions and the scripted drop rules
  (:func:`drop_sqns`, :func:`drop_types`, :func:`drop_all`).
* :mod:`pgm.sim.trace` — :class:`TraceEntry` (one per datagram sent) and :class:`Stats`.
* Experiments (``pgm sim``, docs/sim.md): :mod:`pgm.sim.scenario` (scenario files, sweeps),
  :mod:`pgm.sim.models` (link models), :mod:`pgm.sim.metrics` (probes, metrics),
  :mod:`pgm.sim.experiment` (runs, results folders), :mod:`pgm.sim.plots` (PNGs).

Example::

    net = Network(seed=1)
    src = net.add_node(source_engine, "10.0.0.1")
    rcv = net.add_node(receiver_engine, "10.0.0.2", groups=["239.1.2.3"])
    net.default_link = Link(delay=0.010, loss=0.05)
    source_engine.send(b"hello", net.now); src.poke()
    net.run(until=5.0)
    print(rcv.events, net.sent(by=rcv, type="NAK"))
"""

from .links import PERFECT, DropPredicate, Link, drop_all, drop_sqns, drop_types
from .network import Network
from .node import Engine, Node
from .trace import Stats, TraceEntry

__all__ = [
    "PERFECT",
    "DropPredicate",
    "Engine",
    "Link",
    "Network",
    "Node",
    "Stats",
    "TraceEntry",
    "drop_all",
    "drop_sqns",
    "drop_types",
]
