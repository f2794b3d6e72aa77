"""Figures quoted from the papers this benchmark reproduces. Shown beside measured rows,
clearly marked as quoted, and never ranked with them."""

from __future__ import annotations

from challenges.taxonomy import all_challenges, taxonomy


def pitch_rows() -> list[dict]:
    """Pitch (Mittal et al.) headline and per-challenge AUROC figures that are known here."""
    po = taxonomy().paper_overall
    rows = [
        {"source": "Pitch (quoted)", "system": "Pitch machine evaluation, top-10 challenges",
         "auroc": po.get("top10_auroc"), "note": "88.7% AUROC with the shortlisted challenges"},
        {"source": "Pitch (quoted)", "system": "Pitch machine evaluation, no challenge (#0)",
         "auroc": po.get("no_challenge_auroc"), "note": "56.0% without a challenge"},
        {"source": "Pitch Table A.3 (quoted)", "system": "LFCC-LCNN", "auroc": po.get("lfcc_lcnn_auroc"),
         "note": "ASVspoof baseline on Pitch's data"},
        {"source": "Pitch Table A.3 (quoted)", "system": "SpecRNet", "auroc": po.get("specrnet_auroc"),
         "note": "lightweight detector on Pitch's data"},
    ]
    return [r for r in rows if r["auroc"] is not None]


def pitch_per_challenge() -> dict[int, float]:
    """Per-challenge AUROC from Pitch Table 3 where it could be read (see the taxonomy's provenance)."""
    return {c.id: c.paper.auroc for c in all_challenges() if c.paper.auroc is not None}


DEVOX_LATENCY = [
    {"source": "DevoX Table 3 (quoted)", "system": "edge server, 1 CPU core, 8 GB (1-s chunks)",
     "transmission_ms_mean": 968.0, "inference_ms_mean": 1150.0, "inference_ms_range": [320.0, 1717.0],
     "deploy_s": 22.0},
]
