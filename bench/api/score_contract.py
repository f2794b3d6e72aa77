"""The scoring contract every detector keeps, in batch, on one file and (next) on a stream.

- **Polarity**: a score is higher when the audio is more likely fake, for every detector,
  everywhere (results, scores.parquet, ``bench score``, the edge server). A detector whose
  model says the opposite (AASIST's official output: class 1 = bona fide) flips it inside
  the detector, never in the caller.
- **Threshold**: each detector documents the threshold its scores are meant to be cut at
  (:class:`ScoreSemantics`); ``bench evaluate`` also reports the EER threshold it measured.
- **Input length**: :class:`InputSpec` says what a model takes (a fixed window of N samples,
  or any length) and what is done with audio that is shorter (tiled, as the ASVspoof
  recipes' data loaders do, or zero-padded) or longer (scored in consecutive windows whose
  scores are averaged, or cropped to the first window, as the official recipes do).
  :func:`windows` applies it, and the rule travels with the model card.
- **Protocols**: bench scores every model one way (its card's input rule, the fake logit minus
  the bona fide logit). A published checkpoint's card may also declare the official
  evaluation's rules (:class:`ScoreProtocol`: input rule, score rule, network settings), which
  ``--protocol NAME`` selects, so that bench reproduces the official scores file for file
  (sign flipped where needed, so that the polarity above holds).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

from bench import SAMPLE_RATE
from bench.errors import BenchError

POLARITY = "higher = more likely fake"


@dataclass(frozen=True)
class InputSpec:
    """What a model takes: 16 kHz mono, a fixed window of ``samples`` (None: any length)."""

    samples: int | None = None
    sample_rate: int = SAMPLE_RATE
    shorter: Literal["tile", "pad"] = "tile"
    longer: Literal["windows", "crop"] = "windows"
    min_samples: int = 400  # 25 ms: anything shorter has no frame to analyse

    def describe(self) -> str:
        """One sentence a model card and ``bench score`` print."""
        if self.samples is None:
            return f"any length at {self.sample_rate} Hz (at least {self.min_samples} samples)"
        sec = self.samples / self.sample_rate
        short = "repeated (tiled) to fill" if self.shorter == "tile" else "zero-padded to"
        long = ("scored in consecutive windows (the last one ends at the end of the audio) and the window "
                "scores averaged") if self.longer == "windows" else "cropped to its first window"
        return (f"{self.samples} samples ({sec:.2f} s) at {self.sample_rate} Hz; shorter audio is {short} the "
                f"window, longer audio is {long}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> InputSpec:
        return cls(**(d or {}))

    @classmethod
    def checked(cls, d: dict[str, Any]) -> InputSpec:
        """The spec a model card declares, checked before anything is allocated from it: known keys, a sample
        rate of 4-384 kHz, a window of at most :data:`MAX_WINDOW_SECONDS`, known fill rules; ValueError
        (one line) otherwise."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"input: unknown key(s) {', '.join(unknown)}")
        spec = cls(**d)
        sr = spec.sample_rate
        if not (_is_int(sr) and 4_000 <= sr <= 384_000):
            raise ValueError(f"input: sample_rate {sr!r} is not 4000-384000 Hz")
        longest = int(MAX_WINDOW_SECONDS * sr)
        if spec.samples is not None and not (_is_int(spec.samples) and 1 <= spec.samples <= longest):
            raise ValueError(f"input: samples {spec.samples!r} is not 1-{longest} ({MAX_WINDOW_SECONDS:g} s)")
        if not (_is_int(spec.min_samples) and 1 <= spec.min_samples <= (spec.samples or longest)):
            raise ValueError(f"input: min_samples {spec.min_samples!r} is out of range")
        if spec.shorter not in ("tile", "pad") or spec.longer not in ("windows", "crop"):
            raise ValueError("input: shorter must be tile or pad, longer windows or crop")
        return spec


