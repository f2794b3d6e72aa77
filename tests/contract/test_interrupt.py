"""Ctrl-C on every long command: exit 130 with one line on stderr, no orphaned worker, and a rerun of the
same command line resumes to the output an uninterrupted run makes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from bench.data.corpus import read_manifest
from bench.evaluation.results import load_result
from tests.helpers.cli import evaluate_args, run_bench
from tests.helpers.paths import REPO

INTERRUPTED = "interrupted: finished items are kept; run the same command again to resume"
pytestmark = pytest.mark.slow


def _interruptible() -> None:
    """In the child before exec: SIGINT back to its default, so Python turns it into KeyboardInterrupt even
    when the test run itself was started in the background (where a shell ignores SIGINT, and Python keeps
    an inherited 'ignore')."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(args: list[str], ready: Callable[[int], bool],
              timeout: float = 600) -> tuple[subprocess.CompletedProcess, int]:
    """Start ``bench ARGS`` in its own process group, wait until ``ready(pid)``, then press Ctrl-C once (SIGINT
    to the whole group, as a terminal does). Generous timeouts: the machine may be busy."""
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO, start_new_session=True, preexec_fn=_interruptible)
    start = time.monotonic()
    while not ready(proc.pid):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"finished (exit {proc.returncode}) before it could be interrupted: {err[-500:]}")
        if time.monotonic() - start > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("never became ready to interrupt")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid


def group_gone(pgid: int, timeout: float = 120) -> bool:
    """Whether every process of the group has exited within ``timeout`` seconds (polled)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def assert_interrupted(res: tuple[subprocess.CompletedProcess, int]) -> None:
    proc, pgid = res
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == INTERRUPTED, proc.stderr
    assert group_gone(pgid)  # the workers went with it


def reading(pid: int, suffix: str) -> bool:
    """Whether process ``pid`` has a file ending in ``suffix`` open now (Linux /proc): the work has begun."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd).endswith(suffix):
                return True
        except OSError:
            continue
    return False


def count(folder: Path, pattern: str) -> Callable[[], int]:
    return lambda: len(list(folder.glob(pattern))) if folder.is_dir() else 0


def test_simulate_interrupted_then_resumed_equals_uninterrupted(sim_corpus, tmp_path):
    out = tmp_path / "corpus"
    args = ["data", "simulate", "--speakers", "2", "--sentences", "2", "--seed", "0", "--out", str(out),
            "--workers", "2"]  # the settings of the session's sim_corpus
    assert_interrupted(interrupt(args, lambda _: count(out / "audio", "*.wav")() >= 4))
    assert 4 <= count(out / "audio", "*.wav")() < 84
    res = run_bench(*args)
    assert res.returncode == 0, res.stderr
    assert read_manifest(out)["content_hash"] == read_manifest(sim_corpus)["content_hash"]


def test_generate_interrupted_twice_then_resumed_equals_uninterrupted(evaluated, sim_corpus, tmp_path):
    root, _ = evaluated
    out = tmp_path / "fakes"
    args = ["generate", "--corpus", str(sim_corpus), "--out", str(out), "--workers", "2"]
    records = count(out / "journal", "*.json")
    for _ in range(2):  # interrupt once some new items finished, twice
        start = records()
        assert_interrupted(interrupt(args, lambda _, s=start: records() >= s + 8))
    assert count(out / "journal", "*.json")() < 84 and not list(out.rglob(".*.tmp"))
    res = run_bench(*args)
    assert res.returncode == 0, res.stderr
    assert read_manifest(out)["content_hash"] == read_manifest(root / "fakes")["content_hash"]


def test_sigint_to_the_main_process_only_also_stops_the_workers(sim_corpus, tmp_path):
    """`kill -INT PID` (a supervisor, not a terminal): the parent passes the stop on to its workers."""
    out = tmp_path / "fakes"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "generate", "--corpus", str(sim_corpus), "--out",
                             str(out), "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, start_new_session=True, preexec_fn=_interruptible)
    records = count(out / "journal", "*.json")
    start = time.monotonic()
    while records() < 8 and proc.poll() is None and time.monotonic() - start < 600:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130 and err.strip() == INTERRUPTED, err
    assert records() < 84  # the workers stopped too
    assert group_gone(proc.pid)


