"""A call heard through a telephone channel (``bench stream --channel``, ``bench latency --channel``): the
audio goes through a channel profile (:mod:`bench.channel.profiles`) and reaches the server as the line delivers
it: G.711 lines as G.711 bytes at 8 kHz (what a phone switch sends), every other codec decoded to 16-bit PCM at
the line's rate (8 kHz narrowband, 16 kHz wideband), as a media gateway hands it on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.channel.g711 import LAWS
from bench.channel.profiles import Chain, apply, chain_for
from bench.serve.protocol import PCM

#: bench's G.711 codecs -> their wire encoding
WIRE = {codec: encoding for encoding, codec in LAWS.items()}


@dataclass(frozen=True)
class PhoneLine:
    """One channel profile as a call's line: its chain, the wire encoding it gives, and the channel seed."""

    profile: str
    chain: Chain
    seed: int = 0

    @property
    def encoding(self) -> str:
        """pcm_mulaw / pcm_alaw for a G.711 line, pcm_s16le otherwise."""
        return WIRE.get(self.chain.codec or "", PCM)

    @property
    def rate(self) -> int:
        return self.chain.rate

    def apply(self, x16k: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        """16 kHz audio through the line: (samples at the line's rate, that rate)."""
        return apply(np.asarray(x16k, dtype=np.float32), self.chain, seed, sr=16000)

    def to_dict(self) -> dict[str, Any]:
        """What a result records about the line."""
        return {"profile": self.profile, "chain": self.chain.to_dict(), "seed": self.seed,
                "encoding": self.encoding, "sample_rate": self.rate}


def phone_line(profile: str, seed: int = 0) -> PhoneLine:
    """The line of a named profile (``bench data channels``); one-line BenchError for an unknown profile or a
    codec this PyAV build lacks."""
    return PhoneLine(profile, chain_for(profile), seed)


def clean_line() -> dict[str, Any]:
    """What a result records for a call streamed without a channel: wideband 16-bit PCM."""
    return {"profile": None, "encoding": PCM, "sample_rate": 16000}
