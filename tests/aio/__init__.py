"""Tests of the asyncio API (pgm.asyncio): in memory on virtual time, and in namespaces."""
