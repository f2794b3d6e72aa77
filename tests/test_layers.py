"""The layers of DESIGN.md hold: core modules import no plugin or leaderboard, plugins import
only the core, and the install has one import root (``bench``)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

CORE = ["bench.evaluate", "bench.detection", "bench.results", "bench.corpus", "bench.registry", "bench.gate",
        "bench.comparison", "bench.migrate", "bench.taxonomy_version"]
UPPER = ("bench.detectors", "bench.generators", "bench.leaderboard")
OLD_ROOTS = {"detectors", "generators", "challenges", "leaderboard"}


def test_core_modules_import_no_plugin_or_leaderboard():
    code = ("import importlib, sys\n"
            f"for m in {CORE!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.startswith({UPPER!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _python_files(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((REPO / f).rglob("*.py")) if "__pycache__" not in p.parts]


def test_one_import_root_everywhere():
    """No file imports the old top-level names (they are taken on PyPI: `detectors` is another project)."""
    offenders = [f"{p.relative_to(REPO)}: {m}" for p in _python_files("bench", "detectors", "generators", "challenges",
                                                                        "leaderboard", "tests", "benchmarks")
                 for m in _imports(p) if m.split(".")[0] in OLD_ROOTS]
    assert offenders == []


def test_plugins_import_only_the_core():
    """A detector or generator imports the core, its own package and third-party code: never another plugin
    family, the leaderboard, orchestration (generate/evaluate/demo) or the CLI."""
    upward = ("bench.cli", "bench.leaderboard", "bench.evaluate", "bench.generate", "bench.demo")
    offenders = []
    for family, other in (("detectors", "bench.generators"), ("generators", "bench.detectors")):
        for p in _python_files(family):
            offenders += [f"{p.relative_to(REPO)}: {m}" for m in _imports(p)
                          if m.startswith(upward) or m.startswith(other)]
    assert offenders == []


def test_the_install_adds_one_top_level_name():
    """setup.py maps the folders under bench: every package it installs starts with `bench`."""
    code = ("import runpy, sys, setuptools\n"
            "seen = {}\n"
            "setuptools.setup = lambda **kw: seen.update(kw)\n"
            "runpy.run_path('setup.py')\n"
            "print(sorted({p.split('.')[0] for p in seen['packages']}))\n"
            "print(seen['package_dir']['bench.detectors'], 'bench.detectors.pitch' in seen['packages'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split("\n")[:2] == ["['bench']", "detectors True"]
