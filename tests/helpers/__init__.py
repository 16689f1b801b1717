"""What the tests share, one job per module.

* :mod:`~tests.helpers.world` — ``World``: one Source and N Receivers on a :mod:`pgm.sim`
  network, with the messages sent; ``make_world``, ``messages``.
* :mod:`~tests.helpers.addresses` — the conformance scene: addresses, ports, GSI, group.
* :mod:`~tests.helpers.packets` — packets as OpenPGM's ``sim.c`` builds them (SPM, ODATA, RDATA,
  NCF, NAK, SPMR) in that scene.
* :mod:`~tests.helpers.trace` — ``Tx`` records of what a node sent, ``within`` for virtual times.
* :mod:`~tests.helpers.checks` — assertions on one traced packet (NAK, NCF, data, SPM).
* :mod:`~tests.helpers.peer` — ``Peer``: the scripted network role (``sim.c``).
* :mod:`~tests.helpers.benches` — ``TxBench`` / ``RxBench``: a real engine facing a ``Peer``.
* :mod:`~tests.helpers.strategies` — hypothesis strategies for packets and options.
* :mod:`~tests.helpers.wire_cases` — one of every packet type and option, as IP/UDP frames.
* :mod:`~tests.helpers.rfc_layout` — RFC 3208's layouts written down independently of the codec.
* :mod:`~tests.helpers.pdml` — reading Wireshark's PDML output.
* ``pgm_peer.py`` — the one pgm subprocess peer of the end-to-end, interop and benchmark runs
  (a script, run by path; see its docstring).
"""
