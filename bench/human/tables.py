"""A human-AI report (``human.json`` of ``bench human report``) as tables: each a title, a header, rows of text
cells and notes, so the report's README and the leaderboard (Markdown and HTML) show the same thing. Pitch's
numbers are quoted beside ours in every table, and what is simulated says so."""

from __future__ import annotations

from typing import Any

import numpy as np

MARK = {True: "✓", False: "✗"}


def pct(x: float | None) -> str:
    """A fraction in % with one decimal ("–" for none or NaN)."""
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}"


def _quoted(q: dict[str, Any], key: str) -> str:
    return f" [{q[key]}]" if key in q else ""


def who(doc: dict[str, Any]) -> str:
    """One line: how many ratings of which calls, by whom (SIMULATED raters named as such)."""
    raters = ("SIMULATED raters (bench.human.simulated: a model following Pitch Tables 4 and 5, not people)"
              if doc["simulated_ratings"] else "human raters")
    speech = "simulated speech" if doc["simulated_speech"] else "recorded speech"
    line = f"{doc['ratings']} ratings of {doc['samples']} calls by {doc['raters']} {raters}; calls: {speech}."
    h = doc.get("human_auroc")
    if h:
        line += (f" Raters' AUROC of D_h over every challenge {pct(h['all'])} % (Pitch, 20 challenges: 74.7, quoted), "
                 f"on Pitch's top-10 challenges {pct(h['pitch_top10'])} % (Pitch: 87.7, quoted).")
    return line


def calibration_section(doc: dict[str, Any]) -> dict[str, Any]:
    """ECE, Brier, actDCF, AURC and the folds' fitted thresholds and temperatures."""
    cal, op = doc["calibration"]["pooled"], doc["calibration"]["pooled"]["operating_point"]
    note = (f"ECE {cal['ece']:.3f} ({cal['ece_binning']}), Brier {cal['brier']:.3f}, actDCF {cal['act_dcf']:.3f} "
            f"(p_spoof {op['p_spoof']}, C_miss {op['c_miss']}, C_fa {op['c_fa']}); machine accuracy "
            f"{pct(doc['machine_accuracy'])} % (Pitch: 87.7, quoted); machine risk-coverage AURC "
            f"{doc['risk_coverage']['aurc']:.3f}. "
            + ("Each fold's threshold and temperature were fitted on the other folds' speakers only."
               if doc["calibration"].get("fold_by", "speaker") == "speaker" else
               "The result's scope holds too few speakers to split by speaker: each fold's threshold and temperature "
               "were fitted on the other folds' calls (the same speakers can be on both sides)."))
    rows = [[str(f["fold"]), f"{f['threshold']:.4g}", f"{f['temperature']:.4g}", str(f["calls"])]
            for f in doc["calibration"]["folds"]]
    by = doc["calibration"].get("fold_by", "speaker")
    return {"id": "human-calibration", "title": f"Machine calibration (cross-fitted by {by})",
            "header": ["fold", "threshold", "temperature", "calls"], "rows": rows, "note": note}


def reliability_section(doc: dict[str, Any]) -> dict[str, Any]:
    """The reliability diagram's bins as a table."""
    rel = doc["calibration"]["pooled"]["reliability"]
    rows = [[f"{p:.3f}", f"{t:.3f}", str(n)] for p, t, n in zip(rel["mean_p_fake"], rel["fake_share"], rel["count"],
                                                                 strict=True)]
    return {"id": "human-reliability", "title": "Reliability diagram (pooled)",
            "header": ["mean p(fake) in bin", "share of fakes in bin", "calls"], "rows": rows,
            "note": doc["calibration"]["pooled"]["ece_binning"] + "; empty bins left out."}


