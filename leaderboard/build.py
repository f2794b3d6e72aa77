"""Build a leaderboard (Markdown, self-contained HTML, JSON, figures) from results JSONs.

Each results JSON may have a ``scores.parquet`` beside it (as `bench evaluate` writes);
then ROC/DET curves and degradation distributions are drawn from the per-sample scores.
"""

from __future__ import annotations

import html
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.challenges.taxonomy import all_challenges
from bench.errors import BenchError
from bench.evaluation.results import Result, load_result, read_scores
from bench.fileio import write_atomic
from bench.leaderboard.latency import html_table as latency_html
from bench.leaderboard.latency import load_latency_rows
from bench.leaderboard.latency import markdown as latency_markdown
from bench.leaderboard.reference import DEVOX_LATENCY, pitch_rows, pitch_series, pitch_tables
from bench.outdir import claim_output
from bench.references.pitch import top10, top10_auroc


def _entry_id(r: Result, i: int) -> str:
    return f"e{i}"


def _identity(r: Result) -> str:
    """What makes two results the same run: detector, generator, data and settings (not the date)."""
    return json.dumps([r.detector.model_dump(), r.generator.model_dump(), r.corpus.get("content_hash"),
                       r.fakes.get("content_hash"), r.profile], sort_keys=True, default=str)


