"""Optional integrations with third-party tools; nothing here is imported by the rest of ``pgm``.

* :mod:`pgm.contrib.scapy` — scapy layers for every PGM packet type and option
  (``pip install 'pypgm[scapy]'``).
"""
