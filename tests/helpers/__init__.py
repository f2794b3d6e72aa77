"""Helpers the tests import (``from tests.helpers.cli import invoke``); fixtures live in ``tests/conftest.py``.

- ``paths``: the repository root and the read-only ``../shared`` folder beside it;
- ``cli``: the real ``bench`` CLI in this process (``invoke``) or as a subprocess (``run_bench``), and
  the checks of its bad-input promises;
- ``results``: results documents made from drawn scores, as ``bench evaluate`` writes them.
"""
