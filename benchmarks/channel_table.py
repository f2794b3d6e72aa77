"""Every detector, clean and over the phone: the table issue #23 asks for, made with bench's own commands.

For each profile, `bench data channel` passes the corpus and its fakes through it; `bench evaluate` scores them
with each detector (and the clean data too); `bench leaderboard build` puts the results on one board, whose
"Over the phone" table (AUROC [CI], EER, minDCF per channel, drop from clean) is printed for BENCHMARKS.md.

Run: python benchmarks/channel_table.py --corpus demo/corpus --fakes demo/fakes-world --out runs/phone \
        --detector lfcc-lcnn:model=lfcc-lcnn@1 --detector svm:model=svm@1 \
        --detector pitch-lite:compliance=demo/compliance [--workers 2] \
        [--profiles pstn-g711u,mobile-amr-nb,voip-opus-nb,voip-opus-loss5,hd-g722]
Every step resumes: a rerun skips channels and results already written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header  # noqa: E402

from bench.leaderboard.channels import markdown  # noqa: E402

DEFAULT_PROFILES = "pstn-g711u,mobile-amr-nb,voip-opus-nb,voip-opus-loss5,hd-g722"


def bench(*args: str) -> None:
    """Run one bench command; stop with its output if it fails."""
    res = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"bench {' '.join(args)} failed:\n{res.stderr[-2000:]}")


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
    args = ap.parse_args()
    data = {"clean": (args.corpus, args.fakes)}
    for profile in args.profiles.split(","):
        folder = args.out / "channels" / profile
        if not (folder / "fakes" / "bench.json").is_file():
            bench("data", "channel", str(args.corpus), str(folder), "--fakes", str(args.fakes), "--profile", profile,
                  "--seed", args.seed, "--workers", args.workers)
        data[profile] = (folder / "corpus", folder / "fakes")
    results = []
    for spec in args.detector:
        name, _, params = spec.partition(":")
        flags = [f for kv in params.split(",") if kv for f in ("--param", kv)]
        for channel, (corpus, fakes) in data.items():
            out = args.out / "results" / f"{name}-{channel}"
            if not (out / "result.json").is_file():
                bench("evaluate", "--detector", name, *flags, "--corpus", str(corpus), "--fakes", str(fakes),
                      "--out", str(out), "--workers", args.workers, "--seed", args.seed)
            results.append(str(out))
    board = args.out / "leaderboard"
    bench("leaderboard", "build", *results, "--out", str(board), "--overwrite")
    doc = json.loads((board / "leaderboard.json").read_text())
    print(header("Every detector over the phone (issue #23)"))
    print(f"corpus {args.corpus}, fakes {args.fakes} (say whether they are simulated), profiles {args.profiles}, "
          f"seed {args.seed}; board: {board}")
    print("\n".join(markdown(doc.get("channels"))))


if __name__ == "__main__":
    main()
