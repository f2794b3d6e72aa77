"""The offline challenge simulator: distinct synthetic speakers performing every challenge.

Speech comes from espeak-ng (voice variant, pitch, range and rate per speaker), then
goes through the WORLD vocoder, where each speaker's spectral envelope is frequency
warped (vocal-tract length) and challenge-specific changes are made to F0, aperiodicity
and envelope; filters, gains and mixed-in sounds render the rest. Everything is
deterministic given (seed, utterance): a resumed or parallel run gives identical audio.

This is simulated speech. Numbers measured on it describe the simulation, not the
recordings of the Pitch paper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from bench import SAMPLE_RATE
from bench.audio import resample
from bench.challenges import effects as fx
from bench.challenges.espeak import Espeak, Voice
from bench.challenges.scripts import script_for
from bench.challenges.taxonomy import get as get_challenge
from bench.dsp.world import analyze, synthesize, warp_envelope

NEUTRAL_LEVEL_DB = -28.0
# espeak variants that give clearly different voices; the speaker's sex decides pitch.
_MALE_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "klatt", "klatt3", "Andy", "Mike", "boris"]
_FEMALE_VARIANTS = ["f1", "f2", "f3", "f4", "f5", "klatt4", "Annie", "linda", "belinda", "anika"]
_ACCENT_LANGUAGES = ["fr", "de", "es", "it", "hi", "pl"]
_EMOTIONS = ["happy", "angry", "excited"]


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: espeak settings plus a vocal-tract warp and a spectral tilt."""

    subject: str
    sex: str
    variant: str
    pitch: int
    pitch_range: int
    rate_wpm: int
    warp: float
    tilt_db: float

    def voice(self, language: str = "en-us") -> Voice:
        return Voice(language, self.variant, self.rate_wpm, self.pitch, self.pitch_range)


