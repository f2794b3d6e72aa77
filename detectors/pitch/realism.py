"""Realism backends for Pitch: a MOS ``R`` per clip (1-5), used as ``1 - R/5`` in the score D.

- ``nisqa``: the official NISQA v2.0 model (``nisqa.tar``, MOS output of NISQA_DIM), run
  through the model code of the PyPI ``nisqa`` package on clips held in memory. The weights
  are CC BY-NC-SA 4.0 and never ship with this project: they are read from ``weights=``, from
  ``$BENCH_NISQA_WEIGHTS``, or from the cache that ``bench models pull nisqa`` fills.
- ``dnsmos``: Microsoft's DNSMOS P.835 (ONNX models shipped in the MIT-licensed
  ``speechmos`` package, offline, 16 kHz). It rates signal (SIG), background (BAK) and
  overall quality (OVRL); ``R`` is OVRL, the P.835 overall MOS.

Both take 16 kHz float32 mono clips, batch them, and are deterministic.

NISQA features, and how they match the reference. ``run_predict.py --mode predict_file``
loads the file with ``librosa.load(path, sr=ms_sr)`` and computes a 48-band Mel
spectrogram (10 ms hop, 20 ms window, up to ``ms_fmax`` = 20 kHz for nisqa.tar).
The checkpoints store ``ms_sr=None`` (the file's own rate; NISQA's training corpus is
48 kHz). This backend uses ``ms_sr=48000`` by default, as DESIGN.md prescribes: the 16 kHz clip
is resampled to 48 kHz with librosa's ``soxr_hq`` (what ``librosa.load`` does) and the
features are those the model was trained on. The result equals ``run_predict`` on a 16 kHz
file with ``ms_sr=48000`` (tests/test_realism.py). ``ms_sr=16000`` computes the features at
the clip's own rate instead and equals an unmodified ``run_predict`` on a 16 kHz file; on 32
simulated clips the two settings differ by 0.04 MOS on average (at most 0.37; r = 0.985).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import BenchError, PluginMeta, first_line
from bench.detectors.pitch.backends import REALISM, RealismBackend
from bench.models import assets as models

SR = 16_000
NISQA_PIP = "pip install --no-deps nisqa==2.0.post2"


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise BenchError(f"expected true/false, got {value!r}")
    return bool(value)


def _as_int(name: str, value: Any, minimum: int = 1) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise BenchError(f"realism parameter {name}={value!r}: expected an integer") from None
    if out < minimum:
        raise BenchError(f"realism parameter {name}={value!r}: must be >= {minimum}")
    return out


def _check_clips(clips: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for i, clip in enumerate(clips):
        x = np.asarray(clip, dtype=np.float32)
        if x.ndim != 1:
            raise BenchError(f"realism: clip {i} has shape {x.shape}; expected 1-D 16 kHz mono samples")
        if not np.isfinite(x).all():
            raise BenchError(f"realism: clip {i} contains NaN or infinite samples")
        out.append(x)
    return out


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


# --------------------------------------------------------------------------- NISQA

@contextlib.contextmanager
def _matplotlib_stub() -> Iterator[None]:
    """Let ``nisqa.NISQA_lib`` import without matplotlib (used only by its plotting helpers).

    The stub is visible only while the import runs; NISQA_lib keeps a reference that
    fails with a clear message if one of its plotting functions is ever called.
    """

    def missing(attr: str) -> Any:
        raise ImportError(f"matplotlib is not installed (nisqa plotting needs it: pip install matplotlib); "
                          f"matplotlib.pyplot.{attr} is unavailable")

    added = {}
    for name in ("matplotlib", "matplotlib.pyplot"):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__getattr__ = missing  # type: ignore[attr-defined]  # PEP 562
            added[name] = sys.modules[name] = mod
    if "matplotlib" in added and "matplotlib.pyplot" in added:
        added["matplotlib"].pyplot = added["matplotlib.pyplot"]  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name, mod in added.items():
            if sys.modules.get(name) is mod:
                del sys.modules[name]


def import_nisqa(module: str = "NISQA_lib") -> types.ModuleType:
    """Import ``nisqa.NISQA_lib`` (or ``nisqa.NISQA_model``) from the PyPI ``nisqa`` package.

    The package pins torch 2.2.1, so it is installed with ``--no-deps``. Its modules import
    pandas, tqdm, PyYAML (all present through ``datasets``), librosa, scipy, torch and
    matplotlib; matplotlib is replaced by a stub during the import when it is absent.
    seaborn and torchvision are not imported.
    """
    import importlib

    name = f"nisqa.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in ("nisqa", name):
            raise BenchError(f"the nisqa realism backend needs the nisqa package: {NISQA_PIP}") from None
        if not (exc.name or "").startswith("matplotlib"):
            raise BenchError(f"the nisqa package needs {exc.name}: pip install {exc.name}") from None
    with _matplotlib_stub():
        return importlib.import_module(name)


def nisqa_weight_candidates(weights: str | os.PathLike | None = None, variant: str = "nisqa") -> list[tuple[str, Path]]:
    """Where the NISQA weights are looked for, in order: (origin, path) pairs.

    ``weights`` and ``$BENCH_NISQA_WEIGHTS`` may name a ``.tar`` file or a folder holding
    ``{variant}.tar``; the last candidate is the ``bench models pull nisqa`` cache.
    """
    out: list[tuple[str, Path]] = []
    for origin, value in (("weights=", weights), (f"${models.NISQA_ENV}", os.environ.get(models.NISQA_ENV))):
        if value:
            p = Path(value).expanduser()
            out.append((origin, p / f"{variant}.tar" if p.is_dir() else p))
    out.append(("cache", models.model_dir("nisqa") / f"{variant}.tar"))
    return out


def resolve_nisqa_weights(weights: str | os.PathLike | None = None, variant: str = "nisqa") -> Path:
    """The first NISQA weights file that exists, else a one-line BenchError saying what was tried.

    An explicit ``weights=`` or ``$BENCH_NISQA_WEIGHTS`` that does not exist is an error
    (no silent fallback to another copy).
    """
    candidates = nisqa_weight_candidates(weights, variant)
    for origin, path in candidates:
        if path.is_file():
            return path
        if origin != "cache":
            break
    tried = ", ".join(f"{origin} {path}" for origin, path in candidates)
    raise BenchError(f"NISQA weights not found (tried {tried}); they are CC BY-NC-SA 4.0 and not shipped: "
                     f"run `bench models pull nisqa`, set {models.NISQA_ENV}=/path/to/{variant}.tar, "
                     f"or pass --param weights=/path/to/{variant}.tar")


# The checkpoint keys that configure the model (as in nisqa.NISQA_model.nisqaModel._loadModel).
_MODEL_KEYS = (
    "ms_seg_length", "ms_n_mels", "cnn_model", "cnn_c_out_1", "cnn_c_out_2", "cnn_c_out_3", "cnn_kernel_size",
    "cnn_dropout", "cnn_pool_1", "cnn_pool_2", "cnn_pool_3", "cnn_fc_out_h", "td", "td_sa_d_model",
    "td_sa_nhead", "td_sa_pos_enc", "td_sa_num_layers", "td_sa_h", "td_sa_dropout", "td_lstm_h",
    "td_lstm_num_layers", "td_lstm_dropout", "td_lstm_bidirectional", "td_2", "td_2_sa_d_model",
    "td_2_sa_nhead", "td_2_sa_pos_enc", "td_2_sa_num_layers", "td_2_sa_h", "td_2_sa_dropout", "td_2_lstm_h",
    "td_2_lstm_num_layers", "td_2_lstm_dropout", "td_2_lstm_bidirectional", "pool", "pool_att_h",
    "pool_att_dropout",
)


@REALISM.register(PluginMeta(
    name="nisqa", version="2.0", license="code MIT; weights CC BY-NC-SA 4.0 (user-supplied, not shipped)",
    description="NISQA v2.0 speech quality MOS (official weights, nisqa package model code), 16 kHz clips "
                "resampled to 48 kHz features.",
    reference="https://github.com/gabrielmittag/NISQA",
    parameters={"weights": None, "variant": "nisqa", "device": "cpu", "threads": 1, "batch_size": 16,
                "ms_sr": 48000, "clamp": True},
    devices=["cpu", "cuda"],
    assets=["NISQA weights nisqa.tar (CC BY-NC-SA 4.0): `bench models pull nisqa`, $BENCH_NISQA_WEIGHTS "
            "or --param weights=PATH"],
    offline=True,
))
class NISQARealism(RealismBackend):
    """NISQA MOS per clip.

    Config: ``weights`` (a .tar or a folder; default ``$BENCH_NISQA_WEIGHTS``, then the
    pull cache), ``variant`` (``nisqa`` = NISQA v2.0 quality, ``nisqa_mos_only``,
    ``nisqa_tts`` = TTS naturalness), ``device`` (cpu|cuda), ``threads`` (torch threads while
    scoring, default 1), ``batch_size``, ``ms_sr`` (feature sample rate, default 48000; see
    the module docstring), ``clamp`` (clip the MOS to [1, 5], default true; NISQA is a
    regression and rates heavily degraded audio below 1, e.g. 0.6-0.8 at 0 dB SNR).
    """

    def __init__(self, weights: str | None = None, variant: str = "nisqa", device: str = "cpu", threads: int = 1,
                 batch_size: int = 16, ms_sr: int = 48_000, clamp: bool = True) -> None:
        if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
            raise BenchError(f"nisqa: device={device!r}; expected cpu or cuda")
        super().__init__(weights=str(weights) if weights else None, variant=variant, device=device,
                         threads=_as_int("threads", threads), batch_size=_as_int("batch_size", batch_size),
                         ms_sr=_as_int("ms_sr", ms_sr, 8000), clamp=_as_bool(clamp))
        self._model = None
        self._args: dict[str, Any] = {}
        self._nl: types.ModuleType | None = None
        self.weights_path: Path | None = None
        self.weights_sha256: str | None = None

    def check(self) -> None:
        resolve_nisqa_weights(self.config["weights"], self.config["variant"])

    def load(self) -> None:
        if self._model is not None:
            return
        import torch

        path = resolve_nisqa_weights(self.config["weights"], self.config["variant"])
        nl = import_nisqa("NISQA_lib")
        device = self.config["device"]
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BenchError("nisqa: device=cuda but torch has no CUDA device here; use device=cpu")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            args, state = checkpoint["args"], checkpoint["model_state_dict"]
        except Exception as exc:
            raise BenchError(f"{path}: not a NISQA checkpoint ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]}); re-run `bench models pull nisqa`") from None
        kind = args.get("model")
        classes = {"NISQA": nl.NISQA, "NISQA_DIM": nl.NISQA_DIM}
        if kind not in classes:
            raise BenchError(f"{path}: model type {kind!r} is not supported (single-ended NISQA or NISQA_DIM only)")
        model = classes[kind](**{k: args[k] for k in _MODEL_KEYS})
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BenchError(f"{path}: weights do not fit a {kind} model ({first_line(exc)})") from None
        model.to(device).eval()
        self._args, self._nl, self._model = args, nl, model
        self.weights_path = path
        self.weights_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.weights_path is not None:
            out.update(weights=str(self.weights_path), weights_sha256=self.weights_sha256,
                       model=self._args.get("model"), output="mos_pred")
        return out

    # Features, as nisqa.NISQA_lib.get_librosa_melspec computes them from a file.
    def _melspec(self, clip: np.ndarray) -> np.ndarray:
        import librosa

        a = self._args
        sr = self.config["ms_sr"]
        y = clip if sr == SR else librosa.resample(clip, orig_sr=SR, target_sr=sr, res_type="soxr_hq")
        hop, win = int(sr * a["ms_hop_length"]), int(sr * a["ms_win_length"])
        shortest = (a["ms_seg_length"] - 1) * hop  # one segment of ms_seg_length frames (center=True)
        if len(y) < shortest:  # the official code refuses such clips; pad with silence instead
            y = np.pad(y, (0, shortest - len(y)))
        with warnings.catch_warnings():  # fmax above Nyquist when ms_sr=16000: empty bands, as in NISQA
            warnings.filterwarnings("ignore", message="Empty filters detected", category=UserWarning)
            s = librosa.feature.melspectrogram(
                y=y, sr=sr, S=None, n_fft=a["ms_n_fft"], hop_length=hop, win_length=win, window="hann", center=True,
                pad_mode="reflect", power=1.0, n_mels=a["ms_n_mels"], fmin=0.0, fmax=a["ms_fmax"], htk=False,
                norm="slaney")
        return librosa.amplitude_to_db(s, ref=1.0, amin=1e-4, top_db=80.0)

    def _segments(self, clip: np.ndarray, index: int):
        a = self._args
        spec = self._melspec(clip)
        x, n_wins = self._nl.segment_specs(f"clip {index}", spec, a["ms_seg_length"], a["ms_seg_hop_length"], None)
        if a.get("ms_max_segments") and int(n_wins) > a["ms_max_segments"]:
            raise BenchError(f"nisqa: clip {index} is {len(clip) / SR:.1f} s, longer than the model takes "
                             f"({a['ms_max_segments']} windows); split it into shorter clips")
        return x, int(n_wins)

    def score(self, clips: list[np.ndarray]) -> list[float]:
        import torch

        self.load()
        clips = _check_clips(clips)
        bs, dev = self.config["batch_size"], self.config["device"]
        out: list[float] = []
        with _torch_threads(self.config["threads"]), torch.inference_mode():
            for start in range(0, len(clips), bs):
                segs = [self._segments(c, start + i) for i, c in enumerate(clips[start:start + bs])]
                n_wins = torch.tensor([n for _, n in segs], dtype=torch.long)
                x = torch.zeros((len(segs), int(n_wins.max()), *segs[0][0].shape[1:]), dtype=torch.float32)
                for i, (seg, n) in enumerate(segs):
                    x[i, :n] = seg
                y = self._model(x.to(dev), n_wins.to(dev))[:, 0].float().cpu().numpy()  # column 0: MOS
                out.extend(float(v) for v in y)
        if self.config["clamp"]:
            out = [min(5.0, max(1.0, v)) for v in out]
        return out


# --------------------------------------------------------------------------- DNSMOS

DNSMOS_OUTPUTS = ("ovrl", "sig", "bak", "p808")


@REALISM.register(PluginMeta(
    name="dnsmos", version="speechmos-0.0.1.1", license="MIT",
    description="DNSMOS P.835 overall quality (OVRL) from the speechmos package's ONNX models; 16 kHz only.",
    reference="https://github.com/microsoft/DNS-Challenge/tree/master/DNSMOS",
    parameters={"output": "ovrl", "personalized": False, "threads": 1, "batch_size": 16, "clamp": True},
    devices=["cpu"], assets=[], offline=True,
))
class DNSMOSRealism(RealismBackend):
    """DNSMOS per clip, exactly as ``speechmos.dnsmos.run(clip, 16000)`` computes it.

    The clip is tiled to at least 9.01 s, cut into 9.01 s windows with a 1 s hop, each
    window rated by the P.835 model (SIG, BAK, OVRL, then the published polynomial
    calibration), and the windows averaged. ``output`` picks the value returned:
    ``ovrl`` (default: P.835 overall quality, the MOS analogue), ``sig``, ``bak``, or
    ``p808`` (the separate P.808 MOS model). Windows of all clips in a batch go through
    ONNX Runtime together; ``threads`` sets its intra-op threads (default 1).
    Samples outside [-1, 1] are clipped (speechmos rejects them); an empty clip is rated
    as one second of silence. ``max_windows`` caps the windows rated per clip: a clip
    shorter than 9 s is tiled, so its windows mostly re-rate the same audio, and
    ``max_windows=1`` (what pitch-lite uses) is several times faster than speechmos's
    exhaustive hop while rating the same sound.
    """

    def __init__(self, output: str = "ovrl", personalized: bool = False, threads: int = 1, batch_size: int = 16,
                 clamp: bool = True, max_windows: int | None = None) -> None:
        if output not in DNSMOS_OUTPUTS:
            raise BenchError(f"dnsmos: output={output!r}; expected one of {', '.join(DNSMOS_OUTPUTS)}")
        super().__init__(output=output, personalized=_as_bool(personalized), threads=_as_int("threads", threads),
                         batch_size=_as_int("batch_size", batch_size), clamp=_as_bool(clamp))
        if max_windows is not None:
            self.config["max_windows"] = _as_int("max_windows", max_windows)
        self._dnsmos = None
        self._primary = None
        self._p808 = None

    def load(self) -> None:
        if self._dnsmos is not None:
            return
        try:
            import onnxruntime as ort
            from speechmos import dnsmos
        except ImportError as exc:
            raise BenchError(f"the dnsmos realism backend needs speechmos, onnxruntime and librosa: "
                             f"pip install speechmos onnxruntime librosa ({exc})") from None
        root = Path(dnsmos.__file__).parent
        primary = root / ("pdnsmos_models" if self.config["personalized"] else "dnsmos_models") / "sig_bak_ovr.onnx"
        p808 = root / "dnsmos_models" / "model_v8.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.config["threads"]
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if self.config["output"] == "p808":  # one model or the other: P.808 is not part of the P.835 model
            self._p808 = ort.InferenceSession(str(p808), opts, providers=providers)
        else:
            self._primary = ort.InferenceSession(str(primary), opts, providers=providers)
        # speechmos's feature and calibration code, without its own (all-core) sessions
        self._dnsmos = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)
        self._module = dnsmos

    def _windows(self, clip: np.ndarray) -> list[np.ndarray]:
        """speechmos.dnsmos.DNSMOS.__call__'s tiling and windowing."""
        fs, length = SR, self._module.INPUT_LENGTH
        audio = np.clip(clip, -1.0, 1.0) if clip.size else np.zeros(SR, dtype=np.float32)
        len_samples = int(length * fs)
        while len(audio) < len_samples:
            audio = np.append(audio, audio)
        num_hops = int(np.floor(len(audio) / fs) - length) + 1
        out = []
        for idx in range(num_hops):
            seg = audio[int(idx * fs): int((idx + length) * fs)]
            if len(seg) >= len_samples:
                out.append(np.asarray(seg, dtype=np.float32))
        limit = self.config.get("max_windows")
        return out[:limit] if limit else out

    def _run(self, session, batch: list[np.ndarray]) -> np.ndarray:
        bs = self.config["batch_size"]
        return np.concatenate([session.run(None, {"input_1": np.stack(batch[i:i + bs])})[0]
                               for i in range(0, len(batch), bs)])

    def score(self, clips: list[np.ndarray]) -> list[float]:
        self.load()
        clips = _check_clips(clips)
        if not clips:
            return []
        windows = [self._windows(c) for c in clips]
        owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(windows)])
        flat = [w for ws in windows for w in ws]
        out_name = self.config["output"]
        if out_name == "p808":
            feats = [self._dnsmos.audio_melspec(audio=w[:-160]).astype(np.float32) for w in flat]
            values = self._run(self._p808, feats)[:, 0]
        else:
            raw = self._run(self._primary, flat)
            sig, bak, ovr = self._dnsmos.get_polyfit_val(raw[:, 0], raw[:, 1], raw[:, 2],
                                                         self.config["personalized"])
            values = {"sig": sig, "bak": bak, "ovrl": ovr}[out_name]
        out = [float(np.mean(values[owner == i])) for i in range(len(clips))]
        if self.config["clamp"]:
            out = [min(5.0, max(1.0, v)) for v in out]
        return out