def load_entries(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Validated results plus the location of their per-sample scores; the same result twice is an error."""
    if not paths:
        raise BenchError("give at least one results JSON (or a folder containing result.json)")
    entries = []
    seen: dict[str, str] = {}
    for i, p in enumerate(paths):
        p = Path(p)
        if p.is_dir():
            p = p / "result.json"
        r = load_result(p)
        for key in (str(p.resolve()), _identity(r)):
            if key in seen:
                raise BenchError(f"{p} is the same result as {seen[key]}; give each result once")
            seen[key] = str(p)
        scores = p.parent / "scores.parquet"
        entries.append({"id": _entry_id(r, i), "path": str(p), "result": r,
                        "scores": _read_scores(scores) if scores.is_file() else None})
    return entries


def _read_scores(path: Path) -> list[dict[str, Any]]:
    """Per-sample rows of a ``scores.parquet`` (label, challenge, score); one-line error if unusable."""
    rows = read_scores(path)
    missing = {"label", "challenge", "score"} - set(rows[0] if rows else {})
    if missing:
        raise BenchError(f"{path}: scores lack the column(s) {', '.join(sorted(missing))}")
    return rows


def caveats(r: Result) -> list[str]:
    """What a reader must know before comparing this result with others (shown on every page)."""
    out = []
    if r.evaluation_scope.get("in_sample"):
        out.append("in-sample: metrics include speakers the detector was trained on (not ranked)")
    if r.evaluation_scope.get("skipped_samples"):
        out.append(f"{len(r.evaluation_scope['skipped_samples'])} undecodable sample(s) left out")
    out += [str(c) for c in r.evaluation_scope.get("score_caveats") or []]
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _dec(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _seed_cell(r: dict[str, Any]) -> str:
    """AUROC over seeds, "97.1 +- 0.4 (3 seeds)"; "–" for a single model."""
    if not r.get("seeds"):
        return "–"
    std = r["auroc_seed_std"]
    return f"{_pct(r['auroc_seed_mean'])}{f' +- {100 * std:.1f}' if std is not None else ''} ({len(r['seeds'])} seeds)"


def _value(est: Any) -> float | None:
    return est.value if est is not None else None


def system_label(r: Result) -> str:
    """How a row names its system: the detector, and its profile or trained model (``NAME@VERSION``)."""
    model = r.detector.config.get("model")
    extra = r.profile or (model if isinstance(model, str) and model else None)
    return f"{r.detector.name} ({extra})" if extra and extra != r.detector.name else r.detector.name


def _row(e: dict[str, Any]) -> dict[str, Any]:
    r: Result = e["result"]
    lat = r.timings.get("latency") or {}
    o = r.overall
    spread = r.seeds
    return {
        "id": e["id"], "detector": r.detector.name, "system": system_label(r), "profile": r.profile,
        "model": r.detector.config.get("model"), "paper_name": r.paper.detector if r.paper else None,
        "generator": r.generator.name,
        "corpus": r.corpus.get("name"), "corpus_hash": r.corpus.get("content_hash"),
        "revision": r.corpus.get("revision"), "simulated": r.simulated, "date": r.created,
        "auroc": r.overall.auroc.value, "auroc_ci": [r.overall.auroc.ci_low, r.overall.auroc.ci_high],
        "eer": r.overall.eer.value, "eer_ci": [r.overall.eer.ci_low, r.overall.eer.ci_high],
        "top_n_auroc": r.top_n_auroc.value if r.top_n_auroc else None, "top_challenges": r.top_challenges,
        "paper_top10_auroc": r.paper_top10_auroc.value if r.paper_top10_auroc else None,
        "paper_top10_auroc_ci": [r.paper_top10_auroc.ci_low, r.paper_top10_auroc.ci_high] if r.paper_top10_auroc
        else [None, None],
        "paper": r.paper.model_dump() if r.paper else None, "unranked_challenges": r.ranking.too_wide,
        "n_bona_fide": r.overall.n_bona_fide, "n_fake": r.overall.n_fake,
        "rtfx": r.timings.get("rtfx_cpu"), "latency_p50_ms": lat.get("p50_ms"), "latency_p95_ms": lat.get("p95_ms"),
        "version": r.run.packages.get("vc-challenge-bench"), "git_sha": (r.run.git_sha or "")[:10],
        "caveats": caveats(r), "ranked": not r.evaluation_scope.get("in_sample"),
        "accuracy": _value(o.accuracy), "f1": _value(o.f1), "min_dcf": _value(o.min_dcf),
        "act_dcf": _value(o.act_dcf), "cllr": _value(o.cllr), "threshold": o.threshold,
        "seeds": spread.seeds if spread else None,
        "auroc_seed_mean": spread.auroc.mean if spread else None,
        "auroc_seed_std": spread.auroc.std if spread else None,
        "per_challenge": {c.challenge: {"auroc": c.auroc.value, "ci": [c.auroc.ci_low, c.auroc.ci_high],
                                        "eer": c.eer.value, "n_bona_fide": c.n_bona_fide, "n_fake": c.n_fake,
                                        "seed_std": spread.per_challenge_auroc[c.challenge].std
                                        if spread and c.challenge in spread.per_challenge_auroc else None}
                          for c in r.per_challenge},
    }


def heatmap_columns(rows: list[dict[str, Any]], series: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The per-challenge grid's columns: our rows in ranking order, each paper series quoted right after the last
    of our rows with the same paper name (e.g. Pitch Table A.3's LCNN beside lfcc-lcnn), unmatched ones last."""
    cols: list[tuple[str, Any]] = []
    placed: set[int] = set()
    for i, r in enumerate(rows):
        cols.append(("ours", r))
        if any(later.get("paper_name") == r.get("paper_name") for later in rows[i + 1:]):
            continue
        for k, sr in enumerate(series):
            if k not in placed and r.get("paper_name") and sr["detector"] == r["paper_name"]:
                cols.append(("quoted", sr))
                placed.add(k)
    cols += [("quoted", sr) for k, sr in enumerate(series) if k not in placed]
    return cols


def load_privacy(paths: list[str | Path]) -> list[dict[str, Any]]:
    """``bench privacy`` reports (privacy.json files or their folders), summarised for the leaderboard."""
    out = []
    for p in paths:
        f = Path(p) / "privacy.json" if Path(p).is_dir() else Path(p)
        try:
            rep = json.loads(f.read_text())
        except (OSError, ValueError):
            raise BenchError(f"{p}: not a privacy report (bench privacy writes privacy.json)") from None
        if not isinstance(rep, dict) or rep.get("schema") != "bench.privacy/1":
            raise BenchError(f"{p}: not a bench.privacy/1 report")
        c, i = rep["content"], rep["identity"]
        out.append({"detector": rep["detector"], "model": rep["model"], "simulated": rep.get("simulated"),
                    "bytes_per_second": rep["message"]["bytes"], "pcm16_8k_bytes": rep["message"]["pcm16_8k_bytes"],
                    "wil_original": c["original"]["wil"], "wil_reconstructed": c["reconstructed"]["wil"],
                    "wil_band_limited": (c.get("band_limited_8k") or {}).get("wil"),
                    "wil_decoder_with_indices": (c.get("decoder_with_pooling_indices") or {}).get("wil"),
                    "speaker_accuracy_features": i["features"]["accuracy"],
                    "speaker_accuracy_raw": i["raw_audio_logmel"]["accuracy"], "chance": i["features"]["chance"],
                    "n_speakers": i["features"]["n_speakers"], "n_recordings": c["n_recordings"]})
    return out


def build(paths: list[str | Path], out: str | Path, title: str = "bench leaderboard",
          overwrite: bool = False, privacy: list[str | Path] | None = None,
          latency: list[str | Path] | None = None) -> dict[str, Any]:
    """Write README.md, index.html, leaderboard.json and figures/ into ``out``; returns the JSON.

    Results with a caveat that makes them incomparable (in-sample metrics) are listed with
    the caveat but not ranked. ``privacy``: ``bench privacy`` reports of split models, shown in
    their own table and beside the rows of the same model. ``latency``: ``bench latency`` results, in a
    table beside DevoX Table 3 (quoted); a ranked row of the same model without its own latency gets the
    p95 of the model's first real-time run.
    """
    entries = load_entries(paths)
    leaks = load_privacy(privacy or [])
    lat_rows = load_latency_rows(latency or [])
    out = Path(out)
    claim_output(out, "leaderboard build", {"results": sorted(str(Path(p).resolve()) for p in paths),
                                            "privacy": sorted(str(Path(p).resolve()) for p in privacy or []),
                                            "latency": sorted(str(Path(p).resolve()) for p in latency or []),
                                            "title": title}, inputs=[*paths, *(privacy or []), *(latency or [])],
                 overwrite=overwrite)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    rows = sorted((_row(e) for e in entries), key=lambda r: (not r["ranked"], -(r["auroc"] or 0)))
    rank = 0
    for r in rows:
        if r["ranked"]:
            rank += 1
        r["rank"] = rank if r["ranked"] else None
        r["privacy"] = next((p for p in leaks if p["model"] == r["model"]), None)
        lat = next((x for x in lat_rows if x["model"] == r["model"] and x["realtime"]), None)
        if r["latency_p95_ms"] is None and lat is not None:
            r["latency_p95_ms"], r["latency_p50_ms"] = lat["p95_ms"], lat["p50_ms"]
    figures = _figures(entries, out / "figures")
    doc = {
        "title": title, "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "bench_version": __version__,
        "entries": rows, "challenges": [{"id": c.id, "key": c.key, "name": c.name} for c in all_challenges()],
        "paper_reference": {"pitch": pitch_rows(), "pitch_series": pitch_series(), "pitch_top10": top10(),
                            "pitch_tables": pitch_tables(), "devox_latency": DEVOX_LATENCY},
        "figures": figures, "privacy": leaks, "latency": lat_rows,
    }
    write_atomic(out / "leaderboard.json", json.dumps(doc, indent=2, default=str).encode())
    write_atomic(out / "README.md", _markdown(doc).encode())
    write_atomic(out / "index.html", _html(doc, out).encode())
    return doc


# ---------------------------------------------------------------- figures
def _figures(entries: list[dict[str, Any]], folder: Path) -> dict[str, str]:
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
        _save(fig, folder / f"{kind}.svg")
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
        _save(fig, folder / name)
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
        _save(fig, folder / "latency_cdf.svg")
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


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    write_atomic(path, buf.getvalue())


# ---------------------------------------------------------------- Markdown
def _markdown(doc: dict[str, Any]) -> str:
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
        corpus = f"{r['corpus']}{' *sim*' if r['simulated'] else ''}"
        lines.append(f"| {r['rank'] or 'unranked'} | {r['system']} | {r['generator']} | {corpus} | "
                     f"{_pct(r['auroc'])} [{_pct(ci[0])}, {_pct(ci[1])}] | {_seed_cell(r)} | {_pct(r['eer'])} | "
                     f"{_dec(r['min_dcf'])} | {_pct(r['f1'])} | "
                     f"{_pct(r['paper_top10_auroc'])} | {r['n_bona_fide']} / {r['n_fake']} | "
                     f"{_num(r['rtfx'])} | "
                     f"{'–' if r['latency_p95_ms'] is None else round(r['latency_p95_ms'])} | {r['date'][:10]} | "
                     f"{'; '.join(r['caveats']) or '–'} |")
    ch = doc["challenges"]
    cols = heatmap_columns(rows, doc["paper_reference"]["pitch_series"])
    lines += ["", "## AUROC % per challenge: systems x generators x challenges", "",
              "Quoted columns are the Pitch paper's figures on its 100 recorded speakers (never measured here), "
              "placed beside our system of the same name. `~`: our 95% CI is wider than +-10 points, too wide to "
              "rank that challenge. `+-`: std over a multi-seed model's seeds.", "",
              "| challenge | " + " | ".join(f"{c['system']} / {c['generator']}" if kind == "ours"
                                           else f"{c['system']} ({c['source']}, quoted)" for kind, c in cols) + " |",
              "|---|" + "---|" * len(cols)]
    for c in ch:
        cells = []
        for kind, col in cols:
            if kind == "quoted":
                cells.append(_pct(col["per_challenge"].get(c["id"])))
                continue
            pc = col["per_challenge"].get(c["id"]) or {}
            cells.append(_pct(pc.get("auroc")) + (f" +-{100 * pc['seed_std']:.1f}" if pc.get("seed_std") is not None
                                                  else "") + (" ~" if c["id"] in col["unranked_challenges"] else ""))
        lines.append(f"| #{c['id']} {c['name']} | " + " | ".join(cells) + " |")
    ten = ", ".join(f"#{i}" for i in doc["paper_reference"]["pitch_top10"])
    pooled = [_pct(c["paper_top10_auroc"]) if kind == "ours" else _pct(_paper_top10(c)) for kind, c in cols]
    lines.append(f"| paper's top-10 ({ten}): ours pooled, the paper's Table 3 'Average (top-10)' | "
                 + " | ".join(pooled) + " |")
    lines += _markdown_privacy(doc.get("privacy") or [])
    lines += latency_markdown(doc.get("latency") or [])
    lines += _markdown_tables(doc["paper_reference"]["pitch_tables"])
    lines += ["", "## Quoted from the papers (not ranked)", "", "| source | system | AUROC % | note |",
              "|---|---|---|---|"]
    for p in doc["paper_reference"]["pitch"]:
        lines.append(f"| {p['source']} | {p['system']} | {_pct(p['auroc'])} | {p['note']} |")
    for d in doc["paper_reference"]["devox_latency"]:
        lines += ["", f"DevoX (quoted): {d['system']}: transmission {d['transmission_ms_mean']:.0f} ms + inference "
                  f"{d['inference_ms_mean']:.0f} ms on average per chunk (inference {d['inference_ms_range'][0]:.0f}–"
                  f"{d['inference_ms_range'][1]:.0f} ms); deploy {d['deploy_s']:.0f} s."]
    if doc["figures"]:
        lines += ["", "## Figures", ""] + [f"- [{k}]({v})" for k, v in doc["figures"].items()]
    return "\n".join(lines) + "\n"


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
                     f" | {_dec(p['wil_original'])} | {_dec(p['wil_band_limited'])} | {_dec(p['wil_reconstructed'])} "
                     f"| {_dec(p['wil_decoder_with_indices'])} | {_pct(p['speaker_accuracy_features'])} | "
                     f"{_pct(p['speaker_accuracy_raw'])} | {_pct(p['chance'])} | {p['n_recordings']} |")
    return lines


