"""The training loop: collect, learn the model, learn behaviour in imagination, evaluate.

    python -m dreamer_lite.train --task cartpole_swingup --preset cpu --logdir runs/cartpole

or from a notebook: ``history = train(Config.cpu(task=...), "runs/x")`` (notebook 05).

The schedule (the paper's, in env steps): ``seed_episodes`` of random actions, ``train_steps``
updates before the first policy step, then ``train_steps`` updates every ``train_every`` env
steps while collecting with exploration noise, an evaluation with the actor's mode every
``eval_every`` env steps, and a checkpoint every ``checkpoint_every`` env steps.

What lands in the logdir:
    config.json       the run's Config (a rerun must match it; it resumes)
    episodes/         one .npz per finished episode (the replay buffer, on disk)
    checkpoint.pt     networks, optimizers, counters and random states (atomic)
    metrics.jsonl     one JSON record per episode / training phase / evaluation, with its
                      ``wall_time`` (seconds since the epoch)
    curve.png         the learning curve; videos/ the policy and open-loop prediction videos

Killed at any moment (even SIGKILL), rerunning the same command resumes from the last checkpoint
and the episodes on disk, losing at most the unfinished episode.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamer_lite.agent import Dreamer, NonFiniteLossError
from dreamer_lite.checkpoint import (
    load_checkpoint,
    random_states,
    save_checkpoint,
    seed_everything,
    set_random_states,
)  # fmt: skip
from dreamer_lite.config import Config
from dreamer_lite.replay import ReplayBuffer
from dreamer_lite.rollout import (
    EpisodeRecorder,
    random_action,
    random_policy_return,
    run_episode,
)  # fmt: skip
from dreamer_lite.schedule import updates_due

# Fields that may differ when a run is resumed: they change how it runs, not what it learns.
RESUMABLE_FIELDS = {"total_steps", "eval_every", "eval_episodes", "checkpoint_every", "device",
                    "torch_threads", "compile", "extra"}  # fmt: skip


def make_task_env(cfg: Config, seed: int):
    """The environment a config asks for (real DMC)."""
    from dreamer_lite.envs import make_env

    return make_env(
        cfg.task, obs_type=cfg.obs_type, action_repeat=cfg.action_repeat,
        time_limit=cfg.time_limit, size=cfg.image_size, seed=seed, shadows=cfg.shadows,
    )  # fmt: skip


def load_history(logdir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read ``metrics.jsonl`` into ``{"episode": [...], "train": [...], "eval": [...]}``."""
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    path = Path(logdir) / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                history[record["kind"]].append(record)
    return dict(history)


class FreeNatsWatch:
    """Warns once when the KL has stayed below ``free_nats`` for ``phases`` training phases.

    Below free nats the KL term is a constant: neither the prior nor the posterior gets any
    gradient from it, so the prior (the only thing imagination uses) does not learn and the
    actor trains on dreams that drift from reality. Small models and vector observations can
    sit there for a whole run; lowering ``free_nats`` fixes it (the CPU preset uses 1.0).
    """

    def __init__(self, free_nats: float, phases: int = 10) -> None:
        self.free_nats, self.phases, self.streak, self.warned = free_nats, phases, 0, False

    def observe(self, fraction_below: float) -> bool:
        """Record one phase's fraction of updates with KL < free nats; True when it warns."""
        self.streak = self.streak + 1 if fraction_below >= 1.0 else 0
        if self.streak < self.phases or self.warned or self.free_nats <= 0:
            return False
        self.warned = True
        warnings.warn(
            f"KL(posterior || prior) has stayed below free_nats={self.free_nats} for "
            f"{self.streak} training phases: the prior gets no gradient, so imagination will not "
            f"follow reality. Lower it, e.g. --set free_nats=1.0 (see notebook 05).",
            RuntimeWarning, stacklevel=2,
        )  # fmt: skip
        return True


