"""The evaluation's component cache: values are reused only for the same audio, with their CPU time."""

from __future__ import annotations

import numpy as np

from bench.api import Component, Sample
from bench.audio import encode_wav
from bench.runs.evaluate import compute_components


class Loudness(Component):
    """Peak level of each clip, counting how often it really computes."""

    name = "loudness"
    calls = 0

    def compute(self, samples):
        from bench.audio import load_entry

        Loudness.calls += len(samples)
        return [{"peak": float(np.abs(load_entry(s.audio)).max())} for s in samples]


def _samples(amplitude: float) -> list[Sample]:
    t = np.arange(16000) / 16000
    wav = encode_wav((amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    return [Sample(f"utt-{i}", 0, 0, "s1", "s1", "", "desktop", {"bytes": wav, "path": None}, None, 1.0)
            for i in range(3)]


def test_same_ids_other_audio_are_recomputed(tmp_path):
    cache = tmp_path / "cache"
    values, timings = compute_components([Loudness()], _samples(0.5), cache, workers=1)
    assert Loudness.calls == 3 and timings["loudness"]["audio_s"] == 3.0
    assert round(values["loudness"]["utt-0"]["peak"], 2) == 0.5

    again, timings_again = compute_components([Loudness()], _samples(0.5), cache, workers=1)
    assert Loudness.calls == 3  # all cached
    assert timings_again["loudness"]["cpu_s"] == timings["loudness"]["cpu_s"]  # with the time they took

    other, _ = compute_components([Loudness()], _samples(0.25), cache, workers=1)  # another corpus, same ids
    assert Loudness.calls == 6 and round(other["loudness"]["utt-0"]["peak"], 2) == 0.25
