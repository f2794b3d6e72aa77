"""The leaderboard's figures (SVG): ROC and DET curves per challenge, score distributions, latency CDFs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from bench.challenges.taxonomy import all_challenges
from bench.fileio import write_atomic
from bench.leaderboard.entries import system_label


def draw(entries: list[dict[str, Any]], folder: Path) -> dict[str, str]:
    """Draw the figures of ``entries`` into ``folder``; returns figure name -> path relative to the leaderboard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    from bench.evaluation.detection_metrics import det_curve, roc_curve

    scored = [(e, e["scores"]) for e in entries if e["scores"]]
    figs: dict[str, str] = {}
    if not scored:
        return figs
    challenges = sorted({r["challenge"] for _, rows in scored for r in rows})
    names = {c.id: c.name for c in all_challenges()}
    ncol = 6
    nrow = int(np.ceil(len(challenges) / ncol))

    def label(e):
        r = e["result"]
        return f"{system_label(r)} / {r.generator.name}"

    for kind in ("roc", "det"):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3 * ncol, 2.8 * nrow), squeeze=False)
        for ax, c in zip(axes.flat, challenges, strict=False):
            for e, rows in scored:
                sel = [r for r in rows if r["challenge"] == c and r.get("in_scope", True)]
                y = np.array([r["label"] for r in sel])
                s = np.array([r["score"] for r in sel], dtype=float)
                if len(set(y.tolist())) < 2:
                    continue
                if kind == "roc":
                    fpr, tpr, _ = roc_curve(y, s)
                    ax.plot(fpr, tpr, label=label(e))
                else:
                    fpr, fnr = det_curve(y, s)
                    clip = np.clip
                    ax.plot(norm.ppf(clip(fpr, 1e-3, 1 - 1e-3)), norm.ppf(clip(fnr, 1e-3, 1 - 1e-3)), label=label(e))
            ax.set_title(f"#{c} {names.get(c, c)}", fontsize=9)
            if kind == "roc":
                ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
                ax.set_xlim(0, 1)
                ax.set_ylim(0, 1)
            else:
                ticks = [0.01, 0.05, 0.2, 0.5, 0.8]
                ax.set_xticks(norm.ppf(ticks), [f"{t:.0%}" for t in ticks], fontsize=6)
                ax.set_yticks(norm.ppf(ticks), [f"{t:.0%}" for t in ticks], fontsize=6)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(challenges):]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="lower right", fontsize=8)
        fig.suptitle("ROC per challenge (FPR vs TPR)" if kind == "roc" else "DET per challenge (FPR vs FNR, probit)")
        fig.tight_layout()
        save(fig, folder / f"{kind}.svg")
        plt.close(fig)
        figs[kind] = f"figures/{kind}.svg"

    for e, rows in scored:
        fig, axes = plt.subplots(nrow, ncol, figsize=(3 * ncol, 2.4 * nrow), squeeze=False)
        bins = _bins([r["score"] for r in rows if r.get("in_scope", True)])
        for ax, c in zip(axes.flat, challenges, strict=False):
            sel = [r for r in rows if r["challenge"] == c and r.get("in_scope", True)]
            real = [r["score"] for r in sel if r["label"] == 0]
            fake = [r["score"] for r in sel if r["label"] == 1]
            ax.hist(real, bins=bins, alpha=0.6, label="original", density=True)
            ax.hist(fake, bins=bins, alpha=0.6, label="fake", density=True)
            ax.set_title(f"#{c} {names.get(c, c)}", fontsize=9)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(challenges):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"Scores of originals vs fakes (higher = more likely fake): {label(e)}")
        fig.tight_layout()
        name = f"scores_{e['id']}.svg"
        save(fig, folder / name)
        plt.close(fig)
        figs[f"scores_{e['id']}"] = f"figures/{name}"

    latencies = [(e, e["result"].timings.get("latency", {}).get("samples_ms")) for e in entries]
    latencies = [(e, v) for e, v in latencies if v]
    if latencies:
        fig, ax = plt.subplots(figsize=(6, 4))
        for e, v in latencies:
            v = np.sort(np.asarray(v, dtype=float))
            ax.plot(v, np.arange(1, len(v) + 1) / len(v), label=label(e))
        ax.set_xlabel("latency per chunk (ms)")
        ax.set_ylabel("CDF")
        ax.legend(fontsize=8)
        fig.tight_layout()
        save(fig, folder / "latency_cdf.svg")
        plt.close(fig)
        figs["latency_cdf"] = "figures/latency_cdf.svg"
    return figs


def _bins(scores: list[float]) -> np.ndarray:
    """20 histogram bins over the scores' range ([0, 1] for scores inside it, such as Pitch's D; any range for
    log-odds)."""
    v = np.asarray([x for x in scores if x is not None and np.isfinite(x)], dtype=float)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    return np.linspace(lo, hi if hi > lo else lo + 1.0, 21)


def save(fig, path: Path) -> None:
    """Write a matplotlib figure as SVG, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    write_atomic(path, buf.getvalue())
