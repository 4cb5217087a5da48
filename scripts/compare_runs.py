"""Compare groups of seeds by wall-clock: what each run had shown by minute t, per group.

    python scripts/compare_runs.py --group "CPU preset" runs/pix60_s0 runs/pix60_s1 runs/pix60_s2 \
        --group "train_every=1000" runs/pix60te_s0 runs/pix60te_s1 runs/pix60te_s2 \
        --at 15 30 45 60 --out docs/pixels_balance_60min_compare.png

A run's return "at minute t" is its latest evaluation that had finished by t (minutes counted from
its first logged episode), so configurations that evaluate at different env steps can be compared
by the clock, which is what a learner waits on. Prints, per group and minute, each seed's value and
the median with its 95% bootstrap interval (``dreamer_lite.stats.describe``); plots the seeds
(thin) and each group's median (thick) against minutes and against env steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from dreamer_lite.rundir import load_history
from dreamer_lite.stats import describe


def eval_points(history: dict[str, list[dict[str, Any]]]) -> list[tuple[float, int, float]]:
    """A run's evaluations as ``(minutes since its first episode, env steps, return)``."""
    if not history.get("episode"):
        return []  # nothing collected yet, so nothing evaluated either
    start = history["episode"][0]["wall_time"]
    return [
        ((r["wall_time"] - start) / 60, r["env_steps"], r["return"])
        for r in history.get("eval", [])
    ]


def return_at(points: list[tuple[float, int, float]], minutes: float) -> float | None:
    """The return of the latest evaluation finished by ``minutes`` (None before the first)."""
    shown = [ret for at, _, ret in points if at <= minutes]
    return shown[-1] if shown else None


def parse_groups(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--group",
        nargs="+",
        action="append",
        required=True,
        metavar=("NAME", "RUN"),
        help="a label, then its run folders (repeat the option for each group)",
    )
    parser.add_argument("--at", nargs="+", type=float, default=[15, 30, 45, 60], help="minutes")
    parser.add_argument("--out", type=Path, help="PNG of the comparison")
    args = parser.parse_args(argv)
    for group in args.group:
        if len(group) < 2:
            parser.error(f"--group {group[0]!r} names no run folder: --group NAME RUN [RUN ...]")
        missing = [run for run in group[1:] if not (Path(run) / "metrics.jsonl").exists()]
        if missing:
            parser.error(f"no metrics.jsonl in {', '.join(missing)}: pass run folders of train")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_groups(argv)
    groups = {g[0]: [eval_points(load_history(run)) for run in g[1:]] for g in args.group}
    for group in args.group:
        for run, points in zip(group[1:], groups[group[0]]):
            if not points:
                raise SystemExit(f"{run} has logged no evaluation yet: wait for its first one")
    for name, runs in groups.items():
        print(f"{name}:")
        for minutes in args.at:
            values = [return_at(points, minutes) for points in runs]
            shown = ", ".join("-" if v is None else f"{v:.0f}" for v in values)
            if any(v is None for v in values):
                print(f"  {minutes:5.0f} min: {shown} (a run had not evaluated yet)")
            else:
                print(f"  {minutes:5.0f} min: {shown} -> {describe(values)}")
    if args.out:
        plot(groups, args.out)
        print(f"wrote {args.out}")


def plot(groups: dict[str, list[list[tuple[float, int, float]]]], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.2))
    by_time, by_steps = fig.subplots(1, 2)
    for index, (name, runs) in enumerate(groups.items()):
        color = f"C{index}"
        for points in runs:
            minutes, steps, returns = zip(*points)
            by_time.step(minutes, returns, where="post", color=color, lw=0.7, alpha=0.45)
            by_steps.plot(steps, returns, color=color, lw=0.7, alpha=0.45)
        end = min(points[-1][0] for points in runs)
        grid = np.linspace(0, end, 200)
        values = [[return_at(points, t) for points in runs] for t in grid]
        keep = [i for i, row in enumerate(values) if None not in row]
        median = [float(np.median(values[i])) for i in keep]
        by_time.plot(
            grid[keep], median, color=color, lw=2.2, label=f"{name}: median of {len(runs)}"
        )
        by_steps.plot([], [], color=color, lw=2.2, label=name)
    by_time.set_xlabel("wall-clock minutes (latest evaluation shown by then)")
    by_steps.set_xlabel("env steps")
    for ax in (by_time, by_steps):
        ax.set_ylabel("evaluation return")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    by_time.set_title("by the clock: thin = seeds, thick = median")
    by_steps.set_title("by env steps: thin = seeds")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
