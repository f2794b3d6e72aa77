"""The ``whisperx`` ASR backend: WhisperX (batched faster-whisper + wav2vec2 forced alignment), as the Pitch
paper uses it. Optional: the ``whisperx`` extra needs its own environment (its torch pin does not install
beside this project's); without it the backend is listed and explains what to install."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.api import BenchError, PluginMeta

from .asr import BUNDLED_MODEL, SAMPLE_RATE, bundled_model_path, clean_words, whisper_language
from .backends import ASR, ASRBackend, Transcript

WHISPERX_EXTRA = ("the whisperx ASR backend needs the optional extra: pip install '.[whisperx]' "
                  "(whisperx needs torch~=2.8 with torchaudio and pyannote, which do not install beside the "
                  "CPU torch 2.13 this project pins; use a separate environment)")


@ASR.register(PluginMeta(
    name="whisperx",
    version="1.0",
    license="BSD-2-Clause (whisperX); model licences vary",
    description="WhisperX (batched faster-whisper + wav2vec2 forced alignment), as used by the Pitch paper. "
                "Optional: needs the whisperx extra in its own environment.",
    reference="https://github.com/m-bain/whisperX",
    parameters={"model": "Whisper size, Hub id or CTranslate2 directory (default: bundled tiny.en)",
                "device": "cpu | cuda", "compute_type": "int8 on CPU, float16 on CUDA", "batch_size": 16,
                "align": "wav2vec2 word alignment (downloads alignment models)", "cpu_threads": 1,
                "vad_method": "silero | pyannote"},
    sample_rate=SAMPLE_RATE, devices=["cpu", "cuda"], assets=["whisperx extra", "alignment models (Hub)"],
    offline=False,
))
class WhisperXASR(ASRBackend):
    """WhisperX; imported lazily so that the registry works without it."""

    def __init__(self, model: str | None = None, device: str = "cpu", compute_type: str | None = None,
                 batch_size: int = 16, align: bool = True, cpu_threads: int = 1, vad_method: str = "silero") -> None:
        super().__init__(model=model or BUNDLED_MODEL, device=device, compute_type=compute_type,
                         batch_size=int(batch_size), align=bool(align), cpu_threads=int(cpu_threads),
                         vad_method=vad_method)
        self._wx: Any = None
        self._model: Any = None
        self._align: dict[str, Any] = {}

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            import whisperx
        except ImportError as exc:
            raise BenchError(WHISPERX_EXTRA) from exc
        cfg = self.config
        name = cfg["model"]
        english_only = name == BUNDLED_MODEL or str(name).endswith(".en")
        source = str(bundled_model_path()) if name == BUNDLED_MODEL else str(name)
        compute_type = cfg["compute_type"] or ("int8" if cfg["device"] == "cpu" else "float16")
        try:
            self._model = whisperx.load_model(source, cfg["device"], compute_type=compute_type,
                                              language="en" if english_only else None,
                                              vad_method=cfg["vad_method"], threads=cfg["cpu_threads"])
        except Exception as exc:  # noqa: BLE001 - one clear line
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise BenchError(f"whisperx could not load ASR model {name!r}: {reason}") from None
        self._wx = whisperx
        self._english_only = english_only

    def transcribe(self, clips: list[np.ndarray], languages: list[str | None] | None = None) -> list[Transcript]:
        self.load()
        languages = languages or [None] * len(clips)
        out = []
        for clip, hint in zip(clips, languages, strict=True):
            audio = np.asarray(clip, dtype=np.float32)
            lang = "en" if self._english_only else whisper_language(hint)
            if audio.size == 0 or not np.any(audio):
                out.append(Transcript(text="", language=lang))
                continue
            result = self._model.transcribe(audio, batch_size=self.config["batch_size"], language=lang)
            lang = result.get("language") or lang
            segments = result.get("segments", [])
            words: list[dict[str, Any]] = []
            if self.config["align"] and segments and lang:
                if lang not in self._align:
                    self._align[lang] = self._wx.load_align_model(language_code=lang, device=self.config["device"])
                model_a, meta = self._align[lang]
                aligned = self._wx.align(segments, model_a, meta, audio, self.config["device"],
                                         return_char_alignments=False)
                words = [{"word": w["word"], "start": w["start"], "end": w["end"],
                          "probability": w.get("score", 0.0)}
                         for w in aligned.get("word_segments", []) if "start" in w and "end" in w]
            text = " ".join(s["text"].strip() for s in segments).strip()
            out.append(Transcript(text=text, words=clean_words(words, audio.size / SAMPLE_RATE), language=lang))
        return out
