"""DNSMOS P.808 against P.835 OVRL (pitch-lite's realism): agreement, cost per clip, and pitch-lite's AUROC
with each, on the calls of an existing pitch-lite result (issue #26: a faster realism for the 15x goal).

The result's scores.parquet holds every call's compliance probability, WIL and P.835 OVRL. P.808 is
computed here for the same audio (one 9.01 s window per clip, as pitch-lite rates OVRL), and D is recombined
with it by pitch-lite's own formula (``degradation``). Simulated speech: the AUROCs describe the simulation.

Run: python benchmarks/realism_agreement.py --result RESULT --corpus CORPUS --fakes FAKES
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402

from bench.audio import load_entry  # noqa: E402
from bench.data.corpus import open_dataset  # noqa: E402
from bench.detectors.pitch.detector import degradation  # noqa: E402
from bench.detectors.pitch.realism import DNSMOSRealism  # noqa: E402
from bench.evaluation.detection_metrics import auroc, bootstrap_auroc_ci  # noqa: E402


def _auroc(labels: np.ndarray, d: np.ndarray) -> str:
    lo, hi = bootstrap_auroc_ci(labels, d, n=1000, seed=0)
    return f"{100 * auroc(labels, d):.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--result", type=Path, required=True, help="a pitch-lite result folder")
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--fakes", type=Path, required=True)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = [r for r in pq.read_table(args.result / "scores.parquet").to_pylist() if r.get("in_scope", True)]
    audio = {r["utterance_id"]: r["audio"] for r in open_dataset(args.corpus).to_list()}
    audio.update({r["utterance_id"]: r["audio"] for r in open_dataset(args.fakes).to_list() if r["audio"]})
    clips = [load_entry(audio[r["utterance_id"]]) for r in rows]
    timings = {}
    values = {}
    for output in ("ovrl", "p808"):
        backend = DNSMOSRealism(output=output, max_windows=1)
        backend.load()
        backend.score(clips[:2])  # warm-up: first-call costs are not scoring
        t0 = time.process_time()
        values[output] = np.array(backend.score(clips))
        timings[output] = (time.process_time() - t0) / len(clips)
    labels = np.array([r["label"] for r in rows])
    d = {name: np.array([degradation(r["compliance.p"], r["content"], m)[0] for r, m in zip(rows, v, strict=True)])
         for name, v in values.items()}
    zero = np.array([r["challenge"] == 0 for r in rows])
    from scipy.stats import spearmanr

    print(header(f"Realism: DNSMOS P.808 against P.835 OVRL on {args.result.name}"))
    print(f"- {len(rows)} in-scope calls ({int((labels == 0).sum())} originals + {int((labels == 1).sum())} fakes), "
          f"simulated speech; one 9.01 s window per clip; one thread\n")
    print(f"Agreement: Pearson r {np.corrcoef(values['ovrl'], values['p808'])[0, 1]:.3f}, Spearman "
          f"{spearmanr(values['ovrl'], values['p808']).statistic:.3f}; mean OVRL {values['ovrl'].mean():.2f}, "
          f"mean P.808 {values['p808'].mean():.2f}\n")
    print(table(["realism", "CPU s per clip", "pitch-lite AUROC % [95% CI], all challenges", "#0 (no challenge)"],
                [[name.upper() if name == "p808" else "P.835 OVRL (pitch-lite's)", f"{timings[name]:.3f}",
                  _auroc(labels, d[name]), _auroc(labels[zero], d[name][zero])] for name in ("ovrl", "p808")]))


if __name__ == "__main__":
    main()
