"""Telephone and VoIP codecs through PyAV (FFmpeg): encode to codec packets, decode back, with lost packets
concealed. Which encoders a PyAV build has is checked up front (one line naming the missing one)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import BenchError


@dataclass(frozen=True)
class Codec:
    """One codec as bench uses it: FFmpeg's encoder and decoder names, the rates it runs at, its frame."""

    name: str
    encoder: str
    decoder: str
    rates: tuple[int, ...]  # sample rates the codec takes (Hz)
    frame_ms: float  # one packet's audio
    bitrates: tuple[int, ...] = ()  # allowed bit rates (bit/s); () = fixed by the codec
    #: what a lost packet becomes: "decoder" (the codec's own concealment: Opus, through libopus), "repeat" (the
    #: last frame again at half level) or "silence"
    concealment: str = "repeat"
    note: str = ""


CODECS: dict[str, Codec] = {c.name: c for c in (
    Codec("g711u", "pcm_mulaw", "pcm_mulaw", (8000,), 20.0, note="G.711 mu-law, 64 kbit/s (PSTN, North America)"),
    Codec("g711a", "pcm_alaw", "pcm_alaw", (8000,), 20.0, note="G.711 A-law, 64 kbit/s (PSTN, Europe)"),
    Codec("amr-nb", "libopencore_amrnb", "amrnb", (8000,), 20.0,
          bitrates=(4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200), note="AMR-NB (GSM/UMTS voice)"),
    Codec("opus", "libopus", "libopus", (8000, 16000), 20.0, bitrates=tuple(range(6000, 64001, 1000)),
          concealment="decoder", note="Opus (VoIP, WebRTC); narrowband at 8 kHz, wideband at 16 kHz"),
    Codec("g722", "g722", "g722", (16000,), 20.0, concealment="repeat", note="G.722, 64 kbit/s (HD voice)"),
)}


def get_codec(name: str) -> Codec:
    """The codec ``name``, checked against this PyAV build: BenchError naming a missing encoder or decoder."""
    import av

    codec = CODECS.get(name)
    if codec is None:
        raise BenchError(f"unknown codec {name!r}; known: {', '.join(CODECS)}")
    for kind, ffname in (("encoder", codec.encoder), ("decoder", codec.decoder)):
        if ffname not in av.codecs_available:
            raise BenchError(f"codec {name}: this PyAV/FFmpeg build has no {kind} {ffname!r} (bench needs a build "
                             f"with {codec.encoder}; the PyAV wheels on PyPI have it)")
    if codec.concealment == "decoder":
        from bench.channel.opus_plc import libopus

        libopus()  # its decoder conceals lost packets: a one-line error when the library cannot be loaded
    return codec


def frame_samples(codec: Codec, rate: int) -> int:
    """Samples in one packet at ``rate``."""
    return int(round(codec.frame_ms * rate / 1000))


def encode(x: np.ndarray, codec: Codec, rate: int, bitrate: int | None = None) -> list[bytes]:
    """Float audio at ``rate`` (mono, [-1, 1]) as the codec's packets, one per frame (the last frame padded)."""
    import av

    if rate not in codec.rates:
        raise BenchError(f"codec {codec.name} runs at {', '.join(map(str, codec.rates))} Hz, not {rate}")
    if bitrate is not None and codec.bitrates and bitrate not in codec.bitrates:
        raise BenchError(f"codec {codec.name}: bit rate {bitrate} is not one of {codec.bitrates[0]}-"
                         f"{codec.bitrates[-1]} bit/s" if codec.name == "opus" else
                         f"codec {codec.name}: bit rate {bitrate} is not one of {', '.join(map(str, codec.bitrates))}")
    enc = av.CodecContext.create(codec.encoder, "w")
    enc.sample_rate, enc.layout, enc.format = rate, "mono", "s16"
    if bitrate:
        enc.bit_rate = bitrate
    enc.open()
    n = frame_samples(codec, rate)
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
    pcm = np.pad(pcm, (0, -len(pcm) % n))
    packets: list[bytes] = []
    for i in range(0, len(pcm), n):
        frame = av.AudioFrame.from_ndarray(pcm[None, i:i + n], format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, i
        packets += [bytes(p) for p in enc.encode(frame)]
    packets += [bytes(p) for p in enc.encode(None)]
    return packets


def decode(packets: list[bytes | None], codec: Codec, rate: int, length: int) -> np.ndarray:
    """Decode packets to ``length`` float32 samples at ``rate``; a None packet (lost) is concealed as the codec
    says (:attr:`Codec.concealment`): by the decoder itself (Opus: libopus, :mod:`bench.channel.opus_plc`), else
    without giving the decoder anything, as a network would not."""
    if codec.concealment == "decoder":
        return _decode_opus(packets, codec, rate, length)
    import av

    dec = av.CodecContext.create(codec.decoder, "r")
    dec.sample_rate, dec.layout = rate, "mono"
    to_rate = av.AudioResampler(format="flt", layout="mono", rate=rate)
    n = frame_samples(codec, rate)
    out: list[np.ndarray] = []
    last = np.zeros(n, np.float32)
    for data in packets:
        if data is None:
            last = _conceal(last, codec.concealment)
            out.append(last)
            continue
        got = []
        for frame in dec.decode(av.Packet(data)):
            for f in to_rate.resample(frame):
                got.append(f.to_ndarray().reshape(-1).astype(np.float32))
        if got:
            y = np.concatenate(got)
            out.append(y)
            last = y[-n:] if len(y) >= n else np.pad(y, (n - len(y), 0))
    for f in to_rate.resample(None):
        out.append(f.to_ndarray().reshape(-1).astype(np.float32))
    y = np.concatenate(out) if out else np.zeros(0, np.float32)
    return np.pad(y, (0, max(0, length - len(y))))[:length]


def _decode_opus(packets: list[bytes | None], codec: Codec, rate: int, length: int) -> np.ndarray:
    """Opus packets through libopus at ``rate``; a lost one is libopus's packet-loss concealment of one frame."""
    from bench.channel.opus_plc import OpusDecoder

    dec = OpusDecoder(rate)
    try:
        n = frame_samples(codec, rate)
        y = np.concatenate([dec.decode(p, n) for p in packets]) if packets else np.zeros(0, np.float32)
    finally:
        dec.close()
    return np.pad(y, (0, max(0, length - len(y))))[:length]


def _conceal(last: np.ndarray, how: str) -> np.ndarray:
    """A lost frame: the last one again at half its level (repeated losses fade out), or silence."""
    return np.zeros_like(last) if how == "silence" else (last * 0.5).astype(np.float32)
