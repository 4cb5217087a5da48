"""The training loop: collect, learn the model, learn behaviour in imagination, evaluate.

    python -m dreamer_lite.train --task cartpole_swingup --preset cpu --logdir runs/cartpole

or from a notebook: ``history = train(Config.cpu(task=...), "runs/x")`` (notebook 05). With
``train(cfg, logdir, update_fn=update)`` the loop trains with your own ``update(agent, batch)``
instead of ``Dreamer.update`` (notebook 05's capstone).

The schedule (the paper's, in env steps): ``seed_episodes`` of random actions, ``train_steps``
updates before the first policy step, then ``train_steps`` updates every ``train_every`` env
steps while collecting with exploration noise, an evaluation with the actor's mode every
``eval_every`` env steps, and a checkpoint every ``checkpoint_every`` env steps. Every episode,
seed, training or evaluation, is played by ``rollout.run_episode``; with ``num_envs > 1`` the
collection plays rounds of one episode in each of N worker environments (``vecenv.run_round``),
counting the env steps of all of them. The updates of a phase take their batches from
``prefetch.Prefetcher``, which stacks the next one while the current update runs.

What lands in the logdir (``dreamer_lite.rundir``, which writes the bookkeeping files):
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

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamer_lite.agent import Dreamer, NonFiniteLossError
from dreamer_lite.allocator import keep_freed_memory
from dreamer_lite.checkpoint import (
    load_checkpoint,
    random_states,
    save_checkpoint,
    seed_everything,
    set_random_states,
)
from dreamer_lite.config import Config
from dreamer_lite.envs import make_task_env
from dreamer_lite.objectives import FreeNatsWatch
from dreamer_lite.prefetch import Prefetcher
from dreamer_lite.replay import ReplayBuffer
from dreamer_lite.rollout import EpisodeRecorder, agent_policy, random_policy, run_episode
from dreamer_lite.rundir import RunDir, RunDirError, load_history
from dreamer_lite.schedule import updates_due
from dreamer_lite.vecenv import ParallelEnvs, random_batch_policy, run_round


@dataclasses.dataclass
class DueSteps:
    """The env-step counts at which the next training phase, evaluation and checkpoint are due."""

    train: int
    eval: int
    checkpoint: int


UpdateFn = Callable[[Dreamer, dict[str, torch.Tensor]], dict[str, Any] | None]
"""``update_fn(agent, batch)``: one gradient step of the agent on a replay batch (``train``)."""


class Trainer:
    """One training run: its environments, replay, agent and counters. ``train`` drives it."""

    def __init__(
        self,
        cfg: Config,
        logdir: Path,
        env_factory,
        callback,
        progress: bool,
        update_fn: UpdateFn | None = None,
    ) -> None:
        """Set up (or resume) the run in ``logdir``; see ``train`` for the arguments."""
        self.cfg, self.callback, self.progress = cfg, callback, progress
        self.update_fn = update_fn
        self.rundir = RunDir(logdir)
        self.rundir.check_config(cfg)
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        keep_freed_memory()  # no page faults on every update's activations (allocator)
        seed_everything(cfg.seed)
        self.parallel = cfg.num_envs > 1  # rounds of num_envs episodes in worker processes
        if self.parallel:
            seeds = [cfg.seed + i for i in range(cfg.num_envs)]
            self.env = ParallelEnvs(env_factory, cfg, seeds)
        else:
            self.env = env_factory(cfg, cfg.seed)
        self.eval_env = env_factory(cfg, cfg.seed + 10_000)
        self.replay = ReplayBuffer(self.rundir.episodes_path, cfg.replay_capacity, seed=cfg.seed)
        self.agent = Dreamer(cfg, self.env.obs_shape, self.env.action_dim, self.env.discrete)
        self.rng = np.random.default_rng(cfg.seed)
        self.kl_watch = FreeNatsWatch(cfg.free_nats)
        self.env_steps = 0
        self.last_episode = -1
        self.last_return = float("nan")
        self.due = DueSteps(train=0, eval=cfg.eval_every, checkpoint=cfg.checkpoint_every)
        self.resumed = self.resume()

    # --- bookkeeping -------------------------------------------------------------------------
    def resume(self) -> bool:
        """Load the checkpoint if there is one, count the episodes finished after it, and drop
        the metrics logged after it. True when the run resumed."""
        if not self.rundir.checkpoint_path.exists():
            return False
        path = self.rundir.checkpoint_path
        try:
            state = load_checkpoint(path, map_location=self.agent.device)
        except Exception as error:  # a truncated zip, a foreign pickle, ...: name the file
            raise RunDirError(
                f"{path} cannot be read ({type(error).__name__}: {str(error).split('. ')[0]}). "
                "It is truncated or "
                "not a dreamer_lite checkpoint. Use a new --logdir, or restore the file (resuming "
                "from the episodes alone is not supported)."
            ) from error
        self.agent.load_checkpoint_state(state["agent"])
        self.replay.load_state_dict(state["replay"])
        set_random_states(state["random"])
        self.rng.bit_generator.state = state["rng"]
        self.env_steps, self.due = state["env_steps"], DueSteps(**state["next"])
        self.last_episode = state["last_episode"]
        # Episodes finished after the checkpoint are on disk: keep them and count their steps.
        for index, episode in zip(self.replay.episode_indices, self.replay.episodes):
            if index > self.last_episode:
                self.env_steps += (len(episode["reward"]) - 1) * self.cfg.action_repeat
                self.last_episode = index
        self.rundir.truncate_metrics(self.env_steps)
        return True

    def save(self) -> None:
        """Write the checkpoint: agent, replay sampler, random states and counters."""
        save_checkpoint(
            self.rundir.checkpoint_path,
            {
                "agent": self.agent.checkpoint_state(),
                "replay": self.replay.state_dict(),
                "random": random_states(),
                "rng": self.rng.bit_generator.state,
                "env_steps": self.env_steps,
                "next": dataclasses.asdict(self.due),
                "last_episode": self.last_episode,
                "config": self.cfg.to_dict(),
            },
        )

    def log(self, kind: str, **values: Any) -> dict[str, Any]:
        """Append a metrics record at the current env step and pass it to the callback."""
        record = self.rundir.log(kind, self.env_steps, **values)
        if self.callback is not None:
            self.callback(record)
        return record

    # --- the three activities ----------------------------------------------------------------
    def store(self, recorder: EpisodeRecorder, phase: str) -> None:
        """Add a finished episode to replay (a new file) and log its return."""
        path = self.replay.add_episode(recorder.episode())
        self.last_episode = int(path.name.split("-")[0])
        self.log("episode", phase=phase, length=len(recorder), **{"return": recorder.total_reward})

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update: ``agent.update(batch)``, or ``update_fn(agent, batch)`` when given.

        An ``update_fn``'s metrics may be missing, partial or hold 0-d tensors: they become
        floats, and the update is counted (``agent.num_updates``) unless the function did.
        """
        if self.update_fn is None:
            return self.agent.update(batch)
        before = self.agent.num_updates
        metrics = self.update_fn(self.agent, batch) or {}
        if self.agent.num_updates == before:  # e.g. a learner's update, which does not count
            self.agent.num_updates += 1
        return {key: float(value) for key, value in metrics.items()}

    def learn(self, steps: int) -> dict[str, float]:
        """``steps`` agent updates on replay batches; log and return their mean metrics."""
        cfg, sums = self.cfg, defaultdict(float)
        start = time.perf_counter()
        pin = self.agent.device.type == "cuda"  # page-locked batches, copied asynchronously
        with Prefetcher(self.replay, cfg.batch_size, cfg.seq_len, steps, pin_memory=pin) as batches:
            for batch in batches:  # the next batch is stacked while this update runs
                metrics = self.update(batch)
                if "kl" in metrics:
                    metrics["kl_below_free_nats"] = float(metrics["kl"] < cfg.free_nats)
                for key, value in metrics.items():
                    sums[key] += value
        seconds = time.perf_counter() - start
        means = {k: v / steps for k, v in sums.items()}
        self.log(
            "train",
            updates=self.agent.num_updates,
            updates_per_s=steps / seconds,
            batch_wait_s=batches.waited_s / steps,  # the sampler's share of the critical path
            **means,
        )
        if "kl_below_free_nats" in means:
            self.kl_watch.observe(means["kl_below_free_nats"])
        return means

    def evaluate(self, record_video: bool = False) -> float:
        """Mean return of ``eval_episodes`` episodes with the actor's mode; logged, and the
        first episode saved as ``videos/policy.mp4`` if ``record_video``."""
        frames: list[np.ndarray] = []
        returns = []
        for i in range(self.cfg.eval_episodes):
            recorder, ep_frames = run_episode(
                self.eval_env,
                agent_policy(self.agent, explore=False),
                render=record_video and i == 0,
                render_size=128,
            )
            returns.append(recorder.total_reward)
            frames = frames or ep_frames
        mean = float(np.mean(returns))
        self.log("eval", **{"return": mean, "returns": returns})
        if record_video and frames:
            from dreamer_lite.viz import save_video

            save_video(self.rundir.path / "videos" / "policy.mp4", np.stack(frames), fps=30)
        return mean

    def batch_policy(self) -> Callable:
        """A ``run_round`` policy: the agent acting, with exploration, on N observations."""

        def policy(obs: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
            return self.agent.act(obs, state, explore=True)  # (N, A)

        return policy

    # --- the loop ----------------------------------------------------------------------------
    def learn_if_due(self, bar) -> None:
        """Run the updates the schedule says are due at the current env step."""
        cfg = self.cfg
        updates, self.due.train = updates_due(
            self.env_steps, self.due.train, cfg.train_every, cfg.train_steps
        )
        if updates:
            metrics = self.learn(updates)
            postfix = {"upd": self.agent.num_updates}
            if "model_loss" in metrics:
                postfix["loss"] = f"{metrics['model_loss']:.1f}"
            if np.isfinite(self.last_return):  # none before the first training episode ends
                postfix["ret"] = f"{self.last_return:.0f}"
            bar.set_postfix(postfix)

    def after_step(self, bar, obs: np.ndarray, reward: float, done: bool, info: dict) -> None:
        """``run_episode``'s hook while collecting: count the step, and train if due before
        the next one (the updates due at the episode's end wait until it is stored)."""
        self.env_steps += self.cfg.action_repeat
        bar.update(self.cfg.action_repeat)
        if not done:
            self.learn_if_due(bar)

    def after_round_step(self, bar, stepped: int, finished: bool) -> None:
        """``run_round``'s hook: count the env steps of every environment that stepped, and
        train if due (as ``after_step``; updates due when the round ends wait for its storing)."""
        self.env_steps += stepped * self.cfg.action_repeat
        bar.update(stepped * self.cfg.action_repeat)
        if not finished:
            self.learn_if_due(bar)

    def collect(self, bar, seed: bool) -> list[EpisodeRecorder]:
        """Play one round: one episode per environment (random actions for ``seed``, else the
        agent exploring). ``num_envs == 1`` plays it with ``run_episode`` as always."""
        if self.parallel:
            if seed:
                return run_round(self.env, random_batch_policy(self.env, self.rng))
            return run_round(
                self.env, self.batch_policy(), on_step=partial(self.after_round_step, bar)
            )
        if seed:
            return [run_episode(self.env, random_policy(self.env, self.rng))[0]]
        on_step = partial(self.after_step, bar)
        return [run_episode(self.env, agent_policy(self.agent, explore=True), on_step=on_step)[0]]

    def run(self, max_seconds: float | None) -> None:
        """Seed episodes, then collect-and-learn episodes until ``total_steps`` (or the wall
        clock runs out), evaluating and checkpointing on schedule."""
        cfg = self.cfg
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        bar = _progress(cfg.total_steps, self.env_steps, self.progress)
        while self.replay.num_episodes < cfg.seed_episodes and self.env_steps < cfg.total_steps:
            for recorder in self.collect(bar, seed=True):
                self.env_steps += len(recorder) * cfg.action_repeat
                self.store(recorder, "seed")
                bar.update(len(recorder) * cfg.action_repeat)
        while self.env_steps < cfg.total_steps:
            if deadline is not None and time.monotonic() > deadline:
                break
            self.learn_if_due(bar)  # before the round's first step
            recorders = self.collect(bar, seed=False)  # counts env steps, trains when due
            for recorder in recorders:
                self.store(recorder, "train")
            self.last_return = float(np.mean([r.total_reward for r in recorders]))
            if self.env_steps >= self.due.eval:
                self.evaluate(record_video=True)
                self.due.eval = self.env_steps + cfg.eval_every
            if self.env_steps >= self.due.checkpoint:
                self.save()
                self.due.checkpoint = self.env_steps + cfg.checkpoint_every
        bar.close()

    def close(self) -> None:
        """End the collection workers (with ``num_envs > 1``; nothing to do otherwise)."""
        if self.parallel:
            self.env.close()


def _progress(total: int, initial: int, enabled: bool):
    """A tqdm bar over env steps (disabled: a silent one with the same methods)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="step",
        desc="env steps",
        disable=not enabled,
        dynamic_ncols=True,
    )


def train(
    cfg: Config,
    logdir: str | Path,
    *,
    max_minutes: float | None = None,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    env_factory: Callable[[Config, int], Any] = make_task_env,
    final_media: bool = True,
    update_fn: UpdateFn | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Train (or resume) a Dreamer agent; return its history (see ``rundir.load_history``).

    Args:
        cfg: what to train. ``cfg.total_steps`` env steps in all, counting earlier sessions.
        logdir: where replay, checkpoints, metrics and media go; an existing run there resumes.
        max_minutes: stop (after saving) once this much wall-clock has passed.
        progress: show a tqdm progress bar.
        callback: called with every metrics record as it is logged (for live plots).
        env_factory: ``(cfg, seed) -> env``; ``envs.make_task_env`` by default (tests pass fakes).
        final_media: at the end, evaluate, write the learning curve and the videos.
        update_fn: the hook for your own update step (notebook 05's capstone). When given, every
            update calls ``update_fn(agent, batch)`` instead of ``agent.update(batch)``: ``agent``
            is the run's ``Dreamer`` (its networks, its three optimizers ``model_opt``,
            ``actor_opt``, ``value_opt`` and its ``cfg``), ``batch`` a replay batch ``obs``
            (T, B, ...), ``action`` (T, B, A), ``reward`` (T, B), on the CPU (move it to
            ``agent.device``). It may return a dict of scalar metrics (floats or 0-d tensors; any
            keys, e.g. ``model_loss``, ``kl``), which are averaged into the ``train`` records, or
            None. The loop counts the update in ``agent.num_updates`` unless the function did.
    """
    trainer = Trainer(cfg, Path(logdir), env_factory, callback, progress, update_fn)
    return drive(trainer, max_minutes=max_minutes, final_media=final_media)


def drive(
    trainer: Trainer, *, max_minutes: float | None = None, final_media: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """Run a set-up ``Trainer`` to its end (or ``max_minutes``), saving on every way out; then
    the final evaluation and media. Returns the history. ``train`` and the CLI call it."""
    logdir = trainer.rundir.path
    try:
        trainer.run(None if max_minutes is None else 60.0 * max_minutes)
    except NonFiniteLossError as err:
        trainer.save()
        raise NonFiniteLossError(f"{err} (env step {trainer.env_steps}); checkpoint saved") from err
    except KeyboardInterrupt:
        trainer.save()
        raise
    finally:
        trainer.close()
    trainer.save()
    if final_media:
        evals = load_history(logdir).get("eval", [])
        if not evals or evals[-1]["env_steps"] != trainer.env_steps:
            trainer.evaluate(record_video=True)
        write_media(trainer)
    return load_history(logdir)


def write_media(trainer: Trainer) -> None:
    """The learning curve PNG (with the random policy's return, measured once) and, for pixel
    models, the open-loop prediction video."""
    from dreamer_lite.viz import open_loop_strip, plot_learning_curve, save_video

    cfg, rundir = trainer.cfg, trainer.rundir
    random_return = rundir.random_return(trainer.eval_env, episodes=3, seed=cfg.seed)
    plot_learning_curve(
        rundir.history(),
        rundir.path / "curve.png",
        task=cfg.task,
        random_return=random_return,
        title=f"{cfg.task} ({cfg.obs_type}, action repeat {cfg.action_repeat})",
    )
    model = trainer.agent.world_model
    if model.decoder is not None and model.pixels:
        length = min(cfg.episode_length, 50)
        batch = trainer.replay.sample(4, length + 1, device=trainer.agent.device)
        out = model.open_loop(batch, context=5)
        strip = open_loop_strip(out["truth"], out["model"], upscale=2)
        save_video(rundir.path / "videos" / "open_loop.mp4", strip, fps=10)


if __name__ == "__main__":  # python -m dreamer_lite.train: the command line lives in cli.py
    from dreamer_lite.cli import main

    main()
