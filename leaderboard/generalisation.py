"""The leaderboard's cross-generator view: each trained system (what its model learnt from) against the fakes
of each generator it was tested on, AUROC / EER / minDCF with CIs, in-domain cells marked and the drop from
in-domain shown on the others (the field's central failure: a detector that misses an unseen generator), pooled
and per challenge."""

from __future__ import annotations

from typing import Any

from bench.challenges.taxonomy import all_challenges
from bench.leaderboard.cells import dec, pct, system_grid


def cross_generator_table(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``{"generators": [tested...], "challenges": [{id, name}...], "rows": [...]}`` over clean-channel rows of
    systems whose training data is known, or None unless some such system was tested on two generators' fakes.
    The first row of a (system, tested generator) in the ranking's order stands for it. Each cell carries its
    ``per_challenge`` AUROC with CI and counts; ``challenges`` lists those some cell has."""
    learnt = [r for r in rows if r.get("training_data") is not None and (r.get("channel") or "clean") == "clean"]
    systems: dict[str, dict[str, Any]] = {}
    for r in learnt:
        s = systems.setdefault(r["system"], {"system": r["system"], "training_data": r["training_data"], "per": {}})
        s["per"].setdefault(r["generator"], r)
    if not any(len(s["per"]) >= 2 for s in systems.values()):
        return None
    generators = sorted({g for s in systems.values() for g in s["per"]})
    table = []
    for s in systems.values():
        trained = set(s["training_data"].get("generators") or [])
        home = [s["per"][g]["auroc"] for g in trained if g in s["per"] and s["per"][g]["auroc"] is not None]
        in_domain = sum(home) / len(home) if home else None
        cells = {}
        for g in generators:
            r = s["per"].get(g)
            cells[g] = None if r is None else {
                "auroc": r["auroc"], "auroc_ci": r["auroc_ci"], "eer": r["eer"], "min_dcf": r["min_dcf"],
                "simulated": r["simulated"], "in_domain": g in trained,
                "drop": None if g in trained or in_domain is None or r["auroc"] is None else in_domain - r["auroc"],
                "per_challenge": {int(c): {k: v.get(k) for k in ("auroc", "ci", "n_bona_fide", "n_fake")}
                                  for c, v in (r.get("per_challenge") or {}).items()}}
        summary = s["training_data"].get("summary") or ""
        table.append({"system": s["system"], "trained_on": ", ".join(sorted(trained)) or summary or "unknown",
                      "summary": summary, "cells": cells})
    tested = {c for r in table for cell in r["cells"].values() if cell for c in cell["per_challenge"]}
    challenges = [{"id": c.id, "name": c.name} for c in all_challenges() if c.id in tested]
    return {"generators": generators, "challenges": challenges, "rows": table}


def cell_text(c: dict[str, Any] | None) -> str:
    """``AUROC [CI] (in-domain | drop), EER, minDCF`` of one cell, in %; a dash where the system was not tested."""
    if c is None:
        return "–"
    ci = c["auroc_ci"]
    tag = " (in-domain)" if c["in_domain"] else ("" if c["drop"] is None else f" (drop {100 * c['drop']:+.1f})")
    return f"{pct(c['auroc'])} [{pct(ci[0])}, {pct(ci[1])}]{tag}; EER {pct(c['eer'])}, minDCF {dec(c['min_dcf'])}"


def challenge_text(c: dict[str, Any] | None, challenge: int) -> str:
    """``AUROC [CI]`` in % of one challenge in one cell; a dash where that cell has no such challenge."""
    v = None if c is None else c["per_challenge"].get(challenge)
    if v is None or v["auroc"] is None:
        return "–"
    ci = v["ci"] or [None, None]
    return f"{pct(v['auroc'])} [{pct(ci[0])}, {pct(ci[1])}]"


def challenge_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-challenge grid: one row per (system, challenge), ``cells`` keyed by tested generator."""
    return [{"system": r["system"], "trained_on": r["trained_on"], "challenge": f"#{c['id']} {c['name']}",
             "cells": {g: challenge_text(r["cells"][g], c["id"]) for g in table["generators"]}}
            for r in table["rows"] for c in table["challenges"]]


def markdown(table: dict[str, Any] | None) -> list[str]:
    """The README's section for :func:`cross_generator_table` (nothing without one)."""
    if not table:
        return []
    simulated = any(c and c["simulated"] for r in table["rows"] for c in r["cells"].values())
    lines = ["", "## Across generators: trained on one, tested on another", "",
             "Each row is one trained model; each column the fakes of one generator (clean channel). AUROC % [95% CI]; "
             "in-domain where the model trained on that generator's fakes, else the drop in points from its "
             "in-domain AUROC; EER %, minDCF." + (" Simulated speech: these rows describe the simulation."
                                                  if simulated else ""),
             ""]
    lines += system_grid("trained on fakes of", "trained_on", table["generators"], table["rows"], cell_text)
    lines += ["", "### Across generators, per challenge", "",
              "AUROC % [95% CI] of each trained model on each challenge's fakes, by tested generator (a dash: "
              "that generator has no fakes of that challenge).", "",
              "| system | trained on fakes of | challenge | " + " | ".join(table["generators"]) + " |",
              "|---|---|---|" + "---|" * len(table["generators"])]
    for r in challenge_rows(table):
        lines.append(f"| {r['system']} | {r['trained_on']} | {r['challenge']} | "
                     + " | ".join(r["cells"][g] for g in table["generators"]) + " |")
    return lines
