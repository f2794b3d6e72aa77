"""The Pitch detector: D = ((1 - C) + WIL + (1 - R/5)) / 3 per sample, as a bench detector.

Profiles pick the backends:

* ``pitch-lite`` (offline defaults): faster-whisper with the bundled Whisper tiny.en,
  DNSMOS (speechmos) for realism, resemblyzer for speaker match, log-mel CNN compliance
  classifiers (trained on the corpus's originals when none are given).
* ``pitch`` (the paper's components where their assets are present): NISQA realism when
  its weights are found (else DNSMOS, recorded in the result's notes), WhisperX when it is
  installed (else faster-whisper), and whatever compliance classifiers ``--compliance``
  points at (e.g. a wav2vec2 backbone as in the paper).

Where a term does not apply, D averages the terms that do: #0 has no challenge-compliance
classifier, #16 (non-verbal) has no content score. Speaker match is computed and kept per
sample (it drives `bench data subset --hard`), not folded into D, as in the paper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import DETECTORS, BenchError, Component, Detector, FatalError, PluginMeta, Sample, first_line
from bench.audio import load_entry
from bench.challenges.scripts import PACKAGED, script_set, scripts
from bench.challenges.taxonomy import get as get_challenge

_MODELS: dict[str, Any] = {}


def _cached(key: str, factory):
    if key not in _MODELS:
        _MODELS[key] = factory()
    return _MODELS[key]


def _model(key: str, factory):
    """A model loaded once per process; a model that cannot load stops the evaluation (every batch would fail)."""
    try:
        return _cached(key, factory)
    except Exception as exc:
        raise FatalError(f"{key.split(':', 1)[0]} model could not load: {first_line(exc, 400)}") from None


def _language_hint(sample: Sample) -> str | None:
    if get_challenge(sample.challenge).content != "foreign_wer":
        return "en"
    for s in (scripts(), *(script_set(name) for name in PACKAGED)):  # the set in use first, then the others
        for f in s.foreign:
            if f.text == sample.script:  # a romanised sentence of another script: let the model detect it
                return None if f.transliterated else f.espeak.split("-")[0]
    return None


class _BackendComponent(Component):
    """A component backed by one registered backend (its config: ``backend`` plus the backend's settings)."""

    registry_name: str

    def _registry(self):
        from bench.detectors.pitch import backends

        return getattr(backends, self.registry_name)

    def backend(self):
        """The backend, created and loaded once per process (a failure to load stops the run)."""
        cfg = dict(self.config)
        return _model(f"{self.name}:{sorted(cfg.items())}",
                      lambda: _loaded(self._registry().create(cfg.pop("backend"), **cfg)))

    def check(self) -> None:
        """The backend exists, takes these settings and finds its assets (nothing is loaded)."""
        cfg = dict(self.config)
        self._registry().create(cfg.pop("backend"), **cfg).check()

    def load(self) -> None:
        self.backend()


class ASRComponent(_BackendComponent):
    name = "asr"
    registry_name = "ASR"

    def compute(self, samples: list[Sample]) -> list[dict[str, Any]]:
        result = self.backend().transcribe([load_entry(s.audio) for s in samples],
                                           [_language_hint(s) for s in samples])
        return [{"text": t.text, "words": len(t.words)} for t in result]


class RealismComponent(_BackendComponent):
    name = "realism"
    registry_name = "REALISM"

    def compute(self, samples: list[Sample]) -> list[dict[str, Any]]:
        return [{"mos": float(m)} for m in self.backend().score([load_entry(s.audio) for s in samples])]


class SpeakerComponent(_BackendComponent):
    name = "speaker"
    registry_name = "SPEAKER"

    def compute(self, samples: list[Sample]) -> list[dict[str, Any]]:
        backend = self.backend()
        have = [s for s in samples if s.match_audio is not None]
        a = backend.embed([load_entry(s.audio) for s in have])
        b = np.stack([self._reference(backend, s.match_audio) for s in have]) if have else a
        sims = dict(zip((s.utterance_id for s in have), (float(x) for x in np.sum(a * b, axis=1)), strict=True))
        return [{"similarity": sims.get(s.utterance_id)} for s in samples]

    @staticmethod
    def _reference(backend, entry: dict) -> np.ndarray:
        """Embed a speaker-match reference once per process (a few #0 clips serve every sample)."""
        key = "ref:" + hashlib.sha1(entry.get("bytes") or (entry.get("path") or "").encode()).hexdigest()
        return _cached(key, lambda: backend.embed([load_entry(entry)])[0])


class ComplianceComponent(Component):
    name = "compliance"

    def group_key(self, sample: Sample) -> Any:
        return sample.challenge

    def model(self):
        from bench.detectors.pitch.compliance import ComplianceModel

        return _model(f"compliance:{self.config['path']}", lambda: ComplianceModel.load(self.config["path"]))

    def load(self) -> None:
        self.model()

    def compute(self, samples: list[Sample]) -> list[dict[str, Any]]:
        model = self.model()
        challenge = samples[0].challenge
        if not model.has(challenge):
            return [{"p": None} for _ in samples]
        probs = model.predict([load_entry(s.audio) for s in samples], challenge)
        return [{"p": float(p)} for p in probs]


def _loaded(backend):
    backend.load()
    return backend


def degradation(c: float | None, wil: float | None, mos: float | None) -> tuple[float, int]:
    """D over the terms that apply: (1 - C), WIL, (1 - R/5); returns (D, number of terms)."""
    terms = []
    if c is not None:
        terms.append(1.0 - c)
    if wil is not None:
        terms.append(wil)
    if mos is not None:
        terms.append(1.0 - min(max(mos, 0.0), 5.0) / 5.0)
    return (float(np.mean(terms)) if terms else 0.5), len(terms)


#: pitch-lite's default ASR and realism settings per recipe (``--param recipe=1.0`` restores the first).
#: 1.0: a 10 s encoder window and greedy search, one clip at a time (about 5x faster on CPU than Whisper's
#: 30 s window with beam 5), and DNSMOS P.835 OVRL on one window. 1.1 (issue #26, BENCHMARKS.md "pitch-lite
#: 1.1: past 15x"): the same window and search, decoded 4 clips at a time without timestamp tokens or word
#: alignment, new tokens capped at 12 per second of speech (a looping decode stops there, not at 224), and
#: DNSMOS's P.808 model on one window, about 15x cheaper than P.835. The pitch profile keeps Whisper's own
#: decoding.
RECIPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "1.0": ({"backend": "faster-whisper", "window_s": 10.0, "beam_size": 1},
            {"backend": "dnsmos", "max_windows": 1}),
    "1.1": ({"backend": "faster-whisper", "window_s": 10.0, "beam_size": 1, "batch_size": 4, "timestamps": False,
             "word_timestamps": False, "max_tokens_per_s": 12.0},
            {"backend": "dnsmos", "max_windows": 1, "output": "p808"}),
}


