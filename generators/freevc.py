"""FreeVC (Li, Tang & Zhao, ICASSP 2023) as a bench generator, running the official code.

FreeVC has no packaging: this adapter imports the modules of a git checkout of
https://github.com/OlaWod/FreeVC (``models``, ``wavlm``, ``mel_processing`` and
``speaker_encoder.voice_encoder``) and runs inference the way its ``convert.py`` does:

- target: the reference is trimmed with ``librosa.effects.trim(top_db=20)``; FreeVC
  (``use_spk: true``) embeds it with the pretrained speaker encoder
  (``SpeakerEncoder.embed_utterance``), FreeVC-s (``use_spk: false``) keeps its mel
  spectrogram (``mel_spectrogram_torch``) for the model's own speaker encoder;
- source: WavLM-Large content features (``utils.get_content``:
  ``cmodel.extract_features(wav)[0].transpose(1, 2)``), then ``SynthesizerTrn.infer``.

``utils.py`` is not imported (it imports torchvision, which has no build beside CPU torch
2.13): the JSON config and the checkpoints are read here, with the same strict key check
``utils.load_checkpoint(..., strict=True)`` makes in ``convert.py``.

Two deliberate, documented differences from ``convert.py``:

- the source is zero-padded by 40 samples on the left and up to a whole number of 20 ms
  frames on the right, and the output cut back to the source's length, so that output
  sample ``n`` lines up with input sample ``n`` (WavLM's first frame spans 25 ms, the
  decoder emits 20 ms per frame; unpadded, the output is up to 25 ms short and 2.5 ms
  early);
- the model's sampling noise (the prior encoder ``enc_p`` draws ``z = m + eps * exp(logs)``)
  is drawn after seeding torch with ``seed`` inside ``torch.random.fork_rng`` (the caller's
  random state is left as it was) on every call, so a conversion is reproducible
  (``seed=None``: unseeded, as in ``convert.py``).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.api import GENERATORS, SAMPLE_RATE, BenchError, Generator, PluginMeta, first_line

ENV_REPO = "BENCH_FREEVC_REPO"
ENV_CKPT = "BENCH_FREEVC_CKPT"
ENV_WAVLM = "BENCH_WAVLM"
#: where FreeVC's README puts the assets, relative to the checkout
WAVLM_IN_REPO = "wavlm/WavLM-Large.pt"
SPEAKER_ENCODER_IN_REPO = "speaker_encoder/ckpt/pretrained_bak_5805000.pt"

HOP = 320  #: WavLM frame hop (20 ms) = SynthesizerTrn's samples per frame at 16 kHz
WAVLM_WINDOW = 400  #: receptive field of WavLM's convolutional feature extractor (25 ms)
LEFT_PAD = (WAVLM_WINDOW - HOP) // 2  #: centres WavLM frame i on output samples [320 i, 320 i + 320)

#: the checkout's top-level module names; imported in isolation (see _import_freevc) so they
#: cannot clash with other checkouts that also have a ``models.py`` or ``speaker_encoder``
_FREEVC_TOPLEVEL = ("commons", "modules", "models", "mel_processing", "wavlm", "speaker_encoder")
_IMPORT_LOCK = threading.Lock()
_CODE_CACHE: dict[str, SimpleNamespace] = {}

_OPTIONS = ("repo", "checkpoint", "config", "wavlm", "speaker_encoder", "device", "seed", "trim_top_db",
            "batch_size")


@dataclass
class FreeVCTarget:
    """A prepared target: the speaker embedding (FreeVC) or the reference mel (FreeVC-s)."""

    embedding: np.ndarray | None = None  #: (256,) from the pretrained speaker encoder (use_spk)
    mel: np.ndarray | None = None  #: (80, frames) log-mel of the trimmed reference (FreeVC-s)


def _import_freevc(repo: Path) -> SimpleNamespace:
    """Import the checkout's modules without leaving its generic names in ``sys.modules``."""
    key = str(repo.resolve())
    with _IMPORT_LOCK:
        if key in _CODE_CACHE:
            return _CODE_CACHE[key]

        def ours(name: str) -> bool:
            return name.split(".", 1)[0] in _FREEVC_TOPLEVEL

        saved = {n: m for n, m in sys.modules.items() if ours(n)}
        for n in saved:
            del sys.modules[n]
        sys.path.insert(0, key)
        try:
            with warnings.catch_warnings():
                # speaker_encoder/audio.py imports scipy.ndimage.morphology (deprecated alias)
                warnings.simplefilter("ignore", DeprecationWarning)
                code = SimpleNamespace(
                    models=importlib.import_module("models"),
                    wavlm=importlib.import_module("wavlm"),
                    mel_processing=importlib.import_module("mel_processing"),
                    voice_encoder=importlib.import_module("speaker_encoder.voice_encoder"),
                )
        except ModuleNotFoundError as exc:
            if exc.name and ours(exc.name):
                raise BenchError(f"FreeVC checkout {repo} is incomplete: no module {exc.name!r} "
                                 f"(re-clone https://github.com/OlaWod/FreeVC)") from None
            raise BenchError(f"FreeVC's code needs the Python package {exc.name!r}: pip install "
                             f"{'librosa' if exc.name in (None, 'librosa') else exc.name}") from None
        finally:
            sys.path.remove(key)
            for n in [n for n in sys.modules if ours(n)]:
                del sys.modules[n]
            sys.modules.update(saved)
        _CODE_CACHE[key] = code
        return code


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the deprecation warnings FreeVC's (2022) code triggers in current torch."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*weight_norm.* is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*return_complex=False", category=UserWarning)
        warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask", category=UserWarning)
        yield