MAX_WINDOW_SECONDS = 600.0
"""The longest window a model card may declare (a guard against cards that would allocate gigabytes)."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def windows(x: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The (k, N) float32 windows a fixed-length model scores for waveform ``x`` (k = 1 for any-length models,
    which get the audio as it is, padded to ``min_samples`` if needed)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if len(x) == 0:
        x = np.zeros(1, np.float32)
    n = spec.samples
    if n is None:
        if len(x) < spec.min_samples:
            x = _fill(x, spec.min_samples, spec.shorter)
        return x[None, :]
    if len(x) == n:
        return x[None, :]
    if len(x) < n:
        return _fill(x, n, spec.shorter)[None, :]
    if spec.longer == "crop":
        return x[None, :n]
    starts = list(range(0, len(x) - n + 1, n))
    if starts[-1] + n < len(x):
        starts.append(len(x) - n)
    return np.stack([x[s:s + n] for s in starts])


def _fill(x: np.ndarray, n: int, how: str) -> np.ndarray:
    if how == "tile":
        return np.tile(x, int(np.ceil(n / len(x))))[:n]
    return np.pad(x, (0, n - len(x)))


def training_crop(x: np.ndarray, spec: InputSpec, default_samples: int, rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """One training window: the model's window length (or ``default_samples`` for any-length models), a
    random offset when ``rng`` is given, else centred; shorter audio is filled as the spec says."""
    n = spec.samples or default_samples
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if len(x) <= n:
        return _fill(x if len(x) else np.zeros(1, np.float32), n, spec.shorter)
    start = int(rng.integers(0, len(x) - n + 1)) if rng is not None else (len(x) - n) // 2
    return x[start:start + n]


@dataclass(frozen=True)
class ScoreSemantics:
    """What a detector's score means, for people: its scale, the threshold and where it comes from."""

    scale: str  # e.g. "log-odds of fake vs bona fide (logit difference)"
    threshold: float
    threshold_source: str  # e.g. "0: the classes' posterior is equal under the training priors"
    llr: bool = False  # read as a log-likelihood ratio (actDCF and Cllr are reported only then)

    def verdict(self, score: float) -> str:
        """``fake`` or ``bona fide``; a score that is not a finite number is an error, never a verdict (a NaN
        compares False with every threshold, and must not pass as bona fide)."""
        check_finite_scores(score, "a score")
        return "fake" if score >= self.threshold else "bona fide"

    def to_dict(self) -> dict[str, Any]:
        return {"polarity": POLARITY, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoreSemantics:
        threshold = float(d["threshold"])
        if not math.isfinite(threshold):
            raise ValueError(f"threshold {d['threshold']!r} is not a finite number")
        return cls(scale=str(d["scale"]), threshold=threshold, threshold_source=str(d["threshold_source"]),
                   llr=bool(d.get("llr", False)))


class NonFiniteScore(BenchError):
    """A model produced a NaN or infinite score: an error, never a verdict."""


def check_finite_scores(scores: Any, what: str) -> None:
    """BenchError unless every score in ``scores`` is a finite number. A model whose weights produce NaN or
    infinity (a corrupt or hostile model file) must stop the run, never yield a verdict."""
    a = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(a).all():
        bad = a[~np.isfinite(a)].reshape(-1)[0]
        raise NonFiniteScore(f"{what} is {bad} (not a finite number): the model's weights are corrupt or not a valid "
                         "model; no verdict is given")


LOG_ODDS = ScoreSemantics(
    scale="log-odds of fake against bona fide: the model's fake logit minus its bona fide logit, averaged over "
          "windows", threshold=0.0,
    threshold_source="0: the two classes are equally likely under the training priors (training is class-"
                     "weighted, so the priors are balanced); bench evaluate also reports the EER threshold",
    llr=True)  # balanced training priors: the posterior log-odds are the log-likelihood ratio


BENCH_PROTOCOL = "bench"
"""The protocol every model has: its card's input rule and semantics, the score rule ``logit-difference``."""

SCORE_RULES = {
    "logit-difference": "the fake logit minus the bona fide logit",
    "negated-bona-fide-logit": "minus the bona fide logit (an official evaluation that writes the bona fide logit "
                               "as the score: official score = -bench score)",
}
"""How a two-class network's logits become a score (higher = more likely fake)."""

_PROTOCOL_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
_MAX_NETWORK_SETTINGS = 16


@dataclass(frozen=True)
class ScoreProtocol:
    """One way of scoring with a model: the input rule, the score rule (:data:`SCORE_RULES`), the network
    settings that override the card's ``params`` (e.g. how fixed filters are built; they never change the
    weights' names or shapes) and what the score means. A card declares any beyond :data:`BENCH_PROTOCOL` in
    its ``protocols``."""

    name: str
    input: InputSpec
    semantics: ScoreSemantics
    score: str = "logit-difference"
    network: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The card's entry (without the name, which is its key)."""
        return {"description": self.description, "input": self.input.to_dict(), "score": self.score,
                "network": dict(self.network), "semantics": self.semantics.to_dict()}

    def summary(self) -> str:
        """One line for ``bench score`` and a result: the protocol, its score rule and its input rule."""
        return f"protocol {self.name}: score = {SCORE_RULES[self.score]}; input: {self.input.describe()}"

    @classmethod
    def checked(cls, name: str, d: Any) -> ScoreProtocol:
        """The protocol ``name`` a card declares, checked before anything trusts it; ValueError (one line)
        otherwise."""
        if not isinstance(name, str) or not _PROTOCOL_NAME.fullmatch(name) or name == BENCH_PROTOCOL:
            raise ValueError(f"protocols: {name!r} is not a protocol name (lower-case letters, digits, '-'; "
                             f"not {BENCH_PROTOCOL!r}, which every model has)")
        if not isinstance(d, dict):
            raise ValueError(f"protocols.{name}: not an object")
        unknown = sorted(set(d) - {"description", "input", "score", "network", "semantics"})
        if unknown:
            raise ValueError(f"protocols.{name}: unknown key(s) {', '.join(unknown)}")
        if d.get("score", "logit-difference") not in SCORE_RULES:
            raise ValueError(f"protocols.{name}: score must be one of {', '.join(SCORE_RULES)}")
        network = d.get("network") or {}
        if not isinstance(network, dict) or len(network) > _MAX_NETWORK_SETTINGS or not all(
                isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in network.items()):
            raise ValueError(f"protocols.{name}: network must map at most {_MAX_NETWORK_SETTINGS} setting names "
                             "to plain values")
        if not isinstance(d.get("input"), dict) or not isinstance(d.get("semantics"), dict):
            raise ValueError(f"protocols.{name}: needs an input rule and semantics")
        try:
            spec = InputSpec.checked(d["input"])
            semantics = ScoreSemantics.from_dict(d["semantics"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"protocols.{name}: {exc}") from None
        return cls(name=name, input=spec, semantics=semantics, score=d.get("score", "logit-difference"),
                   network=dict(network), description=str(d.get("description", "")))