class _Run:
    """State of one training run; ``train`` below drives it."""

    def __init__(self, cfg: Config, logdir: Path, env_factory, callback, progress: bool) -> None:
        self.cfg, self.logdir, self.callback = cfg, logdir, callback
        self.progress = progress
        logdir.mkdir(parents=True, exist_ok=True)
        self._check_config()
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        seed_everything(cfg.seed)
        self.env = env_factory(cfg, cfg.seed)
        self.eval_env = env_factory(cfg, cfg.seed + 10_000)
        self.replay = ReplayBuffer(logdir / "episodes", cfg.replay_capacity, seed=cfg.seed)
        self.agent = Dreamer(cfg, self.env.obs_shape, self.env.action_dim, self.env.discrete)
        self.rng = np.random.default_rng(cfg.seed)
        self.kl_watch = FreeNatsWatch(cfg.free_nats)
        self.env_steps = 0
        self.last_episode = -1
        self.next = {"train": 0, "eval": cfg.eval_every, "checkpoint": cfg.checkpoint_every}
        self.resumed = self._resume()

    # --- bookkeeping -------------------------------------------------------------------------
    def _check_config(self) -> None:
        path = self.logdir / "config.json"
        if path.exists():
            saved = Config.from_dict(json.loads(path.read_text()))
            diff = {k: v for k, v in saved.diff(self.cfg).items() if k not in RESUMABLE_FIELDS}
            if diff:
                lines = ", ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in diff.items())
                raise ValueError(
                    f"{self.logdir} holds a run with a different config ({lines}). Use a new "
                    "--logdir, or the same settings to resume it."
                )
        path.write_text(self.cfg.to_json())

    def _resume(self) -> bool:
        path = self.logdir / "checkpoint.pt"
        if not path.exists():
            return False
        state = load_checkpoint(path, map_location=self.agent.device)
        self.agent.load_checkpoint_state(state["agent"])
        self.replay.load_state_dict(state["replay"])
        set_random_states(state["random"])
        self.rng.bit_generator.state = state["rng"]
        self.env_steps, self.next = state["env_steps"], state["next"]
        self.last_episode = state["last_episode"]
        # Episodes finished after the checkpoint are on disk: keep them and count their steps.
        for index, episode in zip(self.replay.episode_indices, self.replay.episodes):
            if index > self.last_episode:
                self.env_steps += (len(episode["reward"]) - 1) * self.cfg.action_repeat
                self.last_episode = index
        self._truncate_metrics()
        return True

    def _truncate_metrics(self) -> None:
        """Drop records logged after the resumed step (they will be produced again)."""
        path = self.logdir / "metrics.jsonl"
        if path.exists():
            keep = [
                line for line in path.read_text().splitlines()
                if line.strip() and json.loads(line)["env_steps"] <= self.env_steps
            ]  # fmt: skip
            path.write_text("".join(line + "\n" for line in keep))

    def save(self) -> None:
        save_checkpoint(self.logdir / "checkpoint.pt", {
            "agent": self.agent.checkpoint_state(), "replay": self.replay.state_dict(),
            "random": random_states(), "rng": self.rng.bit_generator.state,
            "env_steps": self.env_steps, "next": self.next, "last_episode": self.last_episode,
            "config": self.cfg.to_dict(),
        })  # fmt: skip

    def log(self, kind: str, **values: Any) -> dict[str, Any]:
        # wall_time (seconds since the epoch) dates every record: wall-clock per env step and
        # "minutes to reach a return" come from it, across resumes too.
        record = {"kind": kind, "env_steps": self.env_steps, **values,
                  "wall_time": round(time.time(), 1)}  # fmt: skip
        with open(self.logdir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.callback is not None:
            self.callback(record)
        return record

    # --- the three activities ----------------------------------------------------------------
    def store(self, recorder: EpisodeRecorder, phase: str) -> None:
        path = self.replay.add_episode(recorder.episode())
        self.last_episode = int(path.name.split("-")[0])
        self.log("episode", phase=phase, length=len(recorder), **{"return": recorder.total_reward})

    def learn(self, steps: int) -> dict[str, float]:
        cfg, sums = self.cfg, defaultdict(float)
        start = time.perf_counter()
        for _ in range(steps):
            batch = self.replay.sample(cfg.batch_size, cfg.seq_len)
            metrics = self.agent.update(batch)
            metrics["kl_below_free_nats"] = float(metrics["kl"] < cfg.free_nats)
            for key, value in metrics.items():
                sums[key] += value
        seconds = time.perf_counter() - start
        means = {k: v / steps for k, v in sums.items()}
        self.log("train", updates=self.agent.num_updates, updates_per_s=steps / seconds, **means)
        self.kl_watch.observe(means["kl_below_free_nats"])
        return means

    def evaluate(self, record_video: bool = False) -> float:
        frames: list[np.ndarray] = []
        returns = []
        for i in range(self.cfg.eval_episodes):
            policy = self._policy(explore=False)
            recorder, ep_frames = run_episode(
                self.eval_env, policy, render=record_video and i == 0, render_size=128
            )
            returns.append(recorder.total_reward)
            frames = frames or ep_frames
        mean = float(np.mean(returns))
        self.log("eval", **{"return": mean, "returns": returns})
        if record_video and frames:
            from dreamer_lite.viz import save_video

            save_video(self.logdir / "videos" / "policy.mp4", np.stack(frames), fps=30)
        return mean

    def _policy(self, explore: bool) -> Callable:
        def policy(obs: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
            action, state = self.agent.act(obs[None], state, explore=explore)
            return action[0], state

        return policy

    # --- the loop ----------------------------------------------------------------------------
    def run(self, max_seconds: float | None) -> None:
        cfg = self.cfg
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        bar = _progress(cfg.total_steps, self.env_steps, self.progress)
        while self.replay.num_episodes < cfg.seed_episodes and self.env_steps < cfg.total_steps:
            recorder, _ = run_episode(self.env, lambda o, s: (random_action(self.env, self.rng), None))
            self.env_steps += len(recorder) * cfg.action_repeat
            self.store(recorder, "seed")
            bar.update(len(recorder) * cfg.action_repeat)
        last_return = float("nan")
        while self.env_steps < cfg.total_steps:
            if deadline is not None and time.monotonic() > deadline:
                break
            obs = self.env.reset()
            recorder = EpisodeRecorder(obs, self.env.action_dim)
            policy, state, done = self._policy(explore=True), None, False
            while not done:
                updates, self.next["train"] = updates_due(
                    self.env_steps, self.next["train"], cfg.train_every, cfg.train_steps
                )
                if updates:
                    metrics = self.learn(updates)
                    bar.set_postfix(ret=f"{last_return:.0f}", upd=self.agent.num_updates,
                                    loss=f"{metrics.get('model_loss', float('nan')):.1f}")
                action, state = policy(obs, state)
                obs, reward, done, _ = self.env.step(action)
                recorder.add(action, reward, obs)
                self.env_steps += cfg.action_repeat
                bar.update(cfg.action_repeat)
            self.store(recorder, "train")
            last_return = recorder.total_reward
            if self.env_steps >= self.next["eval"]:
                self.evaluate(record_video=True)
                self.next["eval"] = self.env_steps + cfg.eval_every
            if self.env_steps >= self.next["checkpoint"]:
                self.save()
                self.next["checkpoint"] = self.env_steps + cfg.checkpoint_every
        bar.close()


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", desc="env steps", disable=not enabled,
                dynamic_ncols=True)  # fmt: skip


def train(
    cfg: Config,
    logdir: str | Path,
    *,
    max_minutes: float | None = None,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    env_factory: Callable[[Config, int], Any] = make_task_env,
    final_media: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Train (or resume) a Dreamer agent; return its history (see ``load_history``).

    Args:
        cfg: what to train. ``cfg.total_steps`` env steps in all, counting earlier sessions.
        logdir: where replay, checkpoints, metrics and media go; an existing run there resumes.
        max_minutes: stop (after saving) once this much wall-clock has passed.
        progress: show a tqdm progress bar.
        callback: called with every metrics record as it is logged (for live plots).
        env_factory: ``(cfg, seed) -> env``; the real DMC task by default (tests pass fakes).
        final_media: at the end, evaluate, write the learning curve and the videos.
    """
    logdir = Path(logdir)
    run = _Run(cfg, logdir, env_factory, callback, progress)
    try:
        run.run(None if max_minutes is None else 60.0 * max_minutes)
    except NonFiniteLossError as err:
        run.save()
        raise NonFiniteLossError(f"{err} (env step {run.env_steps}); checkpoint saved") from err
    except KeyboardInterrupt:
        run.save()
        raise
    run.save()
    if final_media:
        evals = load_history(logdir).get("eval", [])
        if not evals or evals[-1]["env_steps"] != run.env_steps:
            run.evaluate(record_video=True)
        write_media(run, logdir)
    return load_history(logdir)


def random_baseline(run: _Run, logdir: Path, episodes: int = 3) -> float:
    """Mean return of uniform random actions on the run's task, measured once and cached."""
    path = logdir / "random_return.json"
    if path.exists():
        return float(json.loads(path.read_text())["return"])
    value = random_policy_return(run.eval_env, episodes=episodes, seed=run.cfg.seed)
    path.write_text(json.dumps({"return": value, "episodes": episodes}))
    return value


def write_media(run: _Run, logdir: Path) -> None:
    """The learning curve PNG (with the random policy's return) and, for pixel models, the
    open-loop prediction video."""
    from dreamer_lite.viz import open_loop_strip, plot_learning_curve, save_video

    random_return = random_baseline(run, logdir)
    plot_learning_curve(load_history(logdir), logdir / "curve.png", task=run.cfg.task,
                        random_return=random_return,
                        title=f"{run.cfg.task} ({run.cfg.obs_type}, action repeat "
                              f"{run.cfg.action_repeat})")  # fmt: skip
    model = run.agent.world_model
    if model.decoder is not None and model.pixels:
        length = min(run.cfg.episode_length, 50)
        batch = run.replay.sample(4, length + 1, device=run.agent.device)
        out = model.open_loop(batch, context=5)
        strip = open_loop_strip(out["truth"], out["model"], upscale=2)
        save_video(logdir / "videos" / "open_loop.mp4", strip, fps=10)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m dreamer_lite.train``."""
    parser = argparse.ArgumentParser(prog="python -m dreamer_lite.train",
                                     description="Train Dreamer on a DeepMind Control Suite task.")
    parser.add_argument("--task", default="cartpole_balance", help="domain_task, e.g. walker_walk")
    parser.add_argument("--preset", default="cpu", choices=["paper", "cpu", "tiny"])
    parser.add_argument("--logdir", default=None, help="default: runs/<task>-<preset>")
    parser.add_argument("--steps", type=int, default=None, help="total env steps (overrides preset)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this wall-clock")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--obs", default=None, choices=["pixels", "state"], help="observation type")
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="FIELD=VALUE",
                        help="override any Config field, e.g. --set horizon=10 objective=contrastive")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {"task": args.task, "seed": args.seed, "device": args.device}
    if args.steps is not None:
        overrides["total_steps"] = args.steps
    if args.obs is not None:
        overrides["obs_type"] = args.obs
    overrides.update(parse_overrides(args.set))
    cfg = Config.preset(args.preset, **overrides)
    logdir = Path(args.logdir or f"runs/{args.task}-{args.preset}")
    history = train(cfg, logdir, max_minutes=args.minutes)
    evals = history.get("eval", [])
    if evals:
        print(f"final evaluation return: {evals[-1]['return']:.1f} at {evals[-1]['env_steps']} env steps")
    print(f"learning curve: {logdir / 'curve.png'}; videos: {logdir / 'videos'}")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["horizon=10", "shadows=false"]`` -> typed values for ``Config`` fields."""
    import dataclasses

    types = {f.name: f.type for f in dataclasses.fields(Config)}
    defaults = Config().to_dict()
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in types:
            raise SystemExit(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {sorted(types)}")
        kind = type(defaults[name])
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                out[name] = text.lower() in ("true", "1", "yes")
            else:
                out[name] = kind(float(text)) if kind is int else kind(text)
        except ValueError:
            raise SystemExit(f"--set {item!r}: {text!r} is not a valid {kind.__name__}") from None
    return out


if __name__ == "__main__":
    main()