def make_speakers(n: int, seed: int) -> list[Speaker]:
    """``n`` distinct speakers, alternating sex, with spread-out voice parameters."""
    rng = np.random.default_rng([seed, 7919])
    males = list(rng.permutation(_MALE_VARIANTS))
    females = list(rng.permutation(_FEMALE_VARIANTS))
    speakers = []
    for i in range(n):
        sex = "f" if i % 2 else "m"
        pool = females if sex == "f" else males
        variant = pool[(i // 2) % len(pool)]
        # spread pitch and warp over a grid (jittered) so neighbours differ audibly
        pos = ((i // 2) * 0.618) % 1.0
        base_pitch = (55 if sex == "f" else 25) + int(30 * pos) + int(rng.integers(-3, 4))
        warp = (1.06 if sex == "f" else 0.94) + 0.10 * (pos - 0.5) + rng.uniform(-0.01, 0.01)
        speakers.append(Speaker(
            subject=f"spk{i:03d}", sex=sex, variant=str(variant), pitch=int(np.clip(base_pitch, 5, 95)),
            pitch_range=int(rng.integers(35, 65)), rate_wpm=int(rng.integers(150, 185)),
            warp=float(warp), tilt_db=float(rng.uniform(-3, 3)),
        ))
    return speakers


@dataclass(frozen=True)
class Item:
    """One utterance to simulate."""

    utterance_id: str
    speaker: int
    challenge: int
    sentence_id: int
    device: str


def plan(n_speakers: int, n_sentences: int, challenges: list[int], devices: list[str]) -> list[Item]:
    """Every (speaker, challenge, sentence, device) the corpus should hold.

    Playback challenges are skipped on devices the taxonomy marks unavailable.
    """
    items = []
    for device in devices:
        for s in range(n_speakers):
            for c in challenges:
                if not get_challenge(c).available_on(device):
                    continue
                for k in range(n_sentences):
                    sentence_id = (s * 3 + k) % 10  # speakers read different sentence subsets
                    items.append(Item(f"sim-spk{s:03d}-c{c:02d}-s{sentence_id}-{device}", s, c,
                                      sentence_id, device))
    return items


def item_rng(seed: int, utterance_id: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{utterance_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# ---------------------------------------------------------------- rendering helpers
def _speak(text: str, voice: Voice) -> np.ndarray:
    engine = Espeak.get()
    return resample(engine.synth(text, voice), engine.sample_rate, SAMPLE_RATE)


def _vocode(x: np.ndarray, spk: Speaker, f0_fn=None, ap_fn=None, sp_fn=None) -> np.ndarray:
    """WORLD round trip applying the speaker's warp plus optional F0/ap/sp edits."""
    f0, sp, ap = analyze(x)
    sp = warp_envelope(sp, spk.warp)
    if sp_fn is not None:
        sp = sp_fn(sp)
    if f0_fn is not None:
        f0 = f0_fn(f0)
    if ap_fn is not None:
        ap = ap_fn(ap, f0)
    return synthesize(f0, sp, ap)


def _tilt(x: np.ndarray, db: float) -> np.ndarray:
    return fx.shelf(x, 1500.0, db, high=True) if abs(db) > 0.05 else x


def _pad(x: np.ndarray, rng: np.random.Generator, lead: float = 0.25, tail: float = 0.25) -> np.ndarray:
    out = np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), x,
                          np.zeros(int(tail * SAMPLE_RATE), np.float32)])
    return out + (10 ** (-72 / 20) * rng.standard_normal(len(out))).astype(np.float32)


def _scale_f0(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda f0: f0 * factor


def _expand_f0(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    def fn(f0: np.ndarray) -> np.ndarray:
        v = f0 > 0
        if not v.any():
            return f0
        lf = np.log(f0[v])
        out = f0.copy()
        out[v] = np.exp(lf.mean() + (lf - lf.mean()) * factor)
        return out
    return fn


def _question_rise(semitones: float = 9.0) -> Callable[[np.ndarray], np.ndarray]:
    """Question intonation: over the last 30% of the voiced frames F0 glides from the sentence's own contour
    to ``semitones`` above its median (espeak's statement declination would otherwise eat a plain boost)."""
    def fn(f0: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(f0 > 0)
        if idx.size < 10:
            return f0
        start = idx[int(0.7 * idx.size)]
        ramp = np.clip((np.arange(len(f0)) - start) / max(idx[-1] - start, 1), 0, 1)
        target = np.median(f0[idx]) * 2 ** (semitones * ramp / 12)
        return np.where(f0 > 0, (1 - ramp) * f0 + ramp * target, 0.0)
    return fn


def _sing_contour(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """Note-quantised F0: each ~250 ms stretch holds one semitone, with light vibrato."""
    def fn(f0: np.ndarray) -> np.ndarray:
        v = f0 > 0
        if not v.any():
            return f0
        semis = 12 * np.log2(np.where(v, f0, 1.0) / 440.0)
        out = f0.copy()
        seg = 50  # frames of 5 ms
        melody_shift = rng.choice([0, 2, 4, 5, 7], size=len(f0) // seg + 1)
        for k, start in enumerate(range(0, len(f0), seg)):
            sl = slice(start, start + seg)
            if v[sl].any():
                note = np.round(np.median(semis[sl][v[sl]])) + melody_shift[k] - 2
                out[sl] = np.where(v[sl], 440.0 * 2 ** (note / 12), 0.0)
        t = np.arange(len(f0)) * 0.005
        vibrato = 2 ** (0.12 * np.sin(2 * np.pi * 5.5 * t) / 12)
        return np.where(v, out * vibrato, 0.0)
    return fn


def _fill_voicing(f0: np.ndarray) -> np.ndarray:
    """Bridge short unvoiced gaps (< 60 ms) so sung notes are sustained."""
    out = f0.copy()
    idx = np.flatnonzero(out > 0)
    for a, b in zip(idx[:-1], idx[1:], strict=False):
        if 1 < b - a < 12:
            out[a + 1:b] = np.linspace(out[a], out[b], b - a + 1)[1:-1]
    return out


def _smooth_envelope(strength: float) -> Callable[[np.ndarray], np.ndarray]:
    """Pull each frame's log envelope toward a slow moving average (less articulation)."""
    def fn(sp: np.ndarray) -> np.ndarray:
        log_sp = np.log(np.maximum(sp, 1e-16))
        k = 31
        kernel = np.ones(k) / k
        pad = np.pad(log_sp, ((k // 2, k // 2), (0, 0)), mode="edge")
        slow = np.apply_along_axis(lambda col: np.convolve(col, kernel, mode="valid"), 0, pad)
        return np.exp((1 - strength) * log_sp + strength * slow)
    return fn


def _device(x: np.ndarray, device: str) -> np.ndarray:
    """Mobile: a phone microphone's band (high-pass 150 Hz, low-pass 7 kHz, presence peak)."""
    if device != "mobile":
        return x
    y = fx.highpass(x, 150.0)
    y = fx.lowpass(y, 7000.0)
    return fx.peaking(y, 2500.0, 3.0, 1.0)


# ---------------------------------------------------------------- the renderer
def render(item: Item, speakers: list[Speaker], seed: int) -> tuple[np.ndarray, str]:
    """Render one utterance; returns (16 kHz float32 audio, the script the caller said)."""
    rng = item_rng(seed, item.utterance_id)
    spk = speakers[item.speaker]
    key = get_challenge(item.challenge).key
    text, language = script_for(key, item.sentence_id)
    voice = spk.voice()
    level = NEUTRAL_LEVEL_DB + rng.uniform(-1.5, 1.5)

    def speak(v: Voice = voice, t: str = text) -> np.ndarray:
        return _speak(t, v)

    if key == "whisper":
        x = _vocode(speak(), spk, f0_fn=np.zeros_like, ap_fn=lambda ap, f0: np.ones_like(ap))
        x, level = fx.lowpass(fx.highpass(x, 300.0), 6500.0), level - 10
    elif key == "static_mouth":
        x = _vocode(speak(), spk, sp_fn=_smooth_envelope(0.75))
    elif key == "cup_mouth":
        x = _vocode(speak(), spk)
        x = fx.lowpass(fx.peaking(x, rng.uniform(350, 550), 9.0, 1.5), 1400.0)
        level -= 3
    elif key == "hold_nose":
        x = _vocode(speak(), spk)
        x = fx.peaking(fx.peaking(x, rng.uniform(900, 1200), -18.0, 3.0), 250.0, 6.0, 2.0)
        x = fx.peaking(x, 2800.0, -6.0, 1.5)
    elif key == "high_pitch":
        x = _vocode(speak(), spk, f0_fn=_scale_f0(rng.uniform(1.45, 1.65)))
    elif key == "low_pitch":
        x = _vocode(speak(), spk, f0_fn=_scale_f0(rng.uniform(0.68, 0.78)))
    elif key == "loud":
        x = _tilt(_vocode(speak(), spk, f0_fn=_scale_f0(1.12)), 6.0)
        level += 9
    elif key == "soft":
        x = _vocode(speak(), spk, ap_fn=lambda ap, f0: np.clip(ap * 1.5 + 0.05, 0, 1))
        x, level = _tilt(x, -6.0), level - 14
    elif key == "quick":
        x = _vocode(speak(replace(voice, rate_wpm=int(voice.rate_wpm * 1.6))), spk)
    elif key == "slow":
        x = _vocode(speak(replace(voice, rate_wpm=int(voice.rate_wpm * 0.6))), spk)
    elif key == "sing":
        raw = speak(replace(voice, rate_wpm=int(voice.rate_wpm * 0.7)))
        x = _vocode(raw, spk, f0_fn=lambda f0: _sing_contour(rng)(_fill_voicing(f0)))
    elif key == "foreign":
        x = _vocode(speak(spk.voice(language)), spk)
    elif key == "accent":
        x = _vocode(speak(spk.voice(str(rng.choice(_ACCENT_LANGUAGES)))), spk)
    elif key == "emotion":
        emo = str(rng.choice(_EMOTIONS))
        v = replace(voice, pitch_range=95, rate_wpm=int(voice.rate_wpm * 1.2),
                    pitch=min(99, voice.pitch + (15 if emo != "angry" else 5)))
        x = _vocode(speak(v), spk, f0_fn=_expand_f0(1.6))
        if emo == "angry":
            x, level = _tilt(x, 5.0), level + 5
    elif key == "question":
        x = _vocode(speak(), spk, f0_fn=_question_rise())
    elif key == "nonverbal":
        kind = "cough" if item.sentence_id % 2 == 0 else "whistle"
        parts = []
        for _ in range(int(rng.integers(2, 4))):
            sound = fx.cough(rng) if kind == "cough" else fx.whistle(rng)
            parts += [_tilt(sound, spk.tilt_db), np.zeros(int(rng.uniform(0.15, 0.4) * SAMPLE_RATE), np.float32)]
        x = np.concatenate(parts)
    elif key == "clap":
        x = _vocode(speak(), spk)
        x = _add_claps(x, rng)
    elif key == "cross_talk":
        x = _vocode(speak(), spk)
        other = speakers[(item.speaker + 1 + int(rng.integers(0, max(len(speakers) - 1, 1)))) % len(speakers)]
        if other is spk:  # a one-speaker corpus: invent a contrasting talker
            other = replace(spk, variant="f3" if spk.sex == "m" else "m3", pitch=80 - spk.pitch // 2,
                            warp=2.0 - spk.warp)
        talker = _vocode(_speak(text, other.voice()), other)
        offset = int(rng.uniform(0.3, 0.8) * SAMPLE_RATE)  # the other talker starts first
        voice = fx.mix(np.zeros(0, np.float32), x, offset, 1.0)
        x = fx.mix(voice, talker, 0, 10 ** (-6 / 20) * fx.rms(x) / max(fx.rms(talker), 1e-9))
    elif key in ("instrumental_playback", "lyrical_playback"):
        x = _vocode(speak(), spk)  # the music goes under the padded clip, below
    else:  # no_challenge and any challenge without a special rendering
        x = _vocode(speak(), spk)

    x = _pad(_tilt(x, spk.tilt_db) if key != "nonverbal" else x, rng)
    if key in ("instrumental_playback", "lyrical_playback"):
        x = _add_music(x, rng, speakers, item, lyrical=key == "lyrical_playback")
    x = _device(x, item.device)
    x = fx.set_active_level(x, level)
    peak = float(np.max(np.abs(x)))
    if peak > 0.98:
        x = x * (0.98 / peak)
    return x.astype(np.float32), text


def _add_claps(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.concatenate([np.zeros(int(0.3 * SAMPLE_RATE), np.float32), x])
    level = np.max(np.abs(out)) * 1.6
    times = [0.05] + list(np.sort(rng.uniform(0.4, max(len(out) / SAMPLE_RATE - 0.1, 0.5), size=2)))
    for t in times:
        out = fx.mix(out, fx.clap(rng) * level, int(t * SAMPLE_RATE), 1.0)
    return out


def _add_music(x: np.ndarray, rng: np.random.Generator, speakers: list[Speaker], item: Item,
               lyrical: bool) -> np.ndarray:
    lead = int(0.4 * SAMPLE_RATE)
    n = len(x) + lead
    track = fx.music(n, rng)
    if lyrical:
        singer = speakers[(item.speaker + len(speakers) // 2) % len(speakers)]
        lyrics, _ = script_for("no_challenge", (item.sentence_id + 5) % 10)
        sung = _vocode(_speak(lyrics, replace(singer.voice(), rate_wpm=110)), singer,
                       f0_fn=lambda f0: _sing_contour(rng)(_fill_voicing(f0)))
        sung = sung[:n] / max(fx.rms(sung), 1e-9) * fx.rms(track) * 1.2
        track = fx.mix(track, sung, int(0.2 * SAMPLE_RATE), 1.0)[:n]
    voice = fx.mix(np.zeros(lead, np.float32), x, lead, 1.0)
    music_gain = 10 ** (-8 / 20) * fx.rms(x) / max(fx.rms(track), 1e-9)
    return fx.mix(voice, track, 0, music_gain)
