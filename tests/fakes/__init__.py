"""Tiny, seeded, real-looking test data (as torchgeo's fake datasets), importable from any test
folder as ``fakes.<module>`` (``pythonpath = ["tests"]`` in pyproject), so no test imports a
``conftest`` module by name."""
