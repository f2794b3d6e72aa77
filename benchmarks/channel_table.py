"""Every detector, clean and over the phone: the table issue #23 asks for, made with bench's own commands.

For each profile, `bench data channel` passes the corpus and its fakes through it; `bench evaluate` scores them
with each detector (and the clean data too); `bench leaderboard build` puts the results on one board, whose
"Over the phone" table (AUROC [CI], EER, minDCF per channel, drop from clean) is printed for BENCHMARKS.md.

Run: python benchmarks/channel_table.py --corpus demo/corpus --fakes demo/fakes-world --out runs/phone \
        --detector lfcc-lcnn:model=lfcc-lcnn@1 --detector lcnn-aug=lfcc-lcnn:model=models/lcnn-aug \
        --detector pitch-lite:compliance=demo/compliance [--held-out-only] [--workers 2] \
        [--profiles pstn-g711u,mobile-amr-nb,voip-opus-nb,voip-opus-loss5,hd-g722]
A detector is [LABEL=]NAME[:KEY=VALUE,...]: LABEL names its results (two models of one detector need two labels).
Every step resumes: a rerun skips channels and results already written. After the board's table it prints, for
multi-seed models, each seed's AUROC mean +- std per channel (what tells a real difference from seed noise).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench, header  # noqa: E402

from bench.leaderboard.channels import markdown  # noqa: E402

DEFAULT_PROFILES = "pstn-g711u,mobile-amr-nb,voip-opus-nb,voip-opus-loss5,hd-g722"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--fakes", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--detector", action="append", required=True,
                    help="NAME[:KEY=VALUE[,KEY=VALUE]]: a detector and its --param settings (repeatable)")
    ap.add_argument("--profiles", default=DEFAULT_PROFILES)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--held-out-only", action="store_true", help="score only speakers each detector did not train on")
    args = ap.parse_args()
    data = {"clean": (args.corpus, args.fakes)}
    for profile in args.profiles.split(","):
        folder = args.out / "channels" / profile
        if not (folder / "fakes" / "bench.json").is_file():
            bench("data", "channel", str(args.corpus), str(folder), "--fakes", str(args.fakes), "--profile", profile,
                  "--seed", args.seed, "--workers", args.workers)
        data[profile] = (folder / "corpus", folder / "fakes")
    results, spreads = [], {}
    for spec in args.detector:
        label, name, flags = parse_detector(spec)
        for channel, (corpus, fakes) in data.items():
            out = args.out / "results" / f"{label}-{channel}"
            if not (out / "result.json").is_file():
                bench("evaluate", "--detector", name, *flags, "--corpus", str(corpus), "--fakes", str(fakes),
                      "--out", str(out), "--workers", args.workers, "--seed", args.seed,
                      *(["--held-out-only"] if args.held_out_only else []))
            results.append(str(out))
            spread = json.loads((out / "result.json").read_text()).get("seeds")
            if spread:
                spreads.setdefault(label, {})[channel] = spread["auroc"]
    board = args.out / "leaderboard"
    bench("leaderboard", "build", *results, "--out", str(board), "--overwrite")
    doc = json.loads((board / "leaderboard.json").read_text())
    print(header("Every detector over the phone (issue #23)"))
    print(f"corpus {args.corpus}, fakes {args.fakes} (say whether they are simulated), profiles {args.profiles}, "
          f"seed {args.seed}; board: {board}")
    print("\n".join(markdown(doc.get("channels"))))
    if spreads:
        channels = list(data)
        print("\n**AUROC % per training seed, each seed's model scored alone: mean +- std (seeds)**\n")
        print("| model | " + " | ".join(channels) + " |\n|---|" + "---|" * len(channels))
        for label, per in spreads.items():
            print(f"| {label} | " + " | ".join(seed_cell(per.get(ch)) for ch in channels) + " |")


def parse_detector(spec: str) -> tuple[str, str, list[str]]:
    """``[LABEL=]NAME[:K=V,...]`` as (label, detector name, ``--param`` flags)."""
    head, _, params = spec.partition(":")
    label, _, name = head.rpartition("=")
    flags = [f for kv in params.split(",") if kv for f in ("--param", kv)]
    return label or name, name, flags


def seed_cell(spread: dict | None) -> str:
    """``mean +- std (n)`` of one channel's per-seed AUROCs, in %."""
    if not spread or spread.get("mean") is None:
        return "–"
    n = len([v for v in spread["values"] if v is not None])
    std = "" if spread.get("std") is None else f" +- {100 * spread['std']:.1f}"
    return f"{100 * spread['mean']:.1f}{std} ({n})"


if __name__ == "__main__":
    main()
