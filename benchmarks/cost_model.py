"""The cost model of docs/cluster.md: work x measured speed -> core-hours -> wall time on a cluster and money.

    core-hours = trials x CPU seconds per trial / 3600        (a fixed-window protocol: AASIST official)
               = audio hours / (x real time per core)          (everything that reads the whole clip)
    wall hours = core-hours / (machines x cores x efficiency)  (efficiency: the measured 2-worker speed-up / 2)
    money      = machines x wall hours x cores x price per core-hour

Every speed default below is a figure recorded in BENCHMARKS.md (the section is named beside it); the
price is an example to replace with yours, and the mean clip length of a Pitch-size job is the simulated
corpus's (Pitch publishes no durations). Run `bench data field-info DATASET --durations` on your copy of a
dataset for its exact audio hours.

Run: python benchmarks/cost_model.py [--price-per-core-hour 0.04] [--machines 10] [--cores 32]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402

# BENCHMARKS.md "The field's datasets at scale (issue #26)", benchmarks/ray_scaling.py on AMD EPYC 2 cores: the
# official AASIST checkpoint, official protocol (the first 64,600 samples of every trial, so its cost does not
# grow with the clip), local engine, one worker: CPU seconds per trial
AASIST_OFFICIAL_CPU_S_PER_TRIAL = 1.113
# same run: the Ray engine's 2-worker speed-up on this 2-core machine (the local engine's: 1.98x)
TWO_WORKER_SPEEDUP = 1.68
# BENCHMARKS.md "A neural offline attacker" (issue #24), AMD EPYC: generator speed, x real time on one core
WORLD_X_REAL_TIME = 21.8
WORLD_HIFIGAN_X_REAL_TIME = 1.36
# BENCHMARKS.md "pitch-lite 1.1" (issue #26), benchmarks/pitch_lite_rtfx.py on AMD EPYC, one core: recipe 1.1,
# the slower of two runs on 2026-12-07 (15.3x and 14.4x)
PITCH_LITE_X_REAL_TIME = 14.4
# the simulated corpus's mean one-sentence clip (bench data info): Pitch's clips are one sentence too
MEAN_CLIP_S = 4.26
ASVSPOOF2021_DF_TRIALS = 611_829  # keys/DF/CM/trial_metadata.txt, every subset
PITCH_ORIGINALS, PITCH_FAKES = 18_600, 1_600_000  # Pitch Sec. 4 (quoted)


def project(core_hours: float, machines: int, cores: int, efficiency: float, price: float) -> tuple[float, float]:
    """(wall hours, money) of ``core_hours`` of work on ``machines`` x ``cores`` at ``efficiency``."""
    wall = core_hours / (machines * cores * efficiency)
    return wall, machines * cores * wall * price


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--price-per-core-hour", type=float, default=0.04, help="example price (USD); set yours")
    ap.add_argument("--machines", type=int, default=10)
    ap.add_argument("--cores", type=int, default=32, help="cores per machine")
    ap.add_argument("--efficiency", type=float, default=TWO_WORKER_SPEEDUP / 2,
                    help="parallel efficiency per core (default: the measured 2-worker speed-up / 2)")
    ap.add_argument("--mean-clip-s", type=float, default=MEAN_CLIP_S)
    args = ap.parse_args()
    pitch_audio_h = (PITCH_ORIGINALS + PITCH_FAKES) * args.mean_clip_s / 3600
    fake_audio_h = PITCH_FAKES * args.mean_clip_s / 3600
    jobs = [
        ("ASVspoof 2021 DF, every trial: AASIST official protocol", f"{ASVSPOOF2021_DF_TRIALS:,} trials",
         ASVSPOOF2021_DF_TRIALS * AASIST_OFFICIAL_CPU_S_PER_TRIAL / 3600),
        ("Pitch-size job: generate 1.6 M fakes with world", f"{fake_audio_h:,.0f} h of fakes",
         fake_audio_h / WORLD_X_REAL_TIME),
        ("Pitch-size job: generate 1.6 M fakes with world-hifigan (CPU)", f"{fake_audio_h:,.0f} h of fakes",
         fake_audio_h / WORLD_HIFIGAN_X_REAL_TIME),
        ("Pitch-size job: score 1.62 M calls with pitch-lite 1.1", f"{pitch_audio_h:,.0f} h of audio",
         pitch_audio_h / PITCH_LITE_X_REAL_TIME),
    ]
    rows = []
    for name, work, core_hours in jobs:
        wall, money = project(core_hours, args.machines, args.cores, args.efficiency, args.price_per_core_hour)
        one_core_days = core_hours / 24
        rows.append([name, work, f"{core_hours:,.0f}", f"{one_core_days:,.1f}", f"{wall:,.1f}",
                     f"{money:,.0f}"])
    print(header("Cost model: projected time and money (docs/cluster.md)"))
    print(f"- {args.machines} machines x {args.cores} cores, efficiency {args.efficiency:.2f} per core (measured "
          f"2-worker speed-up / 2), example price {args.price_per_core_hour} USD per core-hour (an assumption: set "
          f"yours); mean clip {args.mean_clip_s} s (the simulated corpus's one-sentence mean: Pitch publishes no "
          "durations); CPU only (no GPU figure was measured here)\n")
    print(table(["job", "work", "core-hours", "days on one core", f"wall hours on {args.machines} machines",
                 "USD"], rows))


if __name__ == "__main__":
    main()
