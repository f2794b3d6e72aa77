"""How fast the CLI answers: start-up to a one-line error, and Ctrl-C to exit.

    python benchmarks/cli_responsiveness.py [--compare REF] [--runs 7]

Start-up: wall time of `bench --version`, `bench challenges list` and a bad-input command
(`bench generate` on a missing corpus: the error path every battery test takes), median of
``--runs`` runs. With ``--compare REF`` the same commands run from a git worktree of REF in
the same session (same venv, ``PYTHONPATH`` pointing at the worktree), side by side.

Ctrl-C: `bench generate --workers 2` on a simulated 2-speaker corpus is sent SIGINT (to its
process group, as a terminal does) once its journal holds a few records; the time from the
signal to the process's exit, median of ``--runs``.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, header, table

COMMANDS = {
    "bench --version": ["--version"],
    "bench challenges list": ["challenges", "list"],
    "bad input (generate, missing corpus)": ["generate", "--corpus", "/nonexistent", "--out", "/tmp/never"],
}


def _run(args: list[str], pythonpath: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, cwd=pythonpath)
    return time.perf_counter() - t0


def startup(pythonpath: Path, runs: int) -> dict[str, float]:
    return {name: statistics.median(_run(args, pythonpath) for _ in range(runs)) for name, args in COMMANDS.items()}


def ctrl_c_latency(runs: int, work: Path) -> list[float]:
    corpus = work / "corpus"
    subprocess.run([sys.executable, "-m", "bench", "data", "simulate", "--speakers", "2", "--out", str(corpus),
                    "--workers", "2"], check=True, capture_output=True, cwd=REPO)
    out = []
    for i in range(runs):
        fakes = work / f"fakes{i}"
        proc = subprocess.Popen([sys.executable, "-m", "bench", "generate", "--corpus", str(corpus), "--out",
                                 str(fakes), "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=REPO, start_new_session=True)
        while len(glob.glob(str(fakes / "journal" / "*.json"))) < 4 and proc.poll() is None:
            time.sleep(0.01)
        t0 = time.perf_counter()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait()
        out.append(time.perf_counter() - t0)
        assert proc.returncode == 130, proc.stderr.read()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", help="a git ref to measure beside this checkout (e.g. 39cf4e2)")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        columns, results = ["command", "this checkout (s)"], [startup(REPO, args.runs)]
        if args.compare:
            tree = work / "ref"
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), args.compare], cwd=REPO,
                           check=True)
            try:
                results.append(startup(tree, args.runs))
                columns.append(f"{args.compare} (s)")
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
        print(header("CLI start-up (median wall time of a whole `bench` process)"))
        print(table(columns, [[name, *(f"{r[name]:.2f}" for r in results)] for name in COMMANDS]))
        latencies = ctrl_c_latency(args.runs, work)
        print()
        print(header("Ctrl-C on `bench generate --workers 2` (SIGINT to the process group -> exit 130)"))
        print(table(["runs", "median s", "max s"], [[len(latencies), f"{statistics.median(latencies):.2f}",
                                                     f"{max(latencies):.2f}"]]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
