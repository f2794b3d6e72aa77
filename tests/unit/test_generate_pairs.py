"""`bench generate`'s pairing on hand-made rows: --pairs-per-source caps the (source, target) product, seeded."""

from __future__ import annotations

from bench.runs.generate import make_pairs


def test_pairs_per_source_caps_the_product():
    rows = [{"utterance_id": f"{s}-{c}-{k}", "subject": s, "challenge": c, "sentence_id": k, "device": "desktop"}
            for s in "abcd" for c in (0, 1) for k in (0, 1)]
    full, _ = make_pairs(rows, "g", pairs_per_source=None)
    capped, _ = make_pairs(rows, "g", pairs_per_source=2, seed=1)
    assert len(full) == 16 * 3 and len(capped) == 16 * 2
    assert capped == make_pairs(rows, "g", pairs_per_source=2, seed=1)[0]
