"""`world`: one-shot voice conversion with the WORLD vocoder (the offline default attacker).

Recipe (bench's own, shared with `world-hifigan` in `bench.dsp.world_conversion`): the
source's log-F0 is mapped to the target's log-F0 mean and standard deviation; its spectral
envelope is frequency-warped by the factor that best matches the target's long-term
envelope (a vocal-tract-length change); a smoothed long-term equalisation then moves the
remaining spectral balance toward the target. WORLD renders the result.

Speed: DIO + StoneMask F0, CheapTrick envelope at 5 ms, D4C aperiodicity computed on a
10 ms grid and interpolated (it dominates the cost and is smooth in time), all warps and
the equalisation vectorised over frames.
"""

from __future__ import annotations

import numpy as np

from bench.api import GENERATORS, SAMPLE_RATE, BenchError, Generator, PluginMeta
from bench.dsp import world
from bench.dsp.world_conversion import WorldConverter, WorldTarget, match_level, prepare_target


@GENERATORS.register(PluginMeta(
    name="world", version="1.0", license="Apache-2.0 (bench); WORLD: modified BSD",
    description="One-shot WORLD voice conversion: log-F0 mean/std matching, vocal-tract warp fitted to the "
                "target's long-term envelope, smoothed long-term equalisation.",
    reference="M. Morise, F. Yokomori, K. Ozawa, WORLD: a vocoder-based high-quality speech synthesis system for "
              "real-time applications, IEICE Trans. Inf. & Syst. E99-D(7), 2016 (github.com/mmorise/World)",
    sample_rate=SAMPLE_RATE, devices=["cpu"], assets=[], offline=True,
))
class WorldVC(Generator):
    """WORLD-based one-shot voice conversion."""

    context_ms = 300.0

    def __init__(self, warp_min: float = 0.75, warp_max: float = 1.35, warp_steps: int = 61,
                 eq_ceps: int = 40, eq_max_db: float = 18.0) -> None:
        if not (0.3 <= warp_min <= warp_max <= 3.0 and 1 <= warp_steps <= 1001 and 1 <= eq_ceps <= 512
                and 0 <= eq_max_db <= 60):
            raise BenchError("world: need 0.3 <= warp_min <= warp_max <= 3, 1 <= warp_steps <= 1001, "
                             "1 <= eq_ceps <= 512 and 0 <= eq_max_db <= 60 (got "
                             f"{warp_min}, {warp_max}, {warp_steps}, {eq_ceps}, {eq_max_db})")
        super().__init__(warp_min=warp_min, warp_max=warp_max, warp_steps=warp_steps, eq_ceps=eq_ceps,
                         eq_max_db=eq_max_db)
        self.converter = WorldConverter(warp_min, warp_max, warp_steps, eq_ceps, eq_max_db)

    def prepare_target(self, reference: np.ndarray) -> WorldTarget:
        return prepare_target(reference)

    def convert(self, source: np.ndarray, target: WorldTarget) -> np.ndarray:
        if len(source) < SAMPLE_RATE * 0.05:
            return np.zeros_like(source, dtype=np.float32)
        f0, sp, ap = world.analyze(source, ap_step=2)
        out_f0, out_sp = self.converter.apply(f0, sp, self.converter.fit(f0, sp, target), target)
        y = world.synthesize(out_f0, out_sp, ap, dtype=np.float64)[: len(source)]
        return match_level(np.pad(y, (0, len(source) - len(y))), source)
