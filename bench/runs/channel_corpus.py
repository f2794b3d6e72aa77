"""`bench data channel`: a corpus (and its fakes) through a telephone channel, into a new corpus of the same
schema. Originals and fakes go through the same chain; each recording's seed comes from the run's seed and
its id, so the output does not depend on the order or the number of workers. The output stays at the line's
rate (8 kHz audio for a narrowband line); the manifest records the channel, and `bench evaluate` names it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from bench.audio import encode_wav, load_entry
from bench.channel.profiles import Chain, apply, chain_for
from bench.data.corpus import CORPUS_FEATURES, FAKE_FEATURES, build_dataset, open_dataset, read_manifest, save
from bench.errors import BenchError
from bench.outdir import claim_output
from bench.parallel import run_items

WORK = ".channel-work"  #: finished recordings of an interrupted run, reused by the next one
BABBLE_TALKERS = 4


def seed_for(seed: int, utterance_id: str) -> int:
    """The recording's own seed: the run's seed and its id, hashed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{utterance_id}".encode()).digest()[:8], "little")


def _one(item: tuple[dict[str, Any], dict[str, Any], int, str, list[dict[str, Any]]]) -> str:
    """Pass one recording through the chain and write it as WAV into the work folder; returns the file."""
    entry, chain_dict, seed, target, others = item
    chain = Chain(**chain_dict)
    y, rate = apply(load_entry(entry), chain, seed, others=[load_entry(o) for o in others])
    tmp = Path(target).with_suffix(".tmp")
    tmp.write_bytes(encode_wav(y, rate))
    tmp.replace(target)
    return target


def _babble_sources(rows: list[dict[str, Any]], row: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Up to four originals of other speakers, chosen by the recording's seed (babble is made of them)."""
    pool = [r for r in rows if r["subject"] != row["subject"] and r.get("audio")]
    if not pool:
        return []
    rng = np.random.default_rng(seed)
    return [pool[i]["audio"] for i in rng.choice(len(pool), size=min(BABBLE_TALKERS, len(pool)), replace=False)]


def _check_source(path: Path, want_fakes: bool) -> tuple[Any, dict[str, Any]]:
    """The dataset and manifest at ``path``: the right kind, and not through a channel yet."""
    ds, manifest = open_dataset(path), read_manifest(path)
    if ("generator" in ds.column_names) != want_fakes:
        raise BenchError(f"{path}: is not a {'fakes' if want_fakes else 'corpus'} dataset (give the original "
                         "recordings as CORPUS and their fakes as --fakes)")
    done = manifest.get("channel")
    if done:
        which = done.get("profile") or "its own chain"
        raise BenchError(f"{path} has been through a telephone channel already ({which}); channels do not stack: "
                         "give the clean corpus")
    return ds, manifest


def channel_corpus(corpus: str | Path, out: str | Path, profile: str | None = None, *, fakes: str | Path | None = None,
                   parts: dict[str, Any] | None = None, seed: int = 0, workers: int = 1,
                   overwrite: bool = False) -> dict[str, Any]:
    """Write ``out/corpus`` (and ``out/fakes``) through the channel; returns a summary. Everything is checked
    before the first write; an interrupted run resumes from the recordings it finished."""
    chain = chain_for(profile, **(parts or {}))
    if profile is None and chain == Chain():
        raise BenchError("give a channel: --profile NAME, or its parts (--codec, --loss, --noise...)")
    corpus, out = Path(corpus), Path(out)
    sources = [("corpus", corpus, *_check_source(corpus, False))]
    if fakes is not None:
        sources.append(("fakes", Path(fakes), *_check_source(Path(fakes), True)))
        want = (sources[1][3].get("corpus") or {}).get("content_hash")
        if want and sources[0][3].get("content_hash") and want != sources[0][3]["content_hash"]:
            raise BenchError(f"{fakes} was generated from another corpus (hash {want}, {corpus} has "
                             f"{sources[0][3]['content_hash']})")
    params = {"profile": profile, "chain": chain.to_dict(), "seed": seed,
              "inputs": {name: m.get("content_hash") or str(p.resolve()) for name, p, _, m in sources}}
    inputs = [p for _, p, _, _ in sources]
    claim_output(out, "data channel", params, inputs=inputs, overwrite=overwrite)
    originals = sources[0][2].to_list()
    summary: dict[str, Any] = {"profile": profile, "rate": chain.rate, "out": str(out)}
    new_hash = None
    for name, path, ds, manifest in sources:
        rows = ds.to_list() if name == "fakes" else originals
        work = out / WORK / name
        work.mkdir(parents=True, exist_ok=True)
        todo, files = [], {}
        for r in rows:
            if not r.get("audio") or (name == "fakes" and r.get("status") not in (None, "ok")):
                continue
            s = seed_for(seed, r["utterance_id"])
            target = work / f"{hashlib.sha256(r['utterance_id'].encode()).hexdigest()[:24]}.wav"
            files[r["utterance_id"]] = target
            if not target.is_file():
                others = _babble_sources(originals, r, s) if chain.noise == "babble" else []
                todo.append((r["audio"], chain.to_dict(), s, str(target), others))
        for outcome in run_items(_one, todo, workers=workers, description=f"{name} through the channel"):
            if outcome.error is not None and not outcome.interrupted:
                raise BenchError(f"{path}: a recording could not go through the channel: {outcome.error}")
        out_rows = [{**r, "audio": {"bytes": files[r["utterance_id"]].read_bytes(), "path": None},
                     "sample_rate": chain.rate} if r["utterance_id"] in files else r for r in rows]
        record = {"profile": profile, "chain": chain.to_dict(), "seed": seed,
                  "parent_hash": manifest.get("content_hash")}
        new_manifest = {**manifest, "name": f"{manifest.get('name', name)}-{profile or 'channel'}", "channel": record}
        if name == "fakes":
            new_manifest["corpus"] = {**(manifest.get("corpus") or {}), "content_hash": new_hash}
        saved = save(build_dataset(out_rows, FAKE_FEATURES if name == "fakes" else CORPUS_FEATURES), out / name,
                     new_manifest)
        new_hash = saved["content_hash"] if name == "corpus" else new_hash
        summary[name] = {"rows": len(out_rows), "through_channel": len(files), "content_hash": saved["content_hash"]}
    shutil.rmtree(out / WORK, ignore_errors=True)
    return summary
