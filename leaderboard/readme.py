"""The leaderboard's README.md: its tables in Markdown, built row by row."""

from __future__ import annotations

from typing import Any

from bench.leaderboard.cells import cell, challenge_list, dec, heatmap_columns, num, paper_top10, pct, seed_cell
from bench.leaderboard.channels import markdown as channels_markdown
from bench.leaderboard.field import field_markdown
from bench.leaderboard.generalisation import markdown as cross_generator_markdown
from bench.leaderboard.generators import markdown as generators_markdown
from bench.leaderboard.human import markdown as human_markdown
from bench.leaderboard.latency import markdown as latency_markdown


def render(doc: dict[str, Any]) -> str:
    """README.md for the leaderboard document ``doc`` (as leaderboard.json holds it)."""
    rows = doc["entries"]
    lines = [f"# {doc['title']}", "", f"Generated {doc['generated']} by bench {doc['bench_version']}.", ""]
    if any(r["simulated"] for r in rows):
        lines += ["> Rows marked *sim* were measured on a **simulated** corpus (espeak-ng + WORLD voices): they "
                  "describe the simulation, not the recordings of the Pitch paper.", ""]
    lines += ["## Ranking (overall AUROC, in-scope samples)", "",
              "AUROC over seeds: a multi-seed model's rows score with the mean of its seeds' scores; this column "
              "gives each seed's model alone as mean +- std (sample std).", "",
              "| rank | system | generator | corpus | AUROC % [95% CI] | AUROC % over seeds | EER % | minDCF | "
              "F1 % | AUROC % on the paper's top-10 (paper: 88.7) | n real / fake "
              "| audio s per CPU s | p95 latency ms | date | caveats |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = r["auroc_ci"]
        corpus = f"{r['corpus']}{via(r)}{' *sim*' if r['simulated'] else ''}"
        lines.append(f"| {r['rank'] or 'unranked'} | {r['system']} | {r['generator']} | {corpus} | "
                     f"{pct(r['auroc'])} [{pct(ci[0])}, {pct(ci[1])}] | {seed_cell(r)} | {pct(r['eer'])} | "
                     f"{dec(r['min_dcf'])} | {pct(r['f1'])} | "
                     f"{pct(r['paper_top10_auroc'])} | {r['n_bona_fide']} / {r['n_fake']} | "
                     f"{num(r['rtfx'])} | "
                     f"{'–' if r['latency_p95_ms'] is None else round(r['latency_p95_ms'])} | {r['date'][:10]} | "
                     f"{'; '.join(r['caveats']) or '–'} |")
    ch = doc["challenges"]
    cols = heatmap_columns(rows, doc["paper_reference"]["pitch_series"])
    lines += ["", "## AUROC % per challenge: systems x generators x challenges", "",
              "Quoted columns are the Pitch paper's figures on its 100 recorded speakers (never measured here), "
              "placed beside our system of the same name. `~`: our 95% CI is wider than +-10 points, too wide to "
              "rank that challenge. `+-`: std over a multi-seed model's seeds.", "",
              "| challenge | " + " | ".join(f"{c['system']} / {c['generator']}{via(c, ' / ')}" if kind == "ours"
                                           else f"{c['system']} ({c['source']}, quoted)" for kind, c in cols) + " |",
              "|---|" + "---|" * len(cols)]
    for c in ch:
        cells = []
        for kind, col in cols:
            if kind == "quoted":
                cells.append(pct(col["per_challenge"].get(c["id"])))
                continue
            pc = col["per_challenge"].get(c["id"]) or {}
            cells.append(pct(pc.get("auroc")) + (f" +-{100 * pc['seed_std']:.1f}" if pc.get("seed_std") is not None
                                                  else "") + (" ~" if c["id"] in col["unranked_challenges"] else ""))
        lines.append(f"| #{c['id']} {c['name']} | " + " | ".join(cells) + " |")
    ten = challenge_list(doc["paper_reference"]["pitch_top10"])
    pooled = [pct(c["paper_top10_auroc"]) if kind == "ours" else pct(paper_top10(c)) for kind, c in cols]
    lines.append(f"| paper's top-10 ({ten}): ours pooled, the paper's Table 3 'Average (top-10)' | "
                 + " | ".join(pooled) + " |")
    lines += channels_markdown(doc.get("channels"))
    lines += generators_markdown(doc.get("generators"))
    lines += cross_generator_markdown(doc.get("cross_generator"))
    lines += field_markdown(doc)
    lines += human_markdown(doc.get("human") or [])
    lines += _markdown_privacy(doc.get("privacy") or [])
    lines += latency_markdown(doc.get("latency") or [])
    lines += _markdown_tables(doc["paper_reference"]["pitch_tables"])
    lines += ["", "## Quoted from the papers (not ranked)", "", "| source | system | AUROC % | note |",
              "|---|---|---|---|"]
    for p in doc["paper_reference"]["pitch"]:
        lines.append(f"| {p['source']} | {p['system']} | {pct(p['auroc'])} | {p['note']} |")
    for d in doc["paper_reference"]["devox_latency"]:
        lines += ["", f"DevoX (quoted): {d['system']}: transmission {d['transmission_ms_mean']:.0f} ms + inference "
                  f"{d['inference_ms_mean']:.0f} ms on average per chunk (inference {d['inference_ms_range'][0]:.0f}–"
                  f"{d['inference_ms_range'][1]:.0f} ms); deploy {d['deploy_s']:.0f} s."]
    if doc["figures"]:
        lines += ["", "## Figures", ""] + [f"- [{k}]({v})" for k, v in doc["figures"].items()]
    return "\n".join(lines) + "\n"


def via(r: dict[str, Any], sep: str = " via ") -> str:
    """" via pstn-g711u" for a row whose recordings went through a telephone channel; "" for a clean one."""
    ch = r.get("channel")
    return f"{sep}{ch}" if ch and ch != "clean" else ""


def _markdown_privacy(leaks: list[dict[str, Any]]) -> list[str]:
    """What split detectors' features leak (``bench privacy``): content and speaker identity."""
    if not leaks:
        return []
    lines = ["", "## What the features leak (privacy-split detectors)", "",
             "Measured by `bench privacy`, playing the server operator who sees only the feature messages. WIL: "
             "the ASR's word information lost against the script (lower = more of the content recovered). Speaker "
             "probe: a linear classifier's accuracy at naming the speaker. Neither paper measured this.", "",
             "| system | bytes per audio second (16-bit PCM at 8 kHz: 16000) | WIL original | WIL band-limited | "
             "WIL reconstructed from features | WIL own decoder + pooling indices | speaker probe on features % | "
             "on raw audio % | chance % | recordings |", "|---|---|---|---|---|---|---|---|---|---|"]
    for p in leaks:
        lines.append(f"| {p['detector']} ({p['model']}){' *sim*' if p['simulated'] else ''} | {p['bytes_per_second']}"
                     f" | {dec(p['wil_original'])} | {dec(p['wil_band_limited'])} | {dec(p['wil_reconstructed'])} "
                     f"| {dec(p['wil_decoder_with_indices'])} | {pct(p['speaker_accuracy_features'])} | "
                     f"{pct(p['speaker_accuracy_raw'])} | {pct(p['chance'])} | {p['n_recordings']} |")
    return lines


def _markdown_tables(tables: dict[str, dict[str, Any]]) -> list[str]:
    """The paper's tables as printed, with their notes."""
    lines = []
    for label, t in tables.items():
        cols = list(t["columns"])
        lines += ["", f"## Pitch {label} (quoted)", "", f"{t['title']}. {t.get('note', '')}", "",
                  "| # | " + " | ".join(t["columns"][c] for c in cols) + " |", "|---|" + "---|" * len(cols)]
        for cid, r in t["rows"].items():
            lines.append(f"| #{cid} | " + " | ".join(cell(r.get(c)) for c in cols) + " |")
        for name in ("average", "average_top10"):
            if name in t:
                lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(cell(t[name].get(c)) for c in cols) + " |")
    return lines
