"""Interoperability with OpenPGM, directly (libpgm) and through ZeroMQ: harness.py explains how
the tests run, matrix.py how their results become docs/interop.md."""
