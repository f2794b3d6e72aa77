"""Run the real CLI, in this process or as a subprocess, and check its promises: exit code, one stderr
line, no traceback, and every file that existed before left untouched.

In-process runs (``invoke``) go through ``bench.cli.main`` exactly as the console script does (only the
interpreter start-up is skipped), so a table of hundreds of bad inputs runs in seconds;
``tests/contract/test_cli_contract.py`` also runs a sample of the table as real subprocesses (``run_bench``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.paths import REPO


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def invoke(args: list[str], capfd, env: dict[str, str] | None = None, cwd: Path | None = None) -> Outcome:
    """``bench ARGS`` in this process; returns the exit code and what it printed (fd level)."""
    from bench.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env or {})
    if cwd is not None:
        os.chdir(cwd)
    capfd.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    out, err = capfd.readouterr()
    return Outcome(code, out, err)


def run_bench(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``bench`` CLI in a subprocess; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=600)


def evaluate_args(corpus: Path, root: Path, out: Path) -> list[str]:
    """The `bench evaluate` command line of the ``evaluated`` fixture, writing to ``out``."""
    return ["evaluate", "--detector", "pitch-lite", "--corpus", str(corpus), "--fakes", str(root / "fakes"),
            "--compliance", str(root / "compliance"), "--out", str(out), "--workers", "2", "--bootstrap", "200"]


def stat_snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root`` with (size, mtime_ns, inode): any write, rename or new entry
    shows up (a stricter check than byte equality, and cheap enough to take around every case)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            snap[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_ino, name in dirnames)
    return snap


def content_snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (byte identity)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def changes(before: dict, after: dict) -> list[str]:
    """Human-readable differences between two snapshots."""
    out = [f"removed {k}" for k in before if k not in after]
    out += [f"added {k}" for k in after if k not in before]
    out += [f"changed {k}" for k in before if k in after and before[k] != after[k]]
    return sorted(out)


def assert_bad_input(res: Outcome, needle: str, label: str = "") -> None:
    """Exit 2, exactly one line on stderr that contains ``needle``, no traceback anywhere."""
    where = f"{label}: " if label else ""
    assert "Traceback" not in res.stderr + res.stdout, f"{where}traceback:\n{res.stderr}"
    assert res.code == 2, f"{where}exit {res.code}, stderr:\n{res.stderr}"
    assert len(res.lines) == 1, f"{where}{len(res.lines)} stderr lines:\n{res.stderr}"
    assert needle.lower() in res.lines[0].lower(), f"{where}{needle!r} not in {res.lines[0]!r}"
