"""The leaderboard's edge-server latency table: ``bench latency`` runs beside DevoX Table 3 (quoted)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from bench.evaluation.results import load_latency
from bench.references.devox import DEVOX_TABLE3, EDGE_SERVER, ms

COLUMNS = ["system", "profile", "server", "mode", "line (encoding, rate)", "callers", "end-to-end p50 / p95 / p99 ms",
           "inference p95 ms",
           "transmission p95 ms", "chunks / s", "dropped", "isolated inference ms (p95 / it)",
           "compute floor ms, MACs / peak (p95 / it)", "alert after fake p50 ms", "false alarms before the fake",
           "chunk AUROC"]


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:,.1f}"


def load_latency_rows(paths: list[str | Path]) -> list[dict[str, Any]]:
    """One summary row per ``bench latency`` result (latency.json or its folder)."""
    rows = []
    for p in paths:
        r = load_latency(p)
        e2e = r.parts["end_to_end"]
        rows.append({"model": r.detector.config.get("model"), "detector": r.detector.name, "profile": r.profile,
                     "engine": r.engine, "mode": r.mode, "callers": r.callers, "realtime": r.realtime,
                     "p50_ms": e2e.p50_ms, "p95_ms": e2e.p95_ms, "p99_ms": e2e.p99_ms,
                     "inference_p95_ms": r.parts["inference"].p95_ms,
                     "transmission_p95_ms": r.parts["transmission"].p95_ms,
                     "throughput": r.throughput_chunks_per_s, "dropped": r.dropped, "sent": r.chunks_sent,
                     "isolated_ms": r.isolated_inference_ms, "over_isolated_p95": r.end_to_end_over_isolated.get("p95"),
                     "floor_ms": r.compute_floor_ms, "over_floor_p95": r.end_to_end_over_floor.get("p95"),
                     "alert_p50_ms": r.alerts.get("p50_ms"), "false_alarm_chunks": r.alerts.get("false_alarm_chunks"),
                     "real_chunks": r.alerts.get("real_chunks"), "false_alarm_calls": r.alerts.get("false_alarm_calls"),
                     "calls": r.alerts.get("calls"), "chunk_auroc": r.alerts.get("chunk_auroc"),
                     "simulated": r.simulated, "created": r.created, "line": line_cell(r.line)})
    return rows


def _ref(ms: float | None, over: float | None) -> str:
    """A reference time and the p95's multiple of it: "1.62 (2.4x)"."""
    if ms is None:
        return "–"
    return f"{ms:,.2f}" + ("" if over is None else f" ({over:,.1f}x)")


def _false_alarms(r: dict[str, Any]) -> str:
    """"2 of 40 chunks, 1 of 4 calls"; "–" when the run did not count them (not real time, or an old result)."""
    if r.get("false_alarm_chunks") is None:
        return "–"
    def known(key: str) -> Any:
        return "?" if r.get(key) is None else r[key]

    calls = "" if r.get("false_alarm_calls") is None else f", {r['false_alarm_calls']} of {known('calls')} calls"
    return f"{r['false_alarm_chunks']} of {known('real_chunks')} chunks{calls}"


def line_cell(line: dict[str, Any]) -> str:
    """"pstn-g711u (pcm_mulaw, 8 kHz)"; "clean (pcm_s16le, 16 kHz)" for calls without a channel (older files:
    clean, whatever rate the calls had)."""
    if not line:
        return "clean"
    rate = f"{line.get('sample_rate', 16000) / 1000:g} kHz"
    return f"{line.get('profile') or 'clean'} ({line.get('encoding', 'pcm_s16le')}, {rate})"


def _cells(r: dict[str, Any]) -> list[str]:
    return [f"{r['detector']} ({r['model']})", r["profile"], "bench serve" if r["engine"] == "batched" else "naive",
            r["mode"], r["line"] if r["mode"] == "raw" else "features",
            f"{r['callers']}{'' if r['realtime'] else ' (as fast as possible)'}",
            f"{_ms(r['p50_ms'])} / {_ms(r['p95_ms'])} / {_ms(r['p99_ms'])}", _ms(r["inference_p95_ms"]),
            _ms(r["transmission_p95_ms"]), f"{r['throughput']:.1f}", f"{r['dropped']} of {r['sent']}",
            _ref(r["isolated_ms"], r["over_isolated_p95"]), _ref(r["floor_ms"], r["over_floor_p95"]),
            _ms(r["alert_p50_ms"]), _false_alarms(r),
            "–" if r.get("chunk_auroc") is None else f"{100 * r['chunk_auroc']:.1f}%"]


_TX, _INF, _E2E = (ms(DEVOX_TABLE3[k]) for k in ("transmission_ms_mean", "inference_ms_mean", "end_to_end_ms_mean"))
_LO, _HI = (ms(v) for v in DEVOX_TABLE3["inference_ms_range"])
#: DevoX's row, quoted (Table 3): the same columns, "–" where the paper gives no figure
QUOTED = [f"{DEVOX_TABLE3['source']}: {EDGE_SERVER}", "edge (CPU)", "socket + inference containers",
          "raw", "phone to edge (not stated)", "1",
          f"mean {_E2E} ({_TX} transmission + {_INF} inference)", f"mean {_INF} (range {_LO}-{_HI})",
          f"mean {_TX} (phone to edge)", "–", "–", "–", "–", "–", "–", "–"]
NOTE = ("Measured by `bench latency` on loopback (transmission is the local network stack's, not a phone "
        "uplink's); DevoX's row is quoted from its Table 3, measured from a phone over a network. Isolated "
        "inference: one chunk scored alone in the server process; compute floor: the MACs to score one chunk "
        "over the server core's measured peak MAC rate. An alert time means something only beside few false "
        "alarms and a high chunk AUROC (real chunks before the fake vs fake chunks after it).")


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = ["", "## Edge-server latency per 1-second chunk (bench latency)", "", NOTE, "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    lines.append("| " + " | ".join(QUOTED) + " |")
    return lines


def html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in _cells(r)) + "</tr>" for r in rows)
    body += "<tr class=quoted>" + "".join(f"<td>{esc(c)}</td>" for c in QUOTED) + "</tr>"
    return (f"<h2>Edge-server latency per 1-second chunk</h2><p>{esc(NOTE)}</p><table id=latency><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")
