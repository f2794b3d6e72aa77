"""The layers of docs/architecture.md hold (import-linter contracts in pyproject.toml, function-level imports
included), the install has one import root (``bench``), ``bench/`` stays small at its top level, and the old
import paths of bench 0.1 still work for one release, with a warning that names the new path."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bench._moved import MOVED
from tests.helpers.paths import REPO

OLD_ROOTS = {"detectors", "generators", "challenges", "leaderboard"}
#: network definitions transcribed from official code, exempt from the 500-line rule (issue #22)
TRANSCRIBED = {"detectors/aasist/network.py", "detectors/rawnet2/network.py", "detectors/devox/network.py"}


def _lint_imports() -> str | None:
    exe = Path(sys.executable).parent / "lint-imports"
    return str(exe) if exe.is_file() else shutil.which("lint-imports")


@pytest.mark.skipif(_lint_imports() is None, reason="import-linter is not installed (pip install -e '.[dev]')")
def test_layer_contracts_hold():
    """The same check .ci/run's lint step runs: a broken contract names the offending import and its line."""
    out = subprocess.run(["bash", str(REPO / ".ci" / "lint-layers")], capture_output=True, text=True,
                         env={"LINT_IMPORTS": _lint_imports(), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and "0 broken" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]


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


def test_built_in_plugins_and_docs_use_only_the_new_paths():
    """The built-in plugins, the benchmarks and the docs import nothing through a deprecated path."""
    files = _python_files("bench", "detectors", "generators", "challenges", "leaderboard", "benchmarks")
    offenders = [f"{p.relative_to(REPO)}: {m}" for p in files for m in _imports(p) if m in MOVED]
    docs = [p for p in (REPO / "docs").glob("*.md")] + [REPO / "README.md"]
    offenders += [f"{p.relative_to(REPO)}: {old}" for p in docs for old in MOVED
                  if f"from {old} import" in p.read_text() or f"import {old}\n" in p.read_text()]
    assert offenders == []


def test_bench_top_level_is_small_and_modules_are_short():
    top = sorted(p.name for p in (REPO / "bench").glob("*.py"))
    assert len(top) <= 12, top
    long = [f"{p.relative_to(REPO)}: {n}" for p in _python_files("bench", "detectors", "generators", "challenges",
                                                                  "leaderboard")
            if str(p.relative_to(REPO)) not in TRANSCRIBED and (n := len(p.read_text().splitlines())) > 500]
    assert long == []


@pytest.mark.parametrize("old", ["bench.registry", "bench.detection", "bench.torchcm", "bench.detectors.base",
                                 "bench.generators.base"])
def test_old_plugin_paths_warn_and_give_the_new_module(old):
    code = (f"import warnings, importlib\nwarnings.simplefilter('always')\n"
            f"with warnings.catch_warnings(record=True) as w:\n    m = importlib.import_module({old!r})\n"
            "print(m.__name__)\nprint([str(x.message) for x in w if x.category is DeprecationWarning])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    name, messages = out.stdout.splitlines()
    assert name == MOVED[old]
    assert f"{old} is deprecated" in messages and MOVED[old] in messages


def test_every_old_path_resolves_to_an_existing_module():
    for new in set(MOVED.values()):
        importlib.import_module(new)


def test_the_plugin_api_exports_what_it_lists():
    import bench.api as api

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        missing = [n for n in api.__all__ if getattr(api, n, None) is None]
    assert missing == []
    with pytest.raises(AttributeError):
        api.NoSuchName  # noqa: B018


def test_a_registry_lookup_does_not_import_torch():
    """``bench.api`` is lazy: listing plugins' names in a fresh process loads no torch."""
    code = "import sys, bench.api\nbench.api.DETECTORS\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


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
