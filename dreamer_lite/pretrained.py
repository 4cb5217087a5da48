"""Trained agents that ship with the package, ready to act and to imagine.

Each agent is a folder under ``dreamer_lite/agents/`` (package data, so ``pip install`` from git
includes it):

    weights.pt      the networks' ``state_dict`` (world model, actor, critic; no optimizer state)
    config.json     the run's ``Config``
    metrics.jsonl   the run's log (``rundir.load_history`` reads it)
    card.json       where it came from: the command, seed, env steps, updates, the shapes the
                    networks were built for, and a check evaluation of these very weights
    curve.png       its learning curve
    policy.mp4      one evaluation episode of the final policy

Load one with ``agent, cfg, history = load_pretrained("cartpole_swingup-state")``. Make one from
a finished run with ``python -m dreamer_lite.pretrained export RUN_DIR NAME --command "..."``
(docs/RESULTS.md gives the command behind each shipped agent). Lessons 03, 05 and 06 use them.
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.checkpoint import load_checkpoint, seed_everything
from dreamer_lite.config import Config
from dreamer_lite.envs import make_task_env
from dreamer_lite.rollout import agent_policy, random_policy_return, run_episode
from dreamer_lite.rundir import atomic_write, load_history
from dreamer_lite.viz import plot_learning_curve

AGENTS_DIR = Path(__file__).parent / "agents"
REQUIRED_FILES = ("weights.pt", "config.json", "metrics.jsonl", "card.json")
MEDIA_FILES = ("curve.png", "policy.mp4")
CHECK_SEED = 20_000
"""Environment seed of the check evaluation stored in ``card.json`` (not a training seed)."""


class PretrainedError(ValueError):
    """A shipped agent that cannot be loaded; the message names the file and what to do."""


def available() -> list[str]:
    """Names of the shipped agents, sorted."""
    if not AGENTS_DIR.is_dir():
        return []
    return sorted(p.name for p in AGENTS_DIR.iterdir() if (p / "card.json").exists())


def agent_dir(name: str, root: Path | None = None) -> Path:
    """The folder of agent ``name``; an unknown name is an error listing the known ones."""
    root = AGENTS_DIR if root is None else Path(root)
    path = root / name
    if not path.is_dir():
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        raise PretrainedError(f"no shipped agent {name!r}. {hint}Shipped agents: {names}")
    for file in REQUIRED_FILES:
        if not (path / file).is_file():
            raise PretrainedError(
                f"{path / file} is missing: the agent folder is incomplete; reinstall the package "
                "(pip install --force-reinstall) or re-export the agent"
            )
    return path


def read_card(name: str, root: Path | None = None) -> dict[str, Any]:
    """The agent's ``card.json``: provenance and the check evaluation."""
    return _read_json(agent_dir(name, root) / "card.json")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PretrainedError(
            f"{path} is not valid JSON ({error}): the file is damaged; reinstall the package "
            "or re-export the agent"
        ) from None


def load_pretrained(
    name: str, device: str = "cpu", root: Path | None = None
) -> tuple[Dreamer, Config, dict[str, list[dict[str, Any]]]]:
    """A shipped agent ready to act (``agent.act``) and to imagine (``agent.world_model``).

    Args:
        name: one of ``available()``, e.g. ``"cartpole_swingup-state"``.
        device: where the networks go (``"cpu"``, ``"cuda"`` or ``"auto"``).
        root: the folder holding the agents (default: the package's own).

    Returns ``(agent, cfg, history)``: the ``Dreamer`` (networks in eval mode, fresh optimizers),
    its ``Config`` (with ``device`` as asked) and its training log as ``rundir.load_history``
    returns it.
    """
    path = agent_dir(name, root)
    card = _read_json(path / "card.json")
    try:
        cfg = Config.from_dict(_read_json(path / "config.json")).replace(device=device)
    except ValueError as error:
        raise PretrainedError(f"{path / 'config.json'} does not validate: {error}") from None
    try:
        weights = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged zip or pickle raises many types
        raise PretrainedError(
            f"{path / 'weights.pt'} cannot be read ({type(error).__name__}): the file is damaged "
            "or truncated; reinstall the package or re-export the agent"
        ) from error
    agent = Dreamer(cfg, tuple(card["obs_shape"]), int(card["action_size"]), card["discrete"])
    try:
        agent.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise PretrainedError(
            f"{path / 'weights.pt'} does not fit the networks its config.json describes "
            f"({first}); the files belong to different agents"
        ) from None
    agent.num_updates = int(card["updates"])
    agent.eval()
    return agent, cfg, load_history(path)


def evaluate(
    agent: Dreamer, cfg: Config, episodes: int = 1, seed: int = CHECK_SEED, render: bool = False
) -> tuple[list[float], list[np.ndarray]]:
    """Returns of ``episodes`` evaluation episodes (the actor's mode, no noise) on the real task,
    the environment seeded with ``seed``; with ``render``, the first episode's frames too."""
    seed_everything(seed)
    env = make_task_env(cfg, seed)
    returns, frames = [], []
    for i in range(episodes):
        recorder, ep_frames = run_episode(
            env, agent_policy(agent, explore=False), render=render and i == 0, render_size=128
        )
        returns.append(recorder.total_reward)
        frames = frames or ep_frames
    return returns, frames


