"""The command line of training: ``python -m dreamer_lite.train [options]``.

    python -m dreamer_lite.train --task cartpole_swingup --preset cpu --obs state --minutes 30
    python -m dreamer_lite.train --task walker_walk --preset paper --device cuda --set horizon=10

Every ``Config`` field can be set with ``--set FIELD=VALUE`` (typed by ``config.parse_value``).
A mistake in the input ends with one line on stderr and exit status 2; ``--debug`` (or
``DREAMER_LITE_DEBUG=1``) shows the traceback. Rerunning the same command resumes the run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from dreamer_lite.config import OBS_TYPES, PRESETS, Config, ConfigError
from dreamer_lite.envs import UnknownTaskError, make_task_env, split_task
from dreamer_lite.rundir import RunDirError
from dreamer_lite.train import Trainer, drive


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m dreamer_lite.train``."""
    parser = argparse.ArgumentParser(
        prog="python -m dreamer_lite.train",
        description="Train Dreamer on a DeepMind Control Suite task.",
    )
    parser.add_argument("--task", default="cartpole_balance", help="domain_task, e.g. walker_walk")
    parser.add_argument("--preset", default="cpu", choices=list(PRESETS))
    parser.add_argument("--logdir", default=None, help="default: runs/<task>-<preset>")
    parser.add_argument(
        "--steps", type=int, default=None, help="total env steps (overrides preset)"
    )
    parser.add_argument("--minutes", type=float, default=None, help="stop after this wall-clock")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--obs", default=None, choices=OBS_TYPES, help="observation type")
    parser.add_argument(
        "--set",
        nargs="*",
        action="extend",
        default=[],
        metavar="FIELD=VALUE",
        help="override any Config field, e.g. --set horizon=10 objective=contrastive",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks (or DREAMER_LITE_DEBUG=1)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, train, and print where the results are.

    A mistake in the input (a bad value, an unknown task, an unusable run folder) ends with one
    line on stderr and exit status 2, like argparse's own errors; ``--debug`` (or the
    environment variable ``DREAMER_LITE_DEBUG=1``) shows the full traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("DREAMER_LITE_DEBUG", "") not in ("", "0")
    fixed: dict[str, Any] = {"task": args.task, "seed": args.seed, "device": args.device}
    if args.steps is not None:
        fixed["total_steps"] = args.steps
    if args.obs is not None:
        fixed["obs_type"] = args.obs
    logdir = Path(args.logdir or f"runs/{args.task}-{args.preset}")
    try:
        cfg = Config.from_overrides(args.set, args.preset, **fixed)
        split_task(cfg.task)  # an unknown task fails here, before anything is written
        trainer = Trainer(cfg, logdir, make_task_env, None, progress=True)
    except (ConfigError, RunDirError, UnknownTaskError) as error:
        if debug:
            raise
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    history = drive(trainer, max_minutes=args.minutes)
    evals = history.get("eval", [])
    if evals:
        last = evals[-1]
        print(f"final evaluation return: {last['return']:.1f} at {last['env_steps']} env steps")
    print(f"learning curve: {logdir / 'curve.png'}; videos: {logdir / 'videos'}")
