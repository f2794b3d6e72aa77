"""The regression gate: compare a current results JSON with a baseline under tolerances.

A metric regresses when it moves the wrong way by more than its tolerance and, with
CI-aware checking (the default), when the baseline's value also lies outside the current
run's bootstrap confidence interval, so that resampling noise does not fail CI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomllib

from bench.errors import BenchError, first_line
from bench.evaluation.results import Estimate, LatencyResult, Result, load_latency, load_result
from bench.fileio import read_text


@dataclass
class Tolerances:
    """Allowed movement per metric (AUROC/EER in absolute fractions; speed as relative change)."""

    auroc_drop: float = 0.02
    eer_rise: float = 0.02
    latency_p95_rise: float = 0.20
    throughput_fall: float = 0.30
    per_challenge: bool = True
    ci_aware: bool = True

    @classmethod
    def from_file(cls, path: str | Path) -> Tolerances:
        p = Path(path)
        if not p.is_file():
            raise BenchError(f"{p}: no such gate config file")
        try:
            data = tomllib.loads(read_text(p, "gate config"))
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise BenchError(f"{p}: not valid TOML ({first_line(exc)})") from None
        data = data.get("gate", data)
        if not isinstance(data, dict):
            raise BenchError(f"{p}: [gate] must be a table of settings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BenchError(f"{p}: unknown gate setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        tol = cls(**data)
        tol.validate(str(p))
        return tol

    def validate(self, where: str = "gate") -> None:
        """Tolerances are finite non-negative numbers and switches are booleans (BenchError otherwise)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(f.default, bool):
                if not isinstance(value, bool):
                    raise BenchError(f"{where}: {f.name} must be true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise BenchError(f"{where}: {f.name} must be a number, got {value!r}")
            elif not math.isfinite(value) or value < 0:
                raise BenchError(f"{where}: {f.name} must be a finite number >= 0, got {value!r}")


@dataclass
class Check:
    metric: str
    baseline: float | None
    current: float | None
    tolerance: str
    status: str  # ok | regression | improved | noise | skipped
    detail: str = ""


def _directional(name: str, base: Estimate | None, cur: Estimate | None, tol: float, ci_aware: bool,
                 higher_better: bool) -> Check:
    """Absolute-tolerance check of a metric with a CI; ``higher_better`` for AUROC, not for EER."""
    sign = -1.0 if higher_better else 1.0
    label = f"{'-' if higher_better else '+'}{tol:.3f}"
    if base is None or cur is None or base.value is None or cur.value is None:
        return Check(name, getattr(base, "value", None), getattr(cur, "value", None), label, "skipped",
                     "missing in one run")
    worse = sign * (cur.value - base.value)  # > 0: moved the wrong way
    if worse <= tol:
        return Check(name, base.value, cur.value, label, "improved" if worse < -tol else "ok")
    bound = cur.ci_high if higher_better else cur.ci_low
    if ci_aware and bound is not None and sign * (base.value - bound) >= 0:
        return Check(name, base.value, cur.value, label, "noise",
                     f"baseline inside current CI [{_fmt(cur.ci_low)}, {_fmt(cur.ci_high)}]")
    return Check(name, base.value, cur.value, label, "regression",
                 f"{'dropped' if higher_better else 'rose'} {worse:.3f}")


def _fmt(x: float | None) -> str:
    return "?" if x is None else f"{x:.3f}"


def _relative(name: str, base: float | None, cur: float | None, tol: float, higher_better: bool) -> Check:
    sign = "-" if higher_better else "+"
    if not base or cur is None:
        return Check(name, base, cur, f"{sign}{100 * tol:.0f}%", "skipped", "missing in one run")
    change = (cur - base) / base
    bad = -change if higher_better else change
    status = "regression" if bad > tol else "improved" if bad < -tol else "ok"
    return Check(name, base, cur, f"{sign}{100 * tol:.0f}%", status, f"{100 * change:+.1f}%")


def compare(baseline: Result, current: Result, tol: Tolerances) -> list[Check]:
    """All checks of ``current`` against ``baseline``; BenchError if they are not comparable."""
    bh, ch = baseline.corpus.get("content_hash"), current.corpus.get("content_hash")
    if bh and ch and bh != ch:
        raise BenchError(f"baseline and current were measured on different corpora ({bh} vs {ch}); "
                         "regenerate the baseline on this corpus")
    checks = [
        _directional("overall AUROC", baseline.overall.auroc, current.overall.auroc, tol.auroc_drop, tol.ci_aware,
                     higher_better=True),
        _directional("overall EER", baseline.overall.eer, current.overall.eer, tol.eer_rise, tol.ci_aware,
                     higher_better=False),
    ]
    if baseline.paper_top10_auroc is not None:  # a fixed set (the paper's), so the two runs compare the same thing
        checks.append(_directional("AUROC on the paper's top-10", baseline.paper_top10_auroc,
                                   current.paper_top10_auroc, tol.auroc_drop, tol.ci_aware, higher_better=True))
    if baseline.top_n_auroc is not None and baseline.top_challenges == current.top_challenges:
        checks.append(_directional("top-N AUROC", baseline.top_n_auroc, current.top_n_auroc, tol.auroc_drop,
                                   tol.ci_aware, higher_better=True))
    if tol.per_challenge:
        cur_by = {c.challenge: c for c in current.per_challenge}
        for b in baseline.per_challenge:
            c = cur_by.get(b.challenge)
            checks.append(_directional(f"#{b.challenge} {b.name} AUROC", b.auroc, c.auroc if c else None,
                                       tol.auroc_drop, tol.ci_aware, higher_better=True))
    checks.append(_relative("throughput (audio s / CPU s)", baseline.timings.get("rtfx_cpu"),
                            current.timings.get("rtfx_cpu"), tol.throughput_fall, higher_better=True))
    bl, cl = _latency(baseline), _latency(current)
    if bl is not None or cl is not None:
        checks.append(_relative("latency p95 (ms)", bl, cl, tol.latency_p95_rise, higher_better=False))
    return checks


def _latency(result: Result) -> float | None:
    latency: dict[str, Any] = result.timings.get("latency") or {}
    return latency.get("p95_ms")


def compare_latency(baseline: LatencyResult, current: LatencyResult, tol: Tolerances) -> list[Check]:
    """Checks of a ``bench latency`` run against a baseline run: p95 end-to-end time, throughput, dropped
    chunks (any new drop is a regression); BenchError if the runs did not measure the same thing."""
    same = ("profile", "mode", "realtime", "callers")
    diff = [f"{k} {getattr(baseline, k)} vs {getattr(current, k)}" for k in same
            if getattr(baseline, k) != getattr(current, k)]
    if diff:
        raise BenchError(f"the latency runs are not comparable ({'; '.join(diff)}); re-measure the baseline")
    bd, cd = baseline.dropped / max(baseline.chunks_sent, 1), current.dropped / max(current.chunks_sent, 1)
    drops = Check("dropped chunks (fraction)", bd, cd, "+0", "regression" if cd > bd else "improved" if cd < bd
                  else "ok", f"{current.dropped} of {current.chunks_sent}")
    return [_relative("end-to-end p95 (ms)", baseline.parts["end_to_end"].p95_ms,
                      current.parts["end_to_end"].p95_ms, tol.latency_p95_rise, higher_better=False),
            _relative("throughput (chunks / s)", baseline.throughput_chunks_per_s, current.throughput_chunks_per_s,
                      tol.throughput_fall, higher_better=True), drops]


def load_for_gate(path: str | Path) -> Result | LatencyResult:
    """A detection result or a latency result, whichever the file is."""
    from bench.fileio import read_json

    p = Path(path)
    if p.is_file() and p.suffix == ".json":
        try:
            kind = read_json(p, "results file").get("kind")
        except BenchError:
            kind = None
        if kind == "latency":
            return load_latency(p)
    return load_result(p)


def compare_any(baseline: Result | LatencyResult, current: Result | LatencyResult, tol: Tolerances) -> list[Check]:
    """:func:`compare` or :func:`compare_latency`; BenchError when the two files are of different kinds."""
    if isinstance(baseline, LatencyResult) != isinstance(current, LatencyResult):
        raise BenchError("one file is a latency result and the other a detection result: compare like with like")
    if isinstance(baseline, LatencyResult):
        return compare_latency(baseline, current, tol)
    return compare(baseline, current, tol)