def _markdown_tables(tables: dict[str, dict[str, Any]]) -> list[str]:
    """The paper's tables as printed, with their notes."""
    lines = []
    for label, t in tables.items():
        cols = list(t["columns"])
        lines += ["", f"## Pitch {label} (quoted)", "", f"{t['title']}. {t.get('note', '')}", "",
                  "| # | " + " | ".join(t["columns"][c] for c in cols) + " |", "|---|" + "---|" * len(cols)]
        for cid, r in t["rows"].items():
            lines.append(f"| #{cid} | " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
        for name in ("average", "average_top10"):
            if name in t:
                lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(_cell(t[name].get(c)) for c in cols) + " |")
    return lines


def _paper_top10(series: dict[str, Any]) -> float | None:
    """The paper's top-10 figure for a quoted series: Table 3's 'Average (top-10)' for Pitch on FreeVC only."""
    return top10_auroc() if series["detector"] == "pitch" and series["generator"] == "freevc" else None


def _cell(v: Any) -> str:
    return "–" if v is None else str(v)


# ---------------------------------------------------------------- HTML
def _html(doc: dict[str, Any], out: Path) -> str:
    rows = doc["entries"]
    ch = doc["challenges"]
    series = doc["paper_reference"]["pitch_series"]
    esc = html.escape
    gens = sorted({r["generator"] for r in rows})

    main_rows = []
    for r in rows:
        ci = r["auroc_ci"]
        main_rows.append(
            f"<tr data-generator='{esc(r['generator'])}'><td>{r['rank'] or 'unranked'}</td><td>{esc(r['system'])}"
            f"</td><td>{esc(r['generator'])}</td>"
            f"<td>{esc(str(r['corpus']))}{' <span class=sim>sim</span>' if r['simulated'] else ''}</td>"
            f"<td data-v='{r['auroc'] or 0}'>{_pct(r['auroc'])} <small>[{_pct(ci[0])}, {_pct(ci[1])}]</small></td>"
            f"<td data-v='{r['auroc_seed_mean'] or 0}'>{esc(_seed_cell(r))}</td>"
            f"<td data-v='{r['eer'] or 0}'>{_pct(r['eer'])}</td><td data-v='{r['min_dcf'] or 0}'>{_dec(r['min_dcf'])}"
            f"</td><td data-v='{r['f1'] or 0}'>{_pct(r['f1'])}</td><td data-v='{r['paper_top10_auroc'] or 0}'>"
            f"{_pct(r['paper_top10_auroc'])}</td><td data-v='{r['rtfx'] or 0}'>"
            f"{_num(r['rtfx'])}</td>"
            f"<td data-v='{r['latency_p95_ms'] or 0}'>{_num(r['latency_p95_ms'])}"
            f"</td><td>{esc(r['date'][:10])}</td><td class=caveat>{esc('; '.join(r['caveats'])) or '–'}</td></tr>")
    cols = heatmap_columns(rows, series)
    heat_rows = []
    for c in ch:
        cells = []
        for kind, col in cols:
            if kind == "quoted":
                q = col["per_challenge"].get(c["id"])
                cells.append(f"<td class=quoted data-v='{-1 if q is None else q}'>{_pct(q)}</td>")
                continue
            pc = col["per_challenge"].get(c["id"]) or {}
            v = pc.get("auroc")
            color = "#eee" if v is None else f"hsl({int(120 * max(0.0, min(1.0, (v - 0.5) * 2)))}, 65%, 72%)"
            value = v if v is not None else -1
            std = (f" <small title='std over the model's seeds'>&plusmn;{100 * pc['seed_std']:.1f}</small>"
                   if pc.get("seed_std") is not None else "")
            wide = " <small title='95% CI wider than +-10 points: not ranked'>~</small>" \
                if c["id"] in col["unranked_challenges"] else ""
            cells.append(f"<td class=heat data-v='{value}' style='background:{color}'>{_pct(v)}{std}{wide}</td>")
        heat_rows.append(f"<tr data-challenge='{c['id']}'><td>#{c['id']}</td><td>{esc(c['name'])}</td>"
                         + "".join(cells) + "</tr>")
    ten = ", ".join(f"#{i}" for i in doc["paper_reference"]["pitch_top10"])
    pooled = "".join(f"<td>{_pct(col['paper_top10_auroc'])}</td>" if kind == "ours" else
                     f"<td class=quoted>{_pct(_paper_top10(col))}</td>" for kind, col in cols)
    heat_foot = (f"<tr class=pooled><td></td><td>paper's top-10 ({esc(ten)}): ours pooled, the paper's "
                 f"Table 3 'Average (top-10)'</td>{pooled}</tr>")
    heat_head = "".join(f"<th data-generator='{esc(col['generator'])}'>{esc(col['system'])}<br><small>"
                        f"{esc(col['generator'])}</small></th>" if kind == "ours" else
                        f"<th class=quoted>{esc(col['system'])}<br><small>Pitch {esc(col['source'])}, quoted</small>"
                        f"</th>" for kind, col in cols)
    quoted = "".join(f"<tr><td>{esc(p['source'])}</td><td>{esc(p['system'])}</td><td>{_pct(p['auroc'])}</td>"
                     f"<td>{esc(p['note'])}</td></tr>" for p in doc["paper_reference"]["pitch"])
    devox = "".join(f"<tr><td>{esc(d['source'])}</td><td>{esc(d['system'])}</td><td>{d['transmission_ms_mean']:.0f}"
                    f"</td><td>{d['inference_ms_mean']:.0f} ({d['inference_ms_range'][0]:.0f}–"
                    f"{d['inference_ms_range'][1]:.0f})</td><td>{d['deploy_s']:.0f}</td></tr>"
                    for d in doc["paper_reference"]["devox_latency"])
    figures = []
    for key, rel in doc["figures"].items():
        svg = (out / rel).read_text()
        svg = svg[svg.find("<svg"):]
        figures.append(f"<figure id='fig-{esc(key)}'><figcaption>{esc(key)}</figcaption>{svg}</figure>")
    gen_options = "".join(f"<option>{esc(g)}</option>" for g in gens)
    ch_options = "".join(f"<option value='{c['id']}'>#{c['id']} {esc(c['name'])}</option>" for c in ch)
    sim_note = ("<p class=warn>Rows marked <span class=sim>sim</span> come from a <b>simulated</b> corpus "
                "(espeak-ng + WORLD voices): they describe the simulation, not the Pitch recordings.</p>"
                if any(r["simulated"] for r in rows) else "")
    return _PAGE.format(
        title=esc(doc["title"]), generated=esc(doc["generated"]), version=esc(doc["bench_version"]),
        sim_note=sim_note, main_rows="".join(main_rows), heat_head=heat_head, heat_rows="".join(heat_rows),
        heat_foot=heat_foot,
        quoted=quoted, devox=devox, paper_tables=_html_privacy(doc.get("privacy") or [])
        + latency_html(doc.get("latency") or [])
        + _html_tables(doc["paper_reference"]["pitch_tables"]),
        figures="".join(figures), gen_options=gen_options, ch_options=ch_options,
        data=json.dumps({"entries": len(rows)}),
    )