def routing_section(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Pitch Fig. 4's operating points: ours (best joint accuracy, and at the automation target) and Pitch's."""
    r = doc["routing"]
    if not r["best"]:
        return None
    b, a = r["best"], r["at_automation"]
    rows = [["best joint accuracy", pct(b["machine_share"]), pct(b["human_share"]), pct(b["accuracy"])]]
    if a:
        rows.append([f"automation >= {pct(r['automation_target'])} %", pct(a["machine_share"]),
                     pct(a["human_share"]), pct(a["accuracy"])])
    t = r.get("at_accuracy")
    if t:
        rows.append([f"accuracy >= {pct(r['accuracy_target'])} %", pct(t["machine_share"]), pct(t["human_share"]),
                     pct(t["accuracy"])])
    rows.append(["Pitch, quoted", "44", "56", "84.5"])
    return {"id": "human-routing", "title": "Routing between machine and human (Pitch Fig. 4)",
            "header": ["operating point", "machine decides %", "human decides %", "joint accuracy %"], "rows": rows,
            "note": "Calls whose calibrated confidence reaches the cut are decided by the machine; the rest by the "
                    "rater's assisted decision."}


def table4_section(doc: dict[str, Any]) -> dict[str, Any]:
    """Pitch Table 4's columns per challenge, Pitch's figures quoted in brackets."""
    q4 = {int(k): v for k, v in doc["pitch_quoted"]["table4"].items()}
    collab = {int(k): v for k, v in ((doc["collaborative"] or {}).get("per_challenge") or {}).items()}
    rows = []
    for t in doc["per_challenge"]:
        q, c = q4.get(t["challenge"], {}), collab.get(t["challenge"])
        rows.append([f"#{t['challenge']}", str(t["samples"]), pct(t["human_auroc"]),
                     pct(t["vanilla_accuracy"]) + _quoted(q, "vanilla_acc"), pct(t["majority_accuracy"]),
                     pct(t["assisted_accuracy"]) + _quoted(q, "assisted_acc"),
                     pct(c["accuracy"] if c else None) + _quoted(q, "collaborative_acc"),
                     "–" if np.isnan(t["kendalls_w"]) else f"{t['kendalls_w']:.2f}"])
    return {"id": "human-table4", "title": "Per challenge (Pitch Table 4; Pitch's figures quoted in brackets)",
            "header": ["challenge", "calls", "human AUROC of D_h %", "vanilla acc. %", "majority acc. %",
                       "assisted acc. %", "collaborative acc. %", "Kendall's W"], "rows": rows,
            "note": "D_h = 1 - C x R / 5 (reconstructed: the paper's formula was lost in extraction); Kendall's W of "
                    "D_h over each call's raters; collaborative at the best routing point."}


def table5_section(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Pitch Table 5's eight scenarios, ours beside the quoted counts, and the §5.3 rates."""
    s = doc["scenarios"]
    if not s:
        return None
    quoted = {x["scenario"]: x["count"] for x in doc["pitch_quoted"]["table5"]}
    rows = [[x["scenario"], MARK[x["initial"]], MARK[x["machine"]], MARK[x["final"]], str(x["count"]),
             "–" if x["confidence_change"] is None else f"{x['confidence_change']:+.1f}", str(quoted[x["scenario"]])]
            for x in s["rows"]]
    note = (f"The machine corrected a wrong human {pct(s['machine_corrected_rate'])} % of the time (Pitch: 45.4, "
            f"quoted) and misled a right one {pct(s['machine_misled_rate'])} % (Pitch: 29.8). A disagreeing verdict "
            f"was taken {pct(s['accepted_with_rationale'])} % with the rationale, "
            f"{pct(s['accepted_without_rationale'])} % without (Pitch: 42.4 vs 43.0).")
    return {"id": "human-table5", "title": "Machine-assisted decisions (Pitch Table 5)",
            "header": ["scenario", "I", "M", "F", "count", "confidence change (points)", "Pitch count (quoted)"],
            "rows": rows, "note": note}


def per_challenge_section(doc: dict[str, Any]) -> dict[str, Any]:
    """Per challenge: the machine's calibration (ECE, Brier, actDCF) and the human-machine and human-human
    agreement beside Pitch Table A.3's right columns (quoted in brackets)."""
    qa3 = {int(k): v for k, v in doc["pitch_quoted"].get("tableA3", {}).items()}
    cal = {int(k): v for k, v in doc["calibration"]["per_challenge"].items()}
    realism = {int(k): v for k, v in doc["correlations"]["realism_vs_machine_mos"].items()}
    rows = []
    for t in doc["per_challenge"]:
        c, q, r = cal.get(t["challenge"]), qa3.get(t["challenge"], {}), realism.get(t["challenge"])
        rows.append([f"#{t['challenge']}", "–" if c is None else f"{c['ece']:.3f}",
                     "–" if c is None else f"{c['brier']:.3f}", "–" if c is None else f"{c['act_dcf']:.3f}",
                     ("–" if r is None else f"{r:.2f}") + _quoted(q, "nisqa_human_corr"),
                     ("–" if np.isnan(t["kendalls_w"]) else f"{t['kendalls_w']:.2f}") + _quoted(q, "human_human_corr")])
    return {"id": "human-per-challenge", "title": "Calibration and agreement per challenge (Pitch Table A.3's right "
                                                  "columns quoted in brackets)",
            "header": ["challenge", "ECE", "Brier", "actDCF", "raters' realism vs machine MOS, Pearson r",
                       "raters' agreement (Kendall's W)"], "rows": rows,
            "note": "Machine measures from the cross-fitted p(fake) of every scored call of the challenge; Pitch's "
                    "realism column is NISQA vs human MOS, its agreement column Kendall's coefficient."}


def sections(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every table of a report, in reading order."""
    found = [calibration_section(doc), reliability_section(doc), routing_section(doc), table4_section(doc),
             per_challenge_section(doc), table5_section(doc)]
    return [s for s in found if s is not None]


def markdown_table(section: dict[str, Any], level: str = "##") -> list[str]:
    """One section as Markdown: heading, note, table."""
    return ["", f"{level} {section['title']}", "", section["note"], "",
            "| " + " | ".join(section["header"]) + " |", "|" + "---|" * len(section["header"]),
            *("| " + " | ".join(r) + " |" for r in section["rows"])]


def markdown(doc: dict[str, Any], level: str = "#") -> list[str]:
    """A whole report as Markdown (its README)."""
    lines = [f"{level} Human-AI report: {doc['detector']}", "", who(doc)]
    for s in sections(doc):
        lines += markdown_table(s, level + "#")
    corr = doc["correlations"]
    if corr["auroc_across_challenges"] is not None:
        lines += ["", f"Human vs machine AUROC across {corr['challenges']} challenges: Pearson "
                      f"{corr['auroc_across_challenges']:.2f} (Pitch: 0.12, quoted)."]
    return lines + [""]
