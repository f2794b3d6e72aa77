"""Simulated raters: a stand-in for people so the human analysis runs offline (issue #25). Never people.

Every row this model writes has ``simulated = 1``, and every table built from such rows says so.

The model (signal detection, equal variance, unbiased): a rater perceives ``z = (+d'/2 if fake else -d'/2) +
N(0, 1)`` and answers *fake* when ``z > 0``, so their accuracy is ``Phi(d'/2)``; d' is set per challenge so
that it equals Pitch Table 4's vanilla accuracy (quoted; challenges Table 4 does not list take its 72.6 %
average). Table 4 reports no bias, so none is modelled. Confidence is ``100 Phi(|z|)`` (50-100 %).
Realism and compliance follow the same perception, with arbitrary constants (bench's choice, not the
paper's): realism = ``round(3.5 - 0.8 z + N(0, 0.5))`` clipped to 1-5; compliance = 0 when ``z > 1.5``.

After the verdict (assisted rows), the rater keeps or switches with Pitch Table 5's rates (quoted counts):
a disagreeing verdict is taken with probability 781 / (781 + 939) when the rater was wrong and
216 / (216 + 510) when right; an agreeing one is still abandoned with 5 / (5 + 532) (wrong) or
27 / (27 + 5362) (right). The rationale is shown to a random half and changes nothing (§5.3 found no
significant difference). Confidence moves 10 points up on agreement, down on disagreement, and a switch
restarts at 60 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from bench.human.ratings import Rating
from bench.references import pitch


def table4_accuracy(challenge: int) -> float:
    """Pitch Table 4's vanilla human accuracy for a challenge (fraction; quoted), or its average."""
    row = pitch.row("table4", challenge)
    value = row["vanilla_acc"] if row else pitch.table("table4")["average"]["vanilla_acc"]
    return float(value) / 100


def table5_rates() -> dict[tuple[bool, bool], float]:
    """P(switch) by (initial decision correct, machine verdict correct), from Table 5's quoted counts."""
    n = {s["scenario"]: s["count"] for s in pitch.table("table5")["scenarios"]}

    def share(a: str, b: str) -> float:
        return n[a] / (n[a] + n[b])

    return {(False, True): share("Machine Corrected", "No Change (Initial Wrong)"),
            (True, False): share("Machine Misled", "No Change (Initial Correct)"),
            (False, False): share("Self Corrected", "Incorrect Agreement"),
            (True, True): share("Self Misled", "Correct Agreement")}


def simulate_ratings(samples: pd.DataFrame, raters_per_sample: int = 3, pool: int = 12, assisted: bool = True,
                     seed: int = 0) -> list[Rating]:
    """Simulated ratings of ``samples`` (columns ``sample_id``, ``challenge``, ``label`` 1 = fake, and
    ``machine_fake`` when ``assisted``): ``raters_per_sample`` distinct raters of a pool of ``pool`` each."""
    if not 1 <= raters_per_sample <= pool:
        raise ValueError(f"need 1 <= raters_per_sample <= pool (got {raters_per_sample}, {pool})")
    rng = np.random.default_rng(seed)
    switch = table5_rates()
    out = []
    for s in samples.itertuples(index=False):
        fake = bool(s.label)
        d_prime = 2 * norm.ppf(table4_accuracy(int(s.challenge)))
        for rater in sorted(rng.choice(pool, size=raters_per_sample, replace=False)):
            z = (d_prime / 2 if fake else -d_prime / 2) + rng.normal()
            initial = bool(z > 0)
            conf = int(round(100 * norm.cdf(abs(z))))
            fields = {"sample_id": str(s.sample_id), "rater": f"sim-{rater:02d}", "compliance": int(z <= 1.5),
                      "realism": int(np.clip(round(3.5 - 0.8 * z + rng.normal(0, 0.5)), 1, 5)),
                      "initial_decision": "fake" if initial else "real", "initial_confidence": conf, "simulated": 1}
            if assisted:
                machine = bool(s.machine_fake)
                flips = rng.random() < switch[(initial == fake, machine == fake)]
                final = (not initial) if flips else initial
                final_conf = 60 if flips else int(np.clip(conf + (10 if machine == initial else -10), 50, 100))
                fields.update(machine_verdict="fake" if machine else "real", rationale_shown=int(rng.random() < 0.5),
                              final_decision="fake" if final else "real", final_confidence=final_conf)
            out.append(Rating(**fields))
    return out