def _html_privacy(leaks: list[dict[str, Any]]) -> str:
    """The privacy table (the Markdown one's rows) as HTML."""
    if not leaks:
        return ""
    esc = html.escape
    head = ("<tr><th>system</th><th>bytes per audio second</th><th>WIL original</th><th>WIL band-limited</th>"
            "<th>WIL reconstructed</th><th>WIL own decoder + indices</th><th>speaker probe on features %</th>"
            "<th>on raw audio %</th><th>chance %</th></tr>")
    body = "".join(
        f"<tr><td>{esc(p['detector'])} ({esc(p['model'])}){' <span class=sim>sim</span>' if p['simulated'] else ''}"
        f"</td><td>{p['bytes_per_second']}</td><td>{_dec(p['wil_original'])}</td><td>{_dec(p['wil_band_limited'])}"
        f"</td><td>{_dec(p['wil_reconstructed'])}</td><td>{_dec(p['wil_decoder_with_indices'])}</td>"
        f"<td>{_pct(p['speaker_accuracy_features'])}</td><td>{_pct(p['speaker_accuracy_raw'])}</td>"
        f"<td>{_pct(p['chance'])}</td></tr>" for p in leaks)
    return ("<h2>What the features leak (privacy-split detectors)</h2><p>Measured by <code>bench privacy</code> as "
            "the server operator (only the feature messages). WIL: lower = more content recovered; 16-bit PCM at "
            f"8 kHz is 16000 bytes per second.</p><table id=privacy><thead>{head}</thead><tbody>{body}</tbody>"
            "</table>")


