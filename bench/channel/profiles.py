"""Named channel profiles, each a documented chain, and :func:`apply`, which runs a chain on one recording.

The chain, in the order a call meets it: noise at the caller's end (``noise``, ``snr_db``), the line's sample
rate (``rate``) and band (``band``: ``pstn`` = 300-3,400 Hz, 4th-order Butterworth), the codec (``codec`` at
``bitrate``), packet loss (``loss`` mean rate, ``burst`` mean length in packets, Gilbert-Elliott) and jitter
(``jitter_ms`` mean network delay against a ``buffer_ms`` playout buffer) on its packets, and the decoder with
its concealment of lost packets. The output stays at the line's rate (8 kHz for a narrowband line)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from bench.audio import resample
from bench.channel.codecs import decode, encode, get_codec
from bench.channel.loss import check_burst, check_rate, gilbert_elliott, jitter_drops
from bench.channel.noise import NOISES, add_at_snr, babble, check_snr, generated
from bench.errors import BenchError

BANDS = {"pstn": (300.0, 3400.0)}


@dataclass(frozen=True)
class Chain:
    """One channel: every part optional (a chain with nothing set passes audio through at 16 kHz)."""

    rate: int = 16000
    band: str | None = None
    codec: str | None = None
    bitrate: int | None = None
    loss: float = 0.0
    burst: float = 1.0
    jitter_ms: float = 0.0
    buffer_ms: float = 60.0
    noise: str | None = None
    snr_db: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> Chain:
        """This chain, every setting checked (one-line BenchError); the codec must exist in this PyAV build."""
        if self.rate not in (8000, 16000):
            raise BenchError(f"channel rate must be 8000 or 16000 Hz, got {self.rate!r}")
        if self.band is not None and self.band not in BANDS:
            raise BenchError(f"band must be one of {', '.join(BANDS)}, got {self.band!r}")
        if self.codec is not None:
            codec = get_codec(self.codec)
            if self.rate not in codec.rates:
                raise BenchError(f"codec {codec.name} runs at {', '.join(map(str, codec.rates))} Hz, not {self.rate}")
        elif self.loss or self.jitter_ms:
            raise BenchError("packet loss and jitter act on codec packets: give a codec too")
        check_rate(self.loss)
        if self.noise is not None and self.noise not in NOISES:
            raise BenchError(f"noise must be one of {', '.join(NOISES)}, got {self.noise!r}")
        if (self.noise is None) != (self.snr_db is None):
            raise BenchError("give noise and an SNR together")
        if self.snr_db is not None:
            check_snr(self.snr_db)
        check_burst(self.burst)
        return self


PROFILES: dict[str, Chain] = {
    "pstn-g711u": Chain(rate=8000, band="pstn", codec="g711u",
                        note="a landline: 300-3,400 Hz, 8 kHz, G.711 mu-law (North America, Japan)"),
    "pstn-g711a": Chain(rate=8000, band="pstn", codec="g711a", note="a landline: 300-3,400 Hz, 8 kHz, G.711 A-law"),
    "mobile-amr-nb": Chain(rate=8000, band="pstn", codec="amr-nb", bitrate=12200,
                           note="a mobile call: AMR-NB at 12.2 kbit/s (its highest mode)"),
    "mobile-amr-nb-low": Chain(rate=8000, band="pstn", codec="amr-nb", bitrate=4750,
                               note="a mobile call in poor coverage: AMR-NB at 4.75 kbit/s (its lowest mode)"),
    "voip-opus-nb": Chain(rate=8000, codec="opus", bitrate=12000, note="VoIP, narrowband Opus at 12 kbit/s"),
    "voip-opus-wb": Chain(rate=16000, codec="opus", bitrate=24000, note="VoIP, wideband Opus at 24 kbit/s"),
    "voip-opus-loss5": Chain(rate=16000, codec="opus", bitrate=24000, loss=0.05, burst=2.0,
                             note="wideband Opus at 24 kbit/s, 5% packet loss in bursts of 2 (mean)"),
    "hd-g722": Chain(rate=16000, codec="g722", note="HD voice: G.722 at 64 kbit/s, 16 kHz"),
    "pstn-g711u-noisy": Chain(rate=8000, band="pstn", codec="g711u", noise="pink", snr_db=15.0,
                              note="a landline from a noisy place: pink noise at 15 dB SNR, then G.711 mu-law"),
}


def chain_for(profile: str | None = None, **parts: Any) -> Chain:
    """The chain of a named profile with ``parts`` overriding its settings (or parts alone), checked."""
    if profile is not None and profile not in PROFILES:
        raise BenchError(f"unknown channel profile {profile!r}; known: {', '.join(PROFILES)}")
    base = PROFILES[profile] if profile else Chain()
    known = {f.name for f in fields(Chain)}
    unknown = sorted(set(parts) - known)
    if unknown:
        raise BenchError(f"unknown channel setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return replace(base, **{k: v for k, v in parts.items() if v is not None}).check()


def _band_limit(x: np.ndarray, rate: int, band: str) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    lo, hi = BANDS[band]
    sos = butter(4, [lo, min(hi, 0.45 * rate)], btype="bandpass", fs=rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def apply(x: np.ndarray, chain: Chain, seed: int, sr: int = 16000,
          others: list[np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """``x`` (float32 at ``sr``) through ``chain``; returns (audio at the chain's rate, that rate). The same
    seed gives the same output; ``others`` are the recordings babble noise is made of."""
    rng = np.random.default_rng(seed)
    y = np.asarray(x, np.float32)
    if chain.noise is not None:
        n = babble(others or [], len(y), rng) if chain.noise == "babble" else generated(chain.noise, len(y), rng)
        y = add_at_snr(y, n, chain.snr_db)
    y = resample(y, sr, chain.rate)
    if chain.band:
        y = _band_limit(y, chain.rate, chain.band)
    if chain.codec:
        codec = get_codec(chain.codec)
        packets: list[bytes | None] = list(encode(y, codec, chain.rate, chain.bitrate))
        lost = gilbert_elliott(len(packets), chain.loss, chain.burst, rng) | \
            jitter_drops(len(packets), chain.jitter_ms, chain.buffer_ms, rng)
        packets = [None if gone else p for p, gone in zip(packets, lost, strict=True)]
        y = decode(packets, codec, chain.rate, len(y))
    return np.clip(y, -1.0, 1.0).astype(np.float32), chain.rate
