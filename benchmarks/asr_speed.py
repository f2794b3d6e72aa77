"""ASR speed for Pitch content compliance: short clips one by one vs batched, on one CPU thread.

Whisper encodes a fixed 30 s window, so a 3 s clip costs as much encoder work as 30 s of
audio. This measures the faster-whisper backend (bundled tiny.en, int8, Silero VAD, word
timestamps) on corpus-like clips (simulated speech, #0 no challenge, 2-5 s):

- ``sequential``: ``WhisperModel.transcribe`` per clip (the reference);
- ``batched`` with several batch sizes (same decoding per clip, one encode/generate/align
  call per batch);
- ``batched`` with a shorter encoder window (``window_s``), an opt-in speed-up;
- ``packed`` (not offered by the backend, measured to document why): several clips
  concatenated with 0.5 s of silence into one 30 s window, words split back by timestamp.

"same text" is the share of clips whose normalised transcript equals the sequential one;
WIL is against the script. Run: python benchmarks/asr_speed.py [--speakers 3 --sentences 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import header, table  # noqa: E402

from bench.challenges.simulate import Item, make_speakers, render  # noqa: E402
from bench.detectors.pitch.backends import ASR  # noqa: E402
from bench.detectors.pitch.content import normalise, wil  # noqa: E402

SR = 16_000


def corpus_clips(speakers: int, sentences: int) -> tuple[list[np.ndarray], list[str]]:
    sp = make_speakers(speakers, 0)
    clips, scripts = [], []
    for s in range(speakers):
        for k in range(sentences):
            audio, script = render(Item(f"sim-spk{s:03d}-c00-s{k}-desktop", s, 0, k, "desktop"), sp, 0)
            clips.append(audio)
            scripts.append(script)
    return clips, scripts


def packed_transcribe(model, clips: list[np.ndarray], gap_s: float = 0.5, max_s: float = 29.0) -> list[str]:
    """Several clips per 30 s window, separated by silence; words assigned by their midpoint."""
    out: list[str] = []
    gap = np.zeros(int(gap_s * SR), np.float32)
    i = 0
    while i < len(clips):
        parts, spans, pos = [], [], 0.0
        while i < len(clips) and (not spans or pos + len(clips[i]) / SR <= max_s):
            spans.append((pos, pos + len(clips[i]) / SR))
            parts += [clips[i], gap]
            pos += len(clips[i]) / SR + gap_s
            i += 1
        segments, _ = model.transcribe(np.concatenate(parts), language="en", temperature=0.0, vad_filter=False,
                                       word_timestamps=True, condition_on_previous_text=False)
        words: list[list[str]] = [[] for _ in spans]
        for w in (w for s in segments for w in s.words):
            mid = (w.start + w.end) / 2
            k = min(range(len(spans)), key=lambda j: 0.0 if spans[j][0] <= mid <= spans[j][1]
                    else min(abs(mid - spans[j][0]), abs(mid - spans[j][1])))
            words[k].append(w.word)
        out += ["".join(ws).strip() for ws in words]
    return out


def best_time(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=3)
    ap.add_argument("--sentences", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2, help="runs per setting; the fastest is reported")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    clips, scripts = corpus_clips(args.speakers, args.sentences)
    durations = np.array([len(c) / SR for c in clips])
    audio_s = float(durations.sum())

    shared = ASR.create("faster-whisper")  # cpu_threads=1, int8; backends with these settings share the model
    shared.load()

    def backend(**kwargs):
        return ASR.create("faster-whisper", **kwargs)

    settings = [
        ("sequential", "-", 30, lambda: [t.text for t in backend(mode="sequential").transcribe(clips)]),
        *[("batched", bs, 30, (lambda bs=bs: [t.text for t in backend(batch_size=bs).transcribe(clips)]))
          for bs in (1, 4, 8, 16)],
        *[("batched", 1, w, (lambda w=w: [t.text for t in backend(window_s=w).transcribe(clips)]))
          for w in (15, 10)],
        ("packed (rejected)", "~7/window", 30, lambda: packed_transcribe(shared.model, clips)),
    ]
    backend().transcribe(clips[:2])  # warm-up
    # settings run in rounds (not back to back) so that load from other processes spreads evenly
    best = [float("inf")] * len(settings)
    outputs: list[list[str]] = [[] for _ in settings]
    for _ in range(args.repeat):
        for i, (_, _, _, fn) in enumerate(settings):
            seconds, outputs[i] = best_time(fn, 1)
            best[i] = min(best[i], seconds)
    rows, reference = [], outputs[0]
    for (name, bs, window, _), seconds, texts in zip(settings, best, outputs, strict=True):
        same = np.mean([normalise(a) == normalise(b) for a, b in zip(texts, reference, strict=True)])
        mean_wil = np.mean([wil(s, t) for s, t in zip(scripts, texts, strict=True)])
        rows.append([name, bs, window, f"{1000 * seconds / len(clips):.0f}", f"{audio_s / seconds:.1f}",
                     f"{100 * same:.0f}%", f"{mean_wil:.3f}"])

    # where one clip's time goes (sequential building blocks)
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    model = shared.model
    tok = Tokenizer(model.hf_tokenizer, False, task="transcribe", language="en")
    feats = model.feature_extractor(clips[0])[..., :-1]
    enc = model.encode(pad_or_trim(feats))
    prompt = model.get_prompt(tok, [], without_timestamps=False)
    res = model.model.generate(enc, [prompt], beam_size=5)[0]
    text_tokens = [t for t in res.sequences_ids[0] if t < tok.eot]
    parts = [
        ("log-mel features", lambda: model.feature_extractor(clips[0])),
        ("encoder, 30 s window", lambda: model.encode(pad_or_trim(feats))),
        ("encoder, 10 s window", lambda: model.encode(pad_or_trim(feats, 1000))),
        ("decoder, beam 5", lambda: model.model.generate(enc, [prompt], beam_size=5)),
        ("word alignment", lambda: model.model.align(enc, tok.sot_sequence, [text_tokens], feats.shape[-1])),
    ]
    part_rows = [[name, f"{1000 * best_time(fn, 3)[0]:.0f}"] for name, fn in parts]

    print(header("ASR speed: faster-whisper tiny.en (bundled), short clips, 1 CPU thread"))
    print(f"\n{len(clips)} simulated clips (#0 no challenge, {args.speakers} speakers x {args.sentences} sentences), "
          f"{durations.min():.1f}-{durations.max():.1f} s each, {audio_s:.0f} s of audio; int8, Silero VAD, "
          f"word timestamps, beam 5, temperature 0; best of {args.repeat} runs; load average before: "
          f"{load:.1f}.\n")
    print(table(["mode", "batch size", "window s", "ms per clip", "RTFx (audio s / compute s)",
                 "same text as sequential", "mean WIL vs script"], rows))
    print(f"\nOne {durations[0]:.1f} s clip, where the time goes:\n")
    print(table(["step", "ms"], part_rows))


if __name__ == "__main__":
    main()
