"""Summarise runs that differ only in their seed: per-seed returns, the median with a 95%
bootstrap interval, and a plot of the seeds with the interval band.

    python scripts/seeds.py runs/main_s1 runs/main_s2 runs/main_s3 --out docs/main_seeds.png

Prints, for the last evaluation step all runs share: each seed's return, then
``dreamer_lite.stats.describe`` of the final returns and of the mean of the last three shared
evaluations; names the median seed (the one whose final return is the median, for shipping).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dreamer_lite.rundir import load_history
from dreamer_lite.stats import describe, eval_curves
from dreamer_lite.viz import plot_seed_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (three or more)")
    parser.add_argument("--out", type=Path, help="PNG of the seeds and the band")
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    histories = [load_history(run) for run in args.runs]
    steps, returns = eval_curves(histories)  # (K,), (S, K)
    final = returns[:, -1]
    last3 = returns[:, -3:].mean(axis=1)
    print(f"shared evaluation steps: {steps[0]:,} ... {steps[-1]:,} ({len(steps)})")
    for run, history, value, mean3 in zip(args.runs, histories, final, last3):
        updates = max((r["updates"] for r in history.get("train", [])), default=0)
        minutes = (history["eval"][-1]["wall_time"] - history["episode"][0]["wall_time"]) / 60
        best = max(r["return"] for r in history["eval"])
        print(
            f"  {run}: final {value:.1f}, mean of last 3 {mean3:.1f}, best {best:.0f}"
            f"; {updates:,} updates, {minutes:.1f} min"
        )
    print(f"final return at {steps[-1]:,} env steps: {describe(final)}")
    print(f"mean of the last three evaluations: {describe(last3)}")
    order = np.argsort(final)
    print(f"median seed (by final return): {args.runs[order[(len(order) - 1) // 2]]}")
    if args.out:
        random_path = args.runs[0] / "random_return.json"
        random_return = (
            json.loads(random_path.read_text())["return"] if random_path.exists() else None
        )
        plot_seed_curves(
            histories,
            args.out,
            labels=[run.name for run in args.runs],
            random_return=random_return,
            title=args.title,
        )
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
