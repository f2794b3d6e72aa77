"""Core modules do not import plugins or the leaderboard when they are imported (DESIGN.md's layers)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

CORE = ["bench.evaluate", "bench.detection", "bench.results", "bench.corpus", "bench.registry", "bench.gate",
        "bench.comparison", "bench.migrate", "bench.taxonomy_version"]


def test_core_modules_import_no_plugin_or_leaderboard():
    code = ("import importlib, sys\n"
            f"for m in {CORE!r}: importlib.import_module(m)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'detectors', 'generators', 'leaderboard'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout
