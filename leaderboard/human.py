"""The leaderboard's human-AI view (issue #25): ``bench human report`` outputs as tables (calibration, reliability,
routing beside Pitch Fig. 4, Table 4's columns and Table 5's scenarios, Pitch quoted beside ours) and two figures
per report (reliability diagram, routing curve)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.human import tables


def load_human(paths: list[str | Path]) -> list[dict[str, Any]]:
    """``bench human report`` outputs (human.json or its folder), each as its tables; one clear line when a file
    is not such a report (a hand-edited or hostile file included)."""
    out = []
    for p in paths:
        f = Path(p) / "human.json" if Path(p).is_dir() else Path(p)
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise BenchError(f"{p}: not a human report (bench human report writes human.json)") from None
        if not isinstance(doc, dict) or doc.get("kind") != "human-report":
            raise BenchError(f"{p}: not a bench human report (no kind: human-report)")
        try:
            out.append({"detector": str(doc["detector"]), "who": tables.who(doc), "sections": tables.sections(doc),
                        "simulated_ratings": bool(doc["simulated_ratings"]),
                        "curve": [(float(c["machine_share"]), float(c["accuracy"])) for c in doc["routing"]["curve"]],
                        "reliability": doc["calibration"]["pooled"]["reliability"],
                        "risk_coverage": {k: [float(x) for x in doc["risk_coverage"][k]] for k in ("coverage", "risk")},
                        "aurc": float(doc["risk_coverage"]["aurc"]),
                        "ece": float(doc["calibration"]["pooled"]["ece"])})
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise BenchError(f"{p}: a malformed human report ({type(e).__name__}: {e})") from None
    return out


def draw(reports: list[dict[str, Any]], folder: Path) -> dict[str, str]:
    """Per report, the reliability diagram, the machine's risk-coverage curve and the routing curve (Pitch's 44 % /
    84.5 % marked, quoted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.leaderboard.figures import save

    figs = {}
    for i, r in enumerate(reports):
        sim = " (simulated raters)" if r["simulated_ratings"] else ""
        fig, (a, rc, b) = plt.subplots(1, 3, figsize=(15, 4))
        rel = r["reliability"]
        a.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect calibration")
        a.plot(rel["mean_p_fake"], rel["fake_share"], marker="o", label=f"{r['detector']} (ECE {r['ece']:.3f})")
        a.set_xlabel("mean predicted p(fake) in bin")
        a.set_ylabel("share of fakes in bin")
        a.set_title("reliability diagram")
        a.legend(fontsize=8)
        cov = r["risk_coverage"]
        rc.step([100 * x for x in cov["coverage"]], [100 * y for y in cov["risk"]], where="post",
                label=f"{r['detector']} (AURC {r['aurc']:.3f})")
        rc.set_xlabel("calls the machine decides, most confident first (%)")
        rc.set_ylabel("machine error rate on them (%)")
        rc.set_title("risk-coverage (machine alone)")
        rc.legend(fontsize=8)
        if r["curve"]:
            xs, ys = zip(*r["curve"], strict=True)
            b.plot([100 * x for x in xs], [100 * y for y in ys], label=f"{r['detector']}{sim}")
        b.scatter([44], [84.5], color="black", marker="x", label="Pitch Fig. 4 (quoted)")
        b.set_xlabel("calls decided by the machine (%)")
        b.set_ylabel("joint accuracy (%)")
        b.set_title("routing: machine vs human")
        b.legend(fontsize=8)
        fig.tight_layout()
        name = f"human_{i}"
        save(fig, folder / f"{name}.svg")
        plt.close(fig)
        figs[name] = f"figures/{name}.svg"
    return figs


def markdown(reports: list[dict[str, Any]]) -> list[str]:
    """The README's section: per report, who rated what, then its tables."""
    lines: list[str] = []
    for r in reports:
        lines += ["", f"## Human and machine: {r['detector']}", "", r["who"]]
        for s in r["sections"]:
            lines += tables.markdown_table(s, "###")
    return lines