def export(
    run_dir: str | Path,
    name: str,
    command: str,
    root: Path | None = None,
    check_episodes: int = 5,
    seed_runs: Sequence[str | Path] = (),
) -> Path:
    """Make a shipped agent from a finished run folder: networks only (no optimizer state), its
    config, log, curve and final policy video, and a card with a check evaluation of the
    exported weights (``check_episodes`` episodes, env seed ``CHECK_SEED``).

    ``seed_runs``: the folders of every seed of the same configuration, ``run_dir`` among them;
    their evaluation curves go into the card (``seed_runs``), so the shipped agent's place among
    its seeds can be checked (it should be the median) and lessons can show the spread."""
    run_dir = Path(run_dir)
    seed_runs = [Path(run) for run in seed_runs] or [run_dir]
    if run_dir.resolve() not in [run.resolve() for run in seed_runs]:
        raise PretrainedError(f"--seed-runs must include the exported run {run_dir}")
    root = AGENTS_DIR if root is None else Path(root)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    cfg = Config.from_dict(json.loads((run_dir / "config.json").read_text()))
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    networks = {k: v.clone() for k, v in state["agent"]["networks"].items()}
    atomic_write(out / "weights.pt", lambda file: torch.save(networks, file))
    atomic_write(out / "config.json", lambda file: file.write(_json_bytes(cfg.to_dict())))
    shutil.copyfile(run_dir / "metrics.jsonl", out / "metrics.jsonl")
    shutil.copyfile(run_dir / "videos" / "policy.mp4", out / "policy.mp4")  # the last evaluation
    env = make_task_env(cfg, 0)
    history = load_history(run_dir)
    last_eval = history["eval"][-1]
    # the run's own measurement (``train.write_media``), else measured the same way
    random_path = run_dir / "random_return.json"
    if random_path.exists():
        random_return = float(json.loads(random_path.read_text())["return"])
    else:
        eval_env = make_task_env(cfg, cfg.seed + 10_000)
        random_return = random_policy_return(eval_env, episodes=3, seed=cfg.seed)
    plot_learning_curve(
        history,
        out / "curve.png",
        task=cfg.task,
        random_return=random_return,
        title=f"{name}: {cfg.task} ({cfg.obs_type}, action repeat {cfg.action_repeat})",
    )
    card = {
        "name": name,
        "task": cfg.task,
        "obs_type": cfg.obs_type,
        "obs_shape": list(env.obs_shape),
        "action_size": env.action_dim,
        "discrete": env.discrete,
        "seed": cfg.seed,
        "env_steps": int(state["env_steps"]),
        "updates": int(state["agent"]["num_updates"]),
        "final_eval_env_steps": last_eval["env_steps"],
        "final_eval_return": last_eval["return"],
        "random_return": random_return,
        "command": command,
        "check_seed": CHECK_SEED,
        "check_returns": [],
        "seed_runs": [
            {
                "run": run.name,
                "seed": json.loads((run / "config.json").read_text())["seed"],
                "eval": [[r["env_steps"], r["return"]] for r in load_history(run)["eval"]],
            }
            for run in seed_runs
        ],
    }
    atomic_write(out / "card.json", lambda file: file.write(_json_bytes(card)))
    agent, loaded_cfg, _ = load_pretrained(name, root=root)
    card["check_returns"], _ = evaluate(agent, loaded_cfg, episodes=check_episodes)
    atomic_write(out / "card.json", lambda file: file.write(_json_bytes(card)))
    return out


def _json_bytes(values: dict[str, Any]) -> bytes:
    return (json.dumps(values, indent=2, sort_keys=True) + "\n").encode()


def main(argv: list[str] | None = None) -> None:
    """``python -m dreamer_lite.pretrained list`` or ``... export RUN_DIR NAME --command C``."""
    parser = argparse.ArgumentParser(
        prog="python -m dreamer_lite.pretrained", description="The shipped trained agents."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="list the shipped agents and their check returns")
    exp = sub.add_parser("export", help="make a shipped agent from a finished run folder")
    exp.add_argument("run_dir", type=Path)
    exp.add_argument("name")
    exp.add_argument("--command", required=True, help="the command that trained the run")
    exp.add_argument(
        "--seed-runs", nargs="*", type=Path, default=(), help="every seed's folder, RUN_DIR too"
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "export":
            out = export(args.run_dir, args.name, args.command, seed_runs=args.seed_runs)
            print(f"wrote {out}")
        for name in available():
            card = read_card(name)
            check = np.mean(card["check_returns"]) if card["check_returns"] else float("nan")
            print(
                f"{name:32s} {card['env_steps']:>7d} env steps  {card['updates']:>6d} updates  "
                f"final eval {card['final_eval_return']:6.1f}  check {check:6.1f}"
            )
    except (PretrainedError, FileNotFoundError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
