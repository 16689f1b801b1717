"""The network side of the I/O layer: transports (raw IP 113, UDP encapsulation) and wrappers.

:mod:`pgm.net.transport` opens the sockets (also importable as :mod:`pgm.transport`);
:mod:`pgm.net.lossy` wraps a transport to lose received data packets at random (simulated loss
for demonstrations and tests).
"""