def test_load_interrupted_writes_nothing_and_reruns(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    sr = 44100
    t = np.arange(sr * 20) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    lines = ["subject,challenge,audio"]
    for i in range(200):  # about 10 s of decoding and resampling on one core
        sf.write(src / f"f{i}.flac", x, sr)
        lines.append(f"s{i % 3},{i % 21},f{i}.flac")
    (src / "metadata.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "corpus"
    args = ["data", "load", str(src), "--out", str(out), "--workers", "1"]
    # ~10 s of work on an idle core: interrupt once it reads the recordings, however long start-up took
    assert_interrupted(interrupt(args, lambda pid: reading(pid, ".flac")))
    assert not out.exists()  # a corpus is written whole at the end, or not at all
    res = run_bench(*args)
    assert res.returncode == 0, res.stderr
    assert read_manifest(out)["rows"] == 200


def test_train_interrupted_then_resumed_keeps_trained_classifiers(sim_corpus, tmp_path):
    out = tmp_path / "compliance"
    args = ["train", "compliance", "--corpus", str(sim_corpus), "--out", str(out), "--epochs", "2",
            "--test-speakers", "1", "--challenges", "1-6"]

    def trained() -> int:
        try:
            return len(json.loads((out / "compliance.json").read_text())["challenges"])
        except (OSError, ValueError, KeyError):
            return 0

    assert_interrupted(interrupt(args, lambda _: trained() >= 1))
    done = trained()
    assert 1 <= done < 6
    res = run_bench(*args)
    assert res.returncode == 0, res.stderr
    assert trained() == 6 and "already trained, skipped" in res.stdout


def test_evaluate_interrupted_twice_then_resumed_equals_uninterrupted(evaluated, sim_corpus, tmp_path):
    """Same scores, and timings that add up across the three segments (not just the last one)."""
    root, _ = evaluated
    out = tmp_path / "result"
    args = evaluate_args(sim_corpus, root, out)
    parts = count(out / "cache", "*/part-*.parquet")
    for _ in range(2):
        start = parts()
        assert_interrupted(interrupt(args, lambda _, s=start: parts() >= s + 3))
    res = run_bench(*args)
    assert res.returncode == 0, res.stderr

    whole, resumed = load_result(root / "result" / "result.json"), load_result(out / "result.json")

    def scores(folder: Path) -> dict[str, float]:
        return {r["utterance_id"]: r["score"] for r in pq.read_table(folder / "scores.parquet").to_pylist()}

    assert scores(out) == scores(root / "result")
    assert resumed.overall.auroc == whole.overall.auroc
    assert resumed.timings["samples"] == whole.timings["samples"]
    for name, t in resumed.timings["components"].items():  # every sample's CPU time is counted
        assert t["audio_s"] == pytest.approx(whole.timings["components"][name]["audio_s"])
    # CPU-time accounting, not a speed target: before the fix the resumed figure was 25x off (149x vs 5.9x).
    # The bounds are wide because CPU time per clip moves with the machine's load (1.72x measured between two
    # runs of this test on a busy 2-core machine); the gate below allows the same 60 % fall.
    ratio = resumed.timings["rtfx_cpu"] / whole.timings["rtfx_cpu"]
    assert 0.4 < ratio < 2.5, (resumed.timings["rtfx_cpu"], whole.timings["rtfx_cpu"])
    gate = run_bench("gate", "--baseline", str(root / "result" / "result.json"), "--current", str(out / "result.json"))
    assert gate.returncode == 0, gate.stdout


def test_demo_interrupted_exits_130(tmp_path):
    out = tmp_path / "demo"
    assert_interrupted(interrupt(["demo", "--out", str(out), "--speakers", "4"],
                                 lambda _: count(out / "corpus" / "audio", "*.wav")() >= 4))
    assert read_manifest(out / "corpus") == {}  # the corpus was not saved half-way; a rerun renders the rest


CTRL_C_IN_PYRUN_STRING = """
import ctypes, os, signal, sys

import bench.cli.app

run = ctypes.pythonapi.PyRun_String
run.restype = ctypes.py_object
run.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object]


def app(*args, **kwargs):  # Ctrl-C while a library runs code through PyRun_String, as Cython module init does
    try:
        run(b"import os, signal\\nos.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10**7): pass", 257, {}, {})
    except KeyboardInterrupt:
        if sys.argv[1] == "swallowed":
            return 0
        raise


bench.cli.app.app = app
from bench.cli import main

main([])
"""


@pytest.mark.parametrize("library", ["raises", "swallowed"])
def test_ctrl_c_inside_a_library_pyrun_string_exits_130(tmp_path, library):
    """A KeyboardInterrupt raised inside a nested PyRun_String sets a CPython flag that made `python -m bench`
    kill itself by SIGINT at exit (-2, after its line): the CI failure of the `data load` test on a busy
    machine. Whether the library lets the KeyboardInterrupt through or swallows it, Ctrl-C exits 130."""
    (tmp_path / "ctrl_c_runner.py").write_text(CTRL_C_IN_PYRUN_STRING)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "ctrl_c_runner", library], capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=600, preexec_fn=_interruptible)
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == INTERRUPTED, res.stderr
