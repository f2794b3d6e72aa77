"""What `bench evaluate --dataset` prints: pooled and per-attack metrics, errors at carried-over thresholds,
the organisers' EER, and the published figure beside ours (quoted)."""

from __future__ import annotations

from pathlib import Path

from bench.cli.evaluate_cmd import _ci, _dcf, _pct
from bench.cli.output import console
from bench.evaluation.dataset_results import DatasetResult


def print_dataset_summary(result: DatasetResult, out: Path) -> None:
    """Tables of the result, then where it was written."""
    from rich.table import Table

    d = result.dataset
    title = f"{result.detector.name} on {d['name']} ({d['split']}, {d['items']} items, revision {d['revision'][:12]})"
    table = Table(title=title)
    for col in ("group", "n bona fide", "n spoof", "EER % [95% CI]", "AUROC % [95% CI]", "minDCF"):
        table.add_column(col, justify="left" if col == "group" else "right")
    o = result.overall
    table.add_row("pooled", str(o.n_bona_fide), str(o.n_fake), _ci(o.eer), _ci(o.auroc), _dcf(o.min_dcf))
    for field, groups in result.breakdowns.items():
        for g in groups:
            m = g.metrics
            table.add_row(f"{field} {g.value}", str(m.n_bona_fide), str(m.n_fake), _ci(m.eer), _ci(m.auroc),
                          _dcf(m.min_dcf))
    console.print(table)
    if result.deployment:
        dep = Table(title="at a threshold fixed before these data (carried over)")
        for col in ("threshold", "from", "FPR % (bona fide called fake)", "FNR % (spoof missed)", "HTER %"):
            dep.add_column(col, justify="left" if col == "from" else "right")
        for x in result.deployment:
            dep.add_row(f"{x.threshold:.4g}", x.source, _ci(x.fpr), _ci(x.fnr), _ci(x.hter))
        console.print(dep)
        console.print(f"for contrast, the EER measured on {d['split']} itself: {_pct(o.eer.value)} % (a threshold "
                      "chosen on the evaluation data; a deployment never has it)", markup=False, highlight=False)
    if result.official:
        off = result.official
        console.print(f"ASVspoof organisers' EER ({off.procedure.split(' (')[0]}) on the official scale, "
                      f"{off.protocol} protocol: {100 * off.eer:.6f} %"
                  + (f", min t-DCF {off.min_tdcf:.6f} (with the organisers' ASV scores)" if off.min_tdcf is not None
                     else "") + f"; score file {out / off.score_file}",
                      markup=False, highlight=False)
    for q in result.quoted:
        console.print(quoted_line(result, q), markup=False, highlight=False)
    t = result.timings
    if t.get("rtfx_cpu"):
        console.print(f"throughput: {t['rtfx_cpu']:.1f}x real time per CPU-second ({t['audio_s']:.0f} s of audio)",
                      markup=False, highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"wrote {out / 'result.json'} and {out / 'scores.parquet'}")


def quoted_line(result: DatasetResult, quote: dict) -> str:
    """A published figure beside ours: the same metric, and whether the protocols match."""
    off = result.official
    ours_protocol = off.protocol if off else str(result.detector.config.get("protocol", "bench"))
    if quote["metric"] == "min_tdcf":
        ours = "not computed (the data has no ASV scores)" if off is None or off.min_tdcf is None \
            else f"{off.min_tdcf:.4f}"
        line = f"quoted: min t-DCF {quote['value']:.4f} ({quote['source']}); ours {ours}"
    else:
        ours_eer = off.eer if off else result.overall.eer.value
        line = f"quoted: EER {100 * quote['value']:.2f} % ({quote['source']}); ours {_pct(ours_eer)} %"
    if quote.get("protocol") and quote["protocol"] != ours_protocol:
        line += f" (ours with the {ours_protocol} protocol, the quote with the {quote['protocol']} one)"
    return line