class PitchDetector(Detector):
    """Challenge compliance + content compliance + realism, combined into degradation D."""

    profile = "pitch-lite"

    def __init__(self, compliance: str | None = None, asr: str | None = None, asr_model: str | None = None,
                 realism: str | None = None, nisqa_weights: str | None = None, speaker: str | None = None,
                 train_epochs: int = 8, train_folds: int = 2, recipe: str = "1.1") -> None:
        if train_epochs < 1 or train_folds < 2:
            raise BenchError(f"{self.meta.name}: train_epochs must be >= 1 and train_folds >= 2 "
                             f"(got {train_epochs} and {train_folds})")
        if str(recipe) not in RECIPES:
            raise BenchError(f"{self.meta.name}: recipe={recipe!r}; expected one of {', '.join(RECIPES)}")
        super().__init__(compliance=compliance, asr=asr, asr_model=asr_model, realism=realism,
                         nisqa_weights=nisqa_weights, speaker=speaker, train_epochs=train_epochs,
                         train_folds=train_folds, recipe=str(recipe))
        self.notes: list[str] = []
        self._compliance_dir: str | None = compliance
        self._train_speakers: set[str] | None = None
        self._choose_backends()

    def _choose_backends(self) -> None:
        cfg = self.config
        asr, realism = RECIPES[cfg["recipe"]]
        self.asr = {"backend": cfg["asr"]} if cfg["asr"] else dict(asr)
        if cfg["asr_model"]:
            self.asr["model"] = cfg["asr_model"]
        self.realism = {"backend": cfg["realism"]} if cfg["realism"] else dict(realism)
        if cfg["realism"] == "nisqa" and cfg["nisqa_weights"]:
            self.realism["weights"] = cfg["nisqa_weights"]
        self.speaker = {"backend": cfg["speaker"] or "resemblyzer"}

    def check(self, corpus_dir: str) -> None:
        """Backends exist with these settings and find their assets; given classifiers can be opened, or
        the corpus can train them."""
        for component in (ASRComponent(**self.asr), RealismComponent(**self.realism),
                          SpeakerComponent(**self.speaker)):
            component.check()
        from bench.detectors.pitch.compliance import ComplianceModel, plan_training

        if self._compliance_dir is not None:
            ComplianceModel.load(self._compliance_dir).verify()
        else:
            plan_training(corpus_dir, None, self._train_config(corpus_dir).resolved())

    def _train_config(self, corpus_dir: str):
        """Classifiers trained when none are given: half the speakers are held out, so the evaluation has
        unseen speakers to score."""
        from bench.data.corpus import open_dataset
        from bench.detectors.pitch.compliance import TrainConfig

        speakers = len(set(open_dataset(corpus_dir)["subject"]))
        return TrainConfig(epochs=self.config["train_epochs"], folds=self.config["train_folds"],
                           test_speakers=max(1, speakers // 2))

    def prepare(self, corpus_dir: str, workdir: str) -> None:
        from bench.detectors.pitch.compliance import ComplianceModel, train_compliance

        if self._compliance_dir is None:
            target = Path(workdir) / "compliance"
            self.notes.append(f"compliance classifiers trained on the corpus originals into {target} "
                              "(pass --compliance to reuse trained ones)")
            train_compliance(corpus_dir, target, config=self._train_config(corpus_dir))
            self._compliance_dir = str(target)
        model = ComplianceModel.load(self._compliance_dir)
        speakers = model.meta.get("speakers", {})
        self._train_speakers = set(speakers.get("train", [])) or None
        self.compliance_backbone = model.meta.get("config", {}).get("backbone")

    def components(self) -> list[Component]:
        if self._compliance_dir is None:
            raise BenchError("internal: prepare() must run before components()")
        # the classifiers are identified by their metadata's hash, so a moved folder keeps its cache
        meta = Path(self._compliance_dir) / "compliance.json"
        fingerprint = hashlib.sha256(meta.read_bytes()).hexdigest()[:16]
        return [ASRComponent(**self.asr), RealismComponent(**self.realism), SpeakerComponent(**self.speaker),
                ComplianceComponent(path=str(self._compliance_dir), fingerprint=fingerprint)]

    def call_components(self) -> list[Component]:
        """One call with no corpus: ASR and realism, plus challenge compliance only when classifiers were given
        (``compliance``); speaker match needs a reference recording, so it is left out."""
        parts: list[Component] = [ASRComponent(**self.asr), RealismComponent(**self.realism)]
        if self._compliance_dir is not None:
            meta = Path(self._compliance_dir) / "compliance.json"
            fingerprint = hashlib.sha256(meta.read_bytes()).hexdigest()[:16]
            parts.append(ComplianceComponent(path=str(self._compliance_dir), fingerprint=fingerprint))
        return parts

    def combine(self, values: dict[str, Any], sample: Sample) -> dict[str, Any]:
        from bench.detectors.pitch.content import content_score

        ch = get_challenge(sample.challenge)
        wil = content_score(ch.content, sample.script, values["asr"]["text"])
        c = (values.get("compliance") or {}).get("p")
        mos = values["realism"]["mos"]
        d, n = degradation(c, wil, mos)
        return {"content": wil, "score": d, "degradation": d, "terms": n}

    def rationale(self, values: dict[str, Any], combined: dict[str, Any], sample: Sample) -> list[dict[str, Any]]:
        """Pitch's three criteria (§5.3's explanations): the task was not performed (compliance probability below
        0.5), the words did not match the script (WIL above 0.5), vocal distortion (MOS below 3, 'fair')."""
        out = []
        c = (values.get("compliance") or {}).get("p")
        ch = get_challenge(sample.challenge)
        if c is not None:
            out.append({"reason": "the task was not performed", "value": c, "flagged": c < 0.5,
                        "detail": f"challenge-compliance probability {c:.2f} for '{ch.name}' (below 0.5 flags)"})
        wil = combined.get("content")
        if wil is not None:
            out.append({"reason": "the words did not match the script", "value": wil, "flagged": wil > 0.5,
                        "detail": f"{'WER' if ch.content == 'foreign_wer' else 'WIL'} {wil:.2f} against the script "
                                  f"(above 0.5 flags); heard: \"{values['asr']['text'].strip()}\""})
        mos = values["realism"]["mos"]
        out.append({"reason": "vocal distortion", "value": mos, "flagged": mos < 3.0,
                    "detail": f"realism MOS {mos:.2f} of 5 (below 3, 'fair', flags)"})
        return out

    def scope_speakers(self) -> set[str] | None:
        return self._train_speakers


PITCH_TRAINED_ON = ("its challenge-compliance classifiers: the corpus's original recordings of the training "
                    "speakers (bench train compliance); ASR, realism and speaker models are pretrained")
PITCH_SCORE = {"polarity": "higher = more likely fake", "scale": "Pitch's degradation D = ((1 - C) + WIL + (1 - R/5)) "
               "/ 3, in [0, 1]", "threshold": None, "threshold_source": "none fixed: bench evaluate reports the EER "
               "threshold (or takes --threshold)"}


@DETECTORS.register(PluginMeta(
    name="pitch-lite", version="1.1", license="Apache-2.0 (bench); backends: MIT/Apache-2.0",
    description="Pitch's machine evaluation with offline defaults: faster-whisper tiny.en (WIL), DNSMOS P.808 "
                "(realism), log-mel CNN compliance classifiers, resemblyzer speaker match.",
    reference="Mittal et al., Pitch (arXiv:2402.18085)", paper_name="pitch",
    parameters={"compliance": None, "asr": "faster-whisper", "realism": "dnsmos", "speaker": "resemblyzer",
                "recipe": "1.1 (1.0: per-clip decoding with timestamps, DNSMOS P.835 OVRL)"},
    devices=["cpu"], offline=True, trained_on=PITCH_TRAINED_ON, score=PITCH_SCORE,
))
class PitchLite(PitchDetector):
    profile = "pitch-lite"


@DETECTORS.register(PluginMeta(
    name="pitch", version="1.0", license="Apache-2.0 (bench); NISQA weights CC BY-NC-SA 4.0 (user-supplied)",
    description="Pitch's machine evaluation with the paper's components where their assets are present: NISQA "
                "realism, WhisperX ASR, the given compliance classifiers; falls back to pitch-lite backends.",
    reference="Mittal et al., Pitch (arXiv:2402.18085)", paper_name="pitch",
    parameters={"compliance": None, "nisqa_weights": None}, devices=["cpu", "cuda"],
    assets=["NISQA weights (bench models pull nisqa)"], offline=True, trained_on=PITCH_TRAINED_ON, score=PITCH_SCORE,
))
class PitchFull(PitchDetector):
    profile = "pitch"

    def _choose_backends(self) -> None:
        super()._choose_backends()
        cfg = self.config
        if cfg["asr"] is None:
            self.asr = {"backend": "faster-whisper"}  # Whisper's own 30 s window and beam 5, as in the paper
        if cfg["realism"] is None:
            from bench.detectors.pitch.realism import resolve_nisqa_weights

            self.realism = dict(RECIPES["1.0"][1])  # NISQA's stand-in: the overall MOS (P.835 OVRL)
            try:
                weights = resolve_nisqa_weights(cfg["nisqa_weights"])
                self.realism = {"backend": "nisqa", "weights": str(weights)}
            except BenchError as exc:
                self.notes.append(f"NISQA weights not found, realism falls back to DNSMOS ({exc})")
        if cfg["asr"] is None:
            try:
                import whisperx  # noqa: F401

                self.asr = {"backend": "whisperx"}
            except Exception:
                self.notes.append("WhisperX is not installed; ASR uses faster-whisper (the same Whisper models)")
