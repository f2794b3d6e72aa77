"""pitch-lite's recipes side by side on one paper-shape run: AUROC with its CI, overall, on the paper's top-10
and per challenge, and the scoring CPU time, each recipe on the same corpus, fakes and compliance classifiers.

    python benchmarks/paper_shape.py --out runs/paper-shape          # once: corpus, fakes, classifiers
    python benchmarks/pitch_lite_recipes.py --run runs/paper-shape [--recipes 1.0,1.1] [--workers 2]

Each recipe is evaluated into RUN/recipes/<recipe>/ (held-out speakers only, as the preset does), sharing
one component cache (by default the demo's own, RUN/results/pitch-lite-world/cache), so what the demo or
another recipe already scored with the same settings (speaker match, compliance, the default recipe's
ASR and realism) is read back, not recomputed; the CPU seconds reported per recipe still count every
component value it uses. Issue #26's
rule: the new recipe's AUROC must stay inside the old recipe's 95% CI. The corpus is simulated speech:
these numbers describe the simulation, not the Pitch recordings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import header, table

from bench.runs.evaluate import evaluate


def pct(e) -> str:
    return f"{100 * e.value:.1f} [{100 * e.ci_low:.1f}, {100 * e.ci_high:.1f}]"


def inside(new, old) -> str:
    return "yes" if old.ci_low <= new.value <= old.ci_high else "**no**"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="a `bench demo --size paper-shape` output folder")
    ap.add_argument("--recipes", default="1.0,1.1", help="the reference recipe first")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=None, help="component cache (default: the demo's)")
    args = ap.parse_args()
    recipes = args.recipes.split(",")
    head = header("pitch-lite recipes on the paper-shape run")
    results, walls = {}, {}
    for recipe in recipes:
        t0 = time.perf_counter()
        results[recipe] = evaluate(
            "pitch-lite", args.run / "corpus", args.run / "fakes-world", args.run / "recipes" / recipe,
            config={"compliance": str(args.run / "compliance"), "recipe": recipe}, workers=args.workers,
            cache=args.cache or args.run / "results" / "pitch-lite-world" / "cache", held_out_only=True,
            command=f"benchmarks/pitch_lite_recipes.py --recipes {args.recipes}")
        walls[recipe] = time.perf_counter() - t0
        print(f"recipe {recipe}: {walls[recipe]:.0f} s", file=sys.stderr)
    ref, rest = recipes[0], recipes[1:]
    lines = [head, f"Corpus {args.run / 'corpus'}: simulated speech, held-out speakers only. Reference recipe: {ref}; "
             f"'inside' = the recipe's AUROC lies inside {ref}'s 95% CI.", ""]
    rows = []
    for recipe in recipes:
        r = results[recipe]
        t = r.timings
        rows.append([recipe, pct(r.overall.auroc), pct(r.paper_top10_auroc) if r.paper_top10_auroc else "-",
                     f"{t['component_cpu_s']:.0f}" if t.get("component_cpu_s") else "-",
                     f"{t['rtfx_cpu']:.1f}" if t.get("rtfx_cpu") else "-",
                     "-" if recipe == ref else inside(r.overall.auroc, results[ref].overall.auroc)])
    lines.append(table(["recipe", "AUROC % [95% CI], all challenges", "AUROC % on the paper's top-10",
                        "scoring CPU s (all components)", "audio s per CPU s", f"overall inside {ref}'s CI"], rows))
    per = {recipe: {c.challenge: c for c in results[recipe].per_challenge} for recipe in recipes}
    rows = []
    for ch, c in per[ref].items():
        cells = [f"#{ch} {c.name}", str(c.n_bona_fide + c.n_fake), pct(c.auroc)]
        for recipe in rest:
            other = per[recipe][ch].auroc
            cells += [pct(other), inside(other, c.auroc)]
        rows.append(cells)
    lines += ["", table(["challenge", "n", f"{ref} AUROC %"]
                        + [x for r in rest for x in (f"{r} AUROC %", f"inside {ref}'s CI")], rows)]
    text = "\n".join(lines) + "\n"
    print(text)
    (args.run / "recipes" / "pitch-lite-recipes.md").write_text(text)


if __name__ == "__main__":
    main()