def _torch_load(path: Path, what: str) -> Any:
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:  # a real checkpoint that also pickles a Python object: never unpickled here (safety)
            raise BenchError(f"freevc: {what} {path} pickles a {found.group(1)} object, which safe loading "
                             f"(weights_only) refuses; re-save it with only its tensors") from None
        raise BenchError(f"freevc: {what} {path} is not a readable torch checkpoint") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise BenchError(f"freevc: {what} {path} is not a readable torch checkpoint "
                         f"({first_line(exc)})") from None


def _audio(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise BenchError(f"FreeVC: {what} must be mono 1-D audio, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise BenchError(f"FreeVC: {what} contains NaN or infinite samples")
    return np.clip(x, -1.0, 1.0)


@GENERATORS.register(PluginMeta(
    name="freevc",
    version="0.1",
    license="MIT (FreeVC code); checkpoints: user-supplied",
    description="FreeVC / FreeVC-s one-shot voice conversion (WavLM content + VITS decoder), "
                "run from a checkout of the official code with the user's checkpoints.",
    reference="https://github.com/OlaWod/FreeVC",
    parameters={
        "repo": f"path to a FreeVC checkout (env {ENV_REPO})",
        "checkpoint": f"freevc.pth or freevc-s.pth (env {ENV_CKPT})",
        "config": "JSON config; default <repo>/configs/freevc-s.json for a *freevc-s* checkpoint, "
                  "else <repo>/configs/freevc.json",
        "wavlm": f"WavLM-Large.pt (env {ENV_WAVLM}; default <repo>/{WAVLM_IN_REPO})",
        "speaker_encoder": f"speaker encoder checkpoint, FreeVC (use_spk) only "
                           f"(default <repo>/{SPEAKER_ENCODER_IN_REPO})",
        "device": "cpu (default) or cuda[:N]",
        "seed": "seed of the sampling noise per conversion (default 0; null: unseeded)",
        "trim_top_db": "silence trimming of the reference, dB below peak (default 20, as convert.py)",
        "batch_size": "sources per batch in convert_batch (default 8)",
    },
    sample_rate=16000,
    devices=["cpu", "cuda"],
    assets=["FreeVC checkout", "freevc.pth or freevc-s.pth", "WavLM-Large.pt",
            "speaker encoder ckpt (freevc.pth only)"],
    offline=True,
))
class FreeVCGenerator(Generator):
    """FreeVC from the official code; see the module docstring and docs/freevc.md."""

    # WavLM's transformer attends over its whole input, and the prior encoder (16 conv
    # layers, kernel 5), the flow and the decoder have receptive fields of over +-1 s on
    # paper (effectively much less): a chunk is converted with 1 s of past audio and 0.2 s
    # (10 WavLM frames) of future audio; the look-ahead adds to the streaming delay.
    lookahead_ms = 200.0
    context_ms = 1000.0

    def __init__(self, repo: str | os.PathLike | None = None, checkpoint: str | os.PathLike | None = None,
                 config: str | os.PathLike | None = None, wavlm: str | os.PathLike | None = None,
                 speaker_encoder: str | os.PathLike | None = None, device: str = "cpu", seed: int | None = 0,
                 trim_top_db: float = 20.0, batch_size: int = 8, **unknown: Any) -> None:
        if unknown:
            raise BenchError(f"freevc: unknown option(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(_OPTIONS)}")
        repo = repo or os.environ.get(ENV_REPO) or None
        checkpoint = checkpoint or os.environ.get(ENV_CKPT) or None
        if config is None and repo is not None:
            name = Path(checkpoint).name.lower() if checkpoint else ""
            config = Path(repo) / "configs" / ("freevc-s.json" if "freevc-s" in name else "freevc.json")
        wavlm = wavlm or os.environ.get(ENV_WAVLM) or (Path(repo) / WAVLM_IN_REPO if repo else None)
        if speaker_encoder is None and repo is not None:
            speaker_encoder = Path(repo) / SPEAKER_ENCODER_IN_REPO
        device = str(device)
        if device != "cpu" and not device.startswith("cuda"):
            raise BenchError(f"freevc: device must be 'cpu' or 'cuda[:N]', not {device!r}")
        try:
            seed = None if seed in (None, "", "none", "null") else int(seed)
            trim_top_db, batch_size = float(trim_top_db), int(batch_size)
        except (TypeError, ValueError):
            raise BenchError(f"freevc: seed and batch_size must be integers and trim_top_db a number "
                             f"(got {seed!r}, {batch_size!r}, {trim_top_db!r})") from None
        if batch_size < 1:
            raise BenchError(f"freevc: batch_size must be >= 1, not {batch_size}")

        def s(p: Any) -> str | None:
            return None if p is None else str(p)

        super().__init__(repo=s(repo), checkpoint=s(checkpoint), config=s(config), wavlm=s(wavlm),
                         speaker_encoder=s(speaker_encoder), device=device, seed=seed, trim_top_db=trim_top_db,
                         batch_size=batch_size)
        self._loaded = False

    # ------------------------------------------------------------------ loading
    def _path(self, key: str, what: str, how: str) -> Path:
        value = self.config[key]
        if value is None:
            raise BenchError(f"freevc: no {what} given; {how}")
        path = Path(value).expanduser()
        if not path.exists():
            raise BenchError(f"freevc: {what} {path} not found; {how}")
        return path

    def check(self) -> None:
        """Every asset file exists, the config is a 16 kHz FreeVC config and the device is there (no loading)."""
        self._assets()

    def _assets(self) -> SimpleNamespace:
        repo = self._path("repo", "FreeVC checkout",
                          f"git clone https://github.com/OlaWod/FreeVC and pass repo=PATH or set {ENV_REPO}")
        if not (repo / "models.py").is_file():
            raise BenchError(f"freevc: {repo} is not a FreeVC checkout (no models.py); "
                             f"git clone https://github.com/OlaWod/FreeVC and set {ENV_REPO}")
        ckpt_path = self._path("checkpoint", "checkpoint",
                               f"download freevc.pth or freevc-s.pth (links in FreeVC's README) and pass "
                               f"checkpoint=PATH or set {ENV_CKPT}")
        config_path = self._path("config", "config", "pass config=PATH to FreeVC's configs/freevc(-s).json")
        wavlm_path = self._path("wavlm", "WavLM checkpoint",
                                f"download WavLM-Large.pt (https://github.com/microsoft/unilm/tree/master/wavlm) "
                                f"to <repo>/{WAVLM_IN_REPO}, or pass wavlm=PATH or set {ENV_WAVLM}")
        for path in (ckpt_path, wavlm_path):
            if not path.is_file() or path.stat().st_size == 0:
                raise BenchError(f"freevc: {path} is not a checkpoint file (a folder or an empty file)")
        device = self.config["device"]
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise BenchError(f"freevc: device {device!r} asked for, but this torch build has no CUDA device; "
                                 "use device=cpu")
        try:
            hps = json.loads(config_path.read_text())
            data, model_cfg = hps["data"], dict(hps["model"])
            segment = hps["train"]["segment_size"] // data["hop_length"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BenchError(f"freevc: config {config_path} is not a FreeVC config ({exc!r})") from None
        if data.get("sampling_rate") != SAMPLE_RATE or data.get("hop_length") != HOP:
            raise BenchError(f"freevc: config {config_path} has sampling_rate {data.get('sampling_rate')} and "
                             f"hop_length {data.get('hop_length')}; this adapter runs the 16 kHz models (320)")
        use_spk = bool(model_cfg.get("use_spk"))
        spk_path = None
        if use_spk:
            spk_path = self._path("speaker_encoder", "speaker encoder checkpoint",
                                  f"FreeVC (use_spk: true) needs it: a FreeVC clone has it as <repo>/"
                                  f"{SPEAKER_ENCODER_IN_REPO}; restore it there or pass speaker_encoder=PATH "
                                  f"(freevc-s.pth needs none)")
        return SimpleNamespace(repo=repo, ckpt=ckpt_path, config=config_path, wavlm=wavlm_path, data=data,
                               model_cfg=model_cfg, segment=segment, use_spk=use_spk, speaker_encoder=spk_path,
                               device=device)

    def load(self) -> None:
        if self._loaded:
            return
        import torch

        a = self._assets()
        repo, ckpt_path, config_path, wavlm_path = a.repo, a.ckpt, a.config, a.wavlm
        data, model_cfg, segment, use_spk, device = a.data, a.model_cfg, a.segment, a.use_spk, a.device

        code = _import_freevc(repo)
        with _quiet():
            net = code.models.SynthesizerTrn(data["filter_length"] // 2 + 1, segment, **model_cfg)
        ckpt = _torch_load(ckpt_path, "checkpoint")
        state = ckpt.get("model") if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise BenchError(f"freevc: checkpoint {ckpt_path} has no 'model' state dict (is it a FreeVC "
                             f"freevc.pth / freevc-s.pth?)")
        expected = set(net.state_dict())
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or extra:
            what = [f"{len(names)} weights {kind}, e.g. {names[0]}"
                    for names, kind in ((missing, "missing"), (extra, "unexpected")) if names]
            raise BenchError(
                f"freevc: checkpoint {ckpt_path} does not match config {config_path} ({'; '.join(what)}); "
                "freevc.pth goes with configs/freevc.json, freevc-s.pth with configs/freevc-s.json")
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BenchError(f"freevc: checkpoint {ckpt_path} does not fit config {config_path}: "
                             f"{str(exc).splitlines()[-1].strip()}") from None

        wl = _torch_load(wavlm_path, "WavLM checkpoint")
        if not (isinstance(wl, dict) and isinstance(wl.get("cfg"), dict) and isinstance(wl.get("model"), dict)):
            raise BenchError(f"freevc: WavLM checkpoint {wavlm_path} is not in WavLM-Large.pt format "
                             "({'cfg': ..., 'model': ...})")
        wcfg = code.wavlm.WavLMConfig(wl["cfg"])
        if wcfg.encoder_embed_dim != model_cfg.get("ssl_dim"):
            raise BenchError(f"freevc: WavLM checkpoint {wavlm_path} has {wcfg.encoder_embed_dim}-dim features, "
                             f"config {config_path} wants ssl_dim {model_cfg.get('ssl_dim')} (use WavLM-Large)")
        with _quiet():
            cmodel = code.wavlm.WavLM(wcfg)
        try:
            cmodel.load_state_dict(wl["model"])
        except RuntimeError as exc:
            raise BenchError(f"freevc: WavLM checkpoint {wavlm_path} does not fit its own cfg: "
                             f"{str(exc).splitlines()[-1].strip()}") from None

        smodel = None
        if use_spk:
            spk_path = a.speaker_encoder
            try:
                smodel = code.voice_encoder.SpeakerEncoder(str(spk_path), device=device, verbose=False)
            except Exception as exc:  # noqa: BLE001 - torch raises several kinds for a bad file
                raise BenchError(f"freevc: speaker encoder checkpoint {spk_path} could not be loaded "
                                 f"({first_line(exc)})") from None
            smodel.eval()

        self._torch = torch
        self._code = code
        self._data = data
        self._use_spk = use_spk
        self._net = net.eval().to(device)
        self._cmodel = cmodel.eval().to(device)
        self._smodel = smodel
        self._device = torch.device(device)
        self._loaded = True

    # ------------------------------------------------------------------ conversion
    @property
    def use_spk(self) -> bool:
        """True for FreeVC (pretrained speaker encoder), False for FreeVC-s (mel of the reference)."""
        self.load()
        return self._use_spk

    def prepare_target(self, reference: np.ndarray) -> FreeVCTarget:
        """Trim the reference (as convert.py) and embed it (FreeVC) or take its mel (FreeVC-s)."""
        import librosa

        self.load()
        torch = self._torch
        wav = _audio(reference, "reference")
        wav, _ = librosa.effects.trim(wav, top_db=self.config["trim_top_db"])
        if len(wav) < HOP or not np.any(wav):
            raise BenchError(f"FreeVC: the reference has {len(wav) / SAMPLE_RATE:.3f} s of sound after trimming "
                             "silence; give a reference utterance of at least 1 s of speech")
        with torch.no_grad(), _quiet():
            if self._use_spk:
                emb = np.asarray(self._smodel.embed_utterance(wav), dtype=np.float32)
                if not np.isfinite(emb).all():
                    raise BenchError("FreeVC: the speaker encoder gave no embedding for this reference "
                                     "(silent or too quiet?)")
                return FreeVCTarget(embedding=emb)
            d = self._data
            mel = self._code.mel_processing.mel_spectrogram_torch(
                torch.from_numpy(wav).unsqueeze(0).to(self._device), d["filter_length"], d["n_mel_channels"],
                d["sampling_rate"], d["hop_length"], d["win_length"], d["mel_fmin"], d["mel_fmax"])
        return FreeVCTarget(mel=mel[0].float().cpu().numpy())

    def convert(self, source: np.ndarray, target: FreeVCTarget) -> np.ndarray:
        return self.convert_batch([source], target)[0]

    def convert_batch(self, sources: list[np.ndarray], target: FreeVCTarget) -> list[np.ndarray]:
        """Convert sources toward one target, ``batch_size`` at a time (similar lengths together).

        Shorter clips are zero-padded and masked (WavLM ``padding_mask``, ``c_lengths``); one
        batch shares one noise draw, so a clip's output depends on its batch-mates only
        through the sampling noise (and, in its last ~0.1 s, the decoder's view of the padding).
        """
        self.load()
        if target.embedding is None and target.mel is None:
            raise BenchError("FreeVC: the target was not prepared by this generator's prepare_target")
        if self._use_spk != (target.embedding is not None):
            raise BenchError("FreeVC: the target was prepared for the other FreeVC variant; prepare it again")
        wavs = [_audio(s, "source") for s in sources]
        out: list[np.ndarray | None] = [None] * len(wavs)
        order = sorted(range(len(wavs)), key=lambda i: len(wavs[i]))
        bs = self.config["batch_size"]
        for k in range(0, len(order), bs):
            idx = [i for i in order[k:k + bs] if len(wavs[i])]
            for i in order[k:k + bs]:
                if not len(wavs[i]):
                    out[i] = np.zeros(0, np.float32)
            if idx:
                for i, y in zip(idx, self._infer([wavs[i] for i in idx], target), strict=True):
                    out[i] = y
        return out  # type: ignore[return-value]

    def _infer(self, wavs: list[np.ndarray], target: FreeVCTarget) -> list[np.ndarray]:
        torch = self._torch
        frames = [-(-len(w) // HOP) for w in wavs]  # ceil: one 20 ms output frame per started 20 ms
        n_max = max(frames)
        total = HOP * n_max + (WAVLM_WINDOW - HOP)  # gives exactly n_max WavLM frames
        batch = np.zeros((len(wavs), total), np.float32)
        for b, w in enumerate(wavs):
            batch[b, LEFT_PAD:LEFT_PAD + len(w)] = w
        dev = self._device
        x = torch.from_numpy(batch).to(dev)
        padding_mask = None
        if len(set(frames)) > 1:
            # a sample-level mask that WavLM.forward_padding_mask folds into exactly "frame >= frames[b]"
            per = total // n_max
            frame_of = torch.arange(total, device=dev) // per
            padding_mask = frame_of.unsqueeze(0) >= torch.tensor(frames, device=dev).unsqueeze(1)
        devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.no_grad(), _quiet(), torch.random.fork_rng(devices=devices,
                                                              enabled=self.config["seed"] is not None):
            if self.config["seed"] is not None:
                torch.manual_seed(self.config["seed"])
            # utils.get_content: cmodel.extract_features(y.squeeze(1))[0].transpose(1, 2)
            c = self._cmodel.extract_features(x, padding_mask=padding_mask)[0].transpose(1, 2)
            c_lengths = torch.tensor(frames, device=dev, dtype=c.dtype)
            if self._use_spk:
                g = torch.from_numpy(target.embedding).unsqueeze(0).to(dev)
                audio = self._net.infer(c, g=g, c_lengths=c_lengths)
            else:
                mel = torch.from_numpy(target.mel).unsqueeze(0).to(dev)
                audio = self._net.infer(c, mel=mel, c_lengths=c_lengths)
        audio = audio[:, 0].float().cpu().numpy()
        return [np.ascontiguousarray(audio[b, :len(w)], dtype=np.float32) for b, w in enumerate(wavs)]


# ---------------------------------------------------------------------- random-weight assets
#: WavLM-Large's architecture (the ``cfg`` of WavLM-Large.pt; = torchaudio's / HF's wavlm-large)
WAVLM_LARGE_CFG: dict[str, Any] = {
    "extractor_mode": "layer_norm", "encoder_layers": 24, "encoder_embed_dim": 1024,
    "encoder_ffn_embed_dim": 4096, "encoder_attention_heads": 16, "activation_fn": "gelu",
    "layer_norm_first": True, "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
    "conv_bias": False, "normalize": True, "conv_pos": 128, "conv_pos_groups": 16,
    "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True,
}


def make_random_assets(repo: str | os.PathLike, out_dir: str | os.PathLike, *, variant: str = "freevc-s",
                       wavlm_layers: int = 24, seed: int = 0, quiet_prior: bool = False) -> dict[str, str]:
    """Random-weight FreeVC assets built with the checkout's own classes, in the real file formats.

    For tests and speed benchmarks (no pretrained weights ship anywhere we can reach):
    ``<variant>.pth`` (``{"model": SynthesizerTrn state_dict}`` for ``configs/<variant>.json``),
    ``WavLM-Large.pt`` (``{"cfg": ..., "model": ...}``, WavLM-Large's architecture with
    ``wavlm_layers`` transformer layers) and, for ``variant="freevc"``, a speaker encoder
    checkpoint (``{"model_state": ...}``, as ``speaker_encoder.voice_encoder`` loads it).
    ``quiet_prior`` sets the prior's log-sigma to -20 so inference draws no noise. Returns
    generator options (repo, checkpoint, config, wavlm[, speaker_encoder]).
    """
    import torch

    if variant not in ("freevc", "freevc-s"):
        raise BenchError(f"variant must be 'freevc' or 'freevc-s', not {variant!r}")
    repo, out = Path(repo), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    code = _import_freevc(repo)
    config = repo / "configs" / f"{variant}.json"
    hps = json.loads(config.read_text())
    torch.manual_seed(seed)
    with _quiet():
        net = code.models.SynthesizerTrn(hps["data"]["filter_length"] // 2 + 1,
                                         hps["train"]["segment_size"] // hps["data"]["hop_length"], **hps["model"])
    if quiet_prior:
        with torch.no_grad():
            half = net.enc_p.out_channels
            net.enc_p.proj.weight[half:] = 0.0
            net.enc_p.proj.bias[half:] = -20.0
    opts = {"repo": str(repo), "config": str(config), "checkpoint": str(out / f"{variant}.pth"),
            "wavlm": str(out / "WavLM-Large.pt")}
    torch.save({"model": net.state_dict(), "iteration": 0, "learning_rate": 0.0}, opts["checkpoint"])
    cfg = {**WAVLM_LARGE_CFG, "encoder_layers": int(wavlm_layers)}
    with _quiet():
        wavlm = code.wavlm.WavLM(code.wavlm.WavLMConfig(cfg))
    torch.save({"cfg": cfg, "model": wavlm.state_dict()}, opts["wavlm"])
    if variant == "freevc":
        ve = code.voice_encoder
        spk = torch.nn.Module()
        spk.lstm = torch.nn.LSTM(ve.mel_n_channels, ve.model_hidden_size, ve.model_num_layers, batch_first=True)
        spk.linear = torch.nn.Linear(ve.model_hidden_size, ve.model_embedding_size)
        opts["speaker_encoder"] = str(out / "speaker_encoder.pt")
        torch.save({"step": 0, "model_state": spk.state_dict()}, opts["speaker_encoder"])
    return opts
