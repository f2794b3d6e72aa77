"""The hard balanced subset (Pitch's human-evaluation set): fakes that match the target's voice
and sound natural, balanced with originals per challenge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.data.corpus import FAKE_FEATURES, build_dataset, known_hashes, open_dataset, read_manifest, save
from bench.errors import BenchError
from bench.evaluation.results import load_result, read_scores
from bench.outdir import check_output, claim_output


def _check_same_data(result_dir: Path, corpus: str | Path, fakes: str | Path) -> None:
    """The result must have been computed on this corpus and these fakes (content hashes)."""
    if not (result_dir / "result.json").is_file():
        return
    result = load_result(result_dir / "result.json")
    for what, path, recorded in (("corpus", corpus, result.corpus), ("fakes", fakes, result.fakes)):
        manifest = read_manifest(path)
        have, want = manifest.get("content_hash"), recorded.get("content_hash")
        if have and want and want not in known_hashes(manifest):
            raise BenchError(f"{result_dir} was evaluated on another {what} (content hash {want}, {path} has "
                             f"{have}); give the --corpus and --fakes that result was computed on")


def hard_subset(result_dir: str | Path, corpus: str | Path, fakes: str | Path, out: str | Path,
                match: float = 0.50, min_mos: float | None = None, per_challenge: int = 10,
                seed: int = 0, overwrite: bool = False) -> dict[str, Any]:
    """Select, per challenge, up to N fakes with speaker match >= ``match`` (and MOS >= ``min_mos``)
    and as many originals; write ``out/corpus`` and ``out/fakes``. Returns a summary."""
    if not -1.0 <= match <= 1.0:
        raise BenchError("--match must be a cosine similarity between -1 and 1")
    if per_challenge < 1:
        raise BenchError("--per-challenge must be at least 1")
    result_dir = Path(result_dir)
    params = {"match": match, "min_mos": min_mos, "per_challenge": per_challenge, "seed": seed,
              "result": str(result_dir.resolve())}
    check_output(out, "data subset", params, inputs=[result_dir, corpus, fakes], overwrite=overwrite)
    scores_path = result_dir / "scores.parquet"
    if not scores_path.is_file():
        raise BenchError(f"{scores_path}: no such file (run `bench evaluate` first)")
    _check_same_data(result_dir, corpus, fakes)
    table = read_scores(scores_path)
    if not table:
        raise BenchError(f"{scores_path}: no rows")
    missing = {"utterance_id", "label", "challenge"} - set(table[0])
    if missing:
        raise BenchError(f"{scores_path}: lacks the column(s) {', '.join(sorted(missing))}")
    for column, needed in (("speaker.similarity", "evaluate with a pitch detector"), ("realism.mos", "--min-mos")):
        if column == "realism.mos" and min_mos is None:
            continue
        if column not in table[0]:
            raise BenchError(f"{scores_path}: has no {column} column ({needed})")
        if not all(r[column] is None or (isinstance(r[column], int | float) and not isinstance(r[column], bool))
                   for r in table):
            raise BenchError(f"{scores_path}: {column} holds values that are not numbers")
    rng = np.random.default_rng(seed)
    corpus_ds, fakes_ds = open_dataset(corpus), open_dataset(fakes)
    fake_rows = {r["utterance_id"]: r for r in fakes_ds.to_list()}
    real_rows = {r["utterance_id"]: r for r in corpus_ds.to_list()}
    scored = {r["utterance_id"] for r in table}
    if not scored & (set(fake_rows) | set(real_rows)):
        raise BenchError(f"{scores_path} scores none of the recordings in {corpus} or {fakes}; give the --corpus "
                         "and --fakes that result was computed on")
    chosen_fakes, chosen_real, per = [], [], {}
    for c in sorted({r["challenge"] for r in table}):
        hard = [r["utterance_id"] for r in table if r["challenge"] == c and r["label"] == 1
                and r["utterance_id"] in fake_rows and (r["speaker.similarity"] or 0) >= match
                and (min_mos is None or (r.get("realism.mos") or 0) >= min_mos)]
        real = [r["utterance_id"] for r in table if r["challenge"] == c and r["label"] == 0
                and r["utterance_id"] in real_rows]
        n = min(per_challenge, len(hard), len(real))
        if n == 0:
            per[c] = 0
            continue
        chosen_fakes += sorted(rng.choice(hard, n, replace=False).tolist())
        chosen_real += sorted(rng.choice(real, n, replace=False).tolist())
        per[c] = n
    if not chosen_fakes:
        raise BenchError(f"no fake reaches speaker match {match}" + (f" and MOS {min_mos}" if min_mos else "")
                         + "; lower --match or --min-mos")
    out = Path(out)
    claim_output(out, "data subset", params, inputs=[result_dir, corpus, fakes], overwrite=overwrite)
    cm, fm = read_manifest(corpus), read_manifest(fakes)
    real_manifest = save(build_dataset([real_rows[i] for i in chosen_real]), out / "corpus",
                         {**cm, "name": f"{cm.get('name', 'corpus')}-hard", "subset": params,
                          "parent_hash": cm.get("content_hash")})
    fm_corpus = {**(fm.get("corpus") or {}), "content_hash": real_manifest["content_hash"]}
    save(build_dataset([fake_rows[i] for i in chosen_fakes], FAKE_FEATURES), out / "fakes",
         {**fm, "name": f"{fm.get('name', 'fakes')}-hard", "subset": params, "corpus": fm_corpus,
          "parent_hash": fm.get("content_hash")})
    return {"per_challenge": per, "fakes": len(chosen_fakes), "originals": len(chosen_real), "out": str(out)}
