"""Channel-matched training: training crops passed through telephone channels (``bench train --augment``)."""

from __future__ import annotations

import numpy as np

from bench.audio import resample
from bench.channel.profiles import apply, chain_for
from bench.errors import BenchError

#: the control "profile": the copy is the crop itself, so a run with ``--augment clean`` takes the same optimisation
#: steps as one with channel profiles and differs from it only in what the channel does to the copies
CLEAN_COPY = "clean"


def augment_profiles(text: str) -> list[str]:
    """``"pstn-g711u,mobile-amr-nb"`` as checked profile names ([] for ""; ``clean`` is the unchanged-copy
    control); one-line BenchError otherwise."""
    names = [p.strip() for p in str(text or "").split(",") if p.strip()]
    if len(set(names)) != len(names):
        raise BenchError(f"--augment names a profile twice: {text}")
    for name in names:
        if name == CLEAN_COPY:
            continue
        chain_for(name)  # an unknown profile or a codec missing from this PyAV build: one line, before training
    return names


def through_channels(crops: np.ndarray, profiles: list[str], rng: np.random.Generator,
                     sr: int = 16000) -> np.ndarray:
    """Each (16 kHz) crop of ``crops`` (N, samples) through one profile drawn for it, back at ``sr`` and cut or
    zero-padded to the crop's length: the channel copies that join the clean crops in training (``clean``: the crop
    unchanged)."""
    if not profiles:
        raise BenchError("no channel profiles to augment with")
    out = np.empty_like(crops)
    chains = [None if p == CLEAN_COPY else chain_for(p) for p in profiles]
    picks = rng.integers(len(chains), size=len(crops))
    seeds = rng.integers(0, 2**63 - 1, size=len(crops))
    for i, (crop, k, seed) in enumerate(zip(crops, picks, seeds, strict=True)):
        if chains[k] is None:
            out[i] = crop
            continue
        y, rate = apply(crop, chains[k], int(seed), sr=sr)
        y = resample(y, rate, sr)[:crops.shape[1]]
        out[i] = np.pad(y, (0, crops.shape[1] - len(y)))
    return out