def _html_tables(tables: dict[str, dict[str, Any]]) -> str:
    """The paper's tables as printed (Table 3, Table A.3), each with its note."""
    esc = html.escape
    parts = []
    for label, t in tables.items():
        cols = list(t["columns"])
        head = "".join(f"<th>{esc(t['columns'][c])}</th>" for c in cols)
        body = "".join(f"<tr><td>#{esc(cid)}</td>" + "".join(f"<td>{esc(_cell(r.get(c)))}</td>" for c in cols)
                       + "</tr>" for cid, r in t["rows"].items())
        for name in ("average", "average_top10"):
            if name in t:
                body += (f"<tr class=pooled><td>{esc(name.replace('_', ' '))}</td>"
                         + "".join(f"<td>{esc(_cell(t[name].get(c)))}</td>" for c in cols) + "</tr>")
        slug = label.lower().replace(" ", "-").replace(".", "")
        parts.append(f"<h2>Pitch {esc(label)} (quoted)</h2><p class=quoted>{esc(t['title'])}. "
                     f"{esc(t.get('note', ''))}</p><table id='paper-{slug}' class=quoted><thead><tr><th>#</th>"
                     f"{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1400px}}
table{{border-collapse:collapse;margin:1rem 0;font-size:.9rem}} th,td{{border:1px solid #ccc;padding:.3rem .5rem;
text-align:right}} td:nth-child(2),th:nth-child(2){{text-align:left}} th{{background:#f4f4f4;cursor:pointer;
user-select:none}} th.asc::after{{content:" \\25B2"}} th.desc::after{{content:" \\25BC"}} .sim{{background:#fde68a;
border-radius:3px;padding:0 .3rem;font-size:.75rem}} .warn{{background:#fff7e6;border-left:4px solid #f59e0b;
padding:.5rem 1rem}} .quoted{{font-style:italic;color:#555;background:#f9f9f9}} small{{color:#666}}
figure{{margin:1rem 0}} figure svg{{max-width:100%;height:auto}} .filters label{{margin-right:1rem}}
</style></head><body>
<h1>{title}</h1>
<p>Generated {generated} by bench {version}. Scores: higher = more likely fake. AUROC/EER with 95% bootstrap CIs.</p>
{sim_note}
<div class=filters>
<label>Generator <select id=gen-filter><option value="">all</option>{gen_options}</select></label>
<label>Challenge <select id=ch-filter><option value="">all</option>{ch_options}</select></label>
</div>
<h2>Ranking</h2>
<table id=ranking class=sortable><thead><tr><th>rank</th><th>system</th><th>generator</th><th>corpus</th>
<th>AUROC %</th><th>AUROC % over seeds</th><th>EER %</th><th>minDCF</th><th>F1 %</th>
<th>AUROC % on the paper's top-10 (paper: 88.7)</th><th>audio s / CPU s</th>
<th>p95 latency ms</th><th>date</th>
<th>caveats</th></tr></thead><tbody>{main_rows}</tbody></table>
<h2>AUROC % per challenge: systems x generators x challenges (heat map)</h2>
<p>Quoted columns: the Pitch paper's figures on its 100 recorded speakers, never measured here, placed beside our
system of the same name. &plusmn;: std over a multi-seed model's seeds.
<small>~</small>: our 95% CI is wider than &plusmn;10 AUROC points, too wide to rank that challenge.</p>
<table id=heatmap class=sortable><thead><tr><th>#</th><th>challenge</th>{heat_head}
</tr></thead><tbody>{heat_rows}</tbody><tfoot>{heat_foot}</tfoot></table>
{paper_tables}
<h2>Quoted from the papers (not ranked)</h2>
<table id=quoted><thead><tr><th>source</th><th>system</th><th>AUROC %</th><th>note</th></tr></thead>
<tbody>{quoted}</tbody></table>
<table id=devox><thead><tr><th>source</th><th>system</th><th>transmission ms</th><th>inference ms (range)</th>
<th>deploy s</th></tr></thead><tbody>{devox}</tbody></table>
<h2>Figures</h2>
{figures}
<script>
"use strict";
const meta = {data};
function cellValue(td) {{
  const v = td.getAttribute("data-v");
  if (v !== null) return parseFloat(v);
  const n = parseFloat(td.textContent.replace("#", ""));
  return isNaN(n) ? td.textContent.trim().toLowerCase() : n;
}}
document.querySelectorAll("table.sortable").forEach(table => {{
  table.querySelectorAll("thead th").forEach((th, col) => {{
    th.addEventListener("click", () => {{
      const asc = !th.classList.contains("asc");
      table.querySelectorAll("thead th").forEach(h => h.classList.remove("asc", "desc"));
      th.classList.add(asc ? "asc" : "desc");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {{
        const x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
        const r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return asc ? r : -r;
      }});
      rows.forEach(r => body.appendChild(r));
    }});
  }});
}});
function applyFilters() {{
  const gen = document.getElementById("gen-filter").value;
  const ch = document.getElementById("ch-filter").value;
  document.querySelectorAll("#ranking tbody tr").forEach(tr => {{
    tr.style.display = (!gen || tr.dataset.generator === gen) ? "" : "none";
  }});
  const heads = Array.from(document.querySelectorAll("#heatmap thead th"));
  heads.forEach((th, i) => {{
    const g = th.dataset.generator;
    const show = !g || !gen || g === gen;
    document.querySelectorAll("#heatmap tr").forEach(tr => {{
      if (tr.cells[i]) tr.cells[i].style.display = show ? "" : "none";
    }});
  }});
  document.querySelectorAll("#heatmap tbody tr").forEach(tr => {{
    tr.style.display = (!ch || tr.dataset.challenge === ch) ? "" : "none";
  }});
}}
document.getElementById("gen-filter").addEventListener("change", applyFilters);
document.getElementById("ch-filter").addEventListener("change", applyFilters);
console.log("leaderboard ready", meta.entries);
</script>
</body></html>
"""
