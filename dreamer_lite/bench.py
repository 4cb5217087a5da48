"""Benchmark: seconds per update (by part), acting latency, env steps/s, peak memory.

    python -m dreamer_lite.bench --preset paper --device cpu
    python -m dreamer_lite.bench --preset cpu --json
    python -m dreamer_lite.bench --preset paper --device cpu --compile   # Config.compile
    python -m dreamer_lite.bench --preset paper --device cpu --precision bf16   # conv_precision
    python -m dreamer_lite.bench --preset cpu --envs 1 2 4   # collection, parallel envs
    python -m dreamer_lite.bench --preset cpu --system-malloc   # without allocator's setting

A full update is what ``Dreamer.update`` does: the world-model step, imagination + the actor
step, the critic step, at the preset's batch (B x T) and horizon. Inputs are random frames of
the right shapes (the maths does not depend on the pixel values); the env figure renders the
real task. Results are medians over ``--repeats`` updates after ``--warmup`` ones.

``random_batch`` is the one maker of random replay batches, for the benchmarks, the tests and the
notebooks' timing cells.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.allocator import keep_freed_memory
from dreamer_lite.config import CONV_PRECISIONS, IMAGE_SIZE, PRESETS, Config
from dreamer_lite.envs import make_task_env
from dreamer_lite.rollout import random_policy, run_episode
from dreamer_lite.vecenv import ParallelEnvs, random_batch_policy, run_round

# Without an environment the benchmark needs some state size for ``obs_type="state"``: 5 is
# cartpole's (cart position, cos and sin of the angle, two velocities). The cost of an update
# barely depends on it: the vector encoder is one dense layer.
BENCH_STATE_SIZE = 5


def random_batch(
    cfg: Config,
    obs_shape: tuple[int, ...],
    action_size: int,
    *,
    seed: int = 0,
    seq_len: int | None = None,
    batch_size: int | None = None,
    discrete: bool = False,
) -> dict[str, torch.Tensor]:
    """A seeded random replay batch of ``cfg``'s shape (what ``ReplayBuffer.sample`` returns).

    Returns ``obs`` (T, B, *obs_shape): uint8 frames for (C, H, W) shapes, standard normal
    vectors otherwise; ``action`` (T, B, A): uniform in [-1, 1], or one-hot if ``discrete``;
    ``reward`` (T, B): uniform in [0, 1). T and B are ``cfg.seq_len`` and ``cfg.batch_size``
    unless given. The cost of an update does not depend on the values, only on the shapes.
    """
    generator = torch.Generator().manual_seed(seed)
    shape = (seq_len or cfg.seq_len, batch_size or cfg.batch_size)  # (T, B)
    if len(obs_shape) == 3:
        obs = torch.randint(0, 256, (*shape, *obs_shape), dtype=torch.uint8, generator=generator)
    else:
        obs = torch.randn(*shape, *obs_shape, generator=generator)
    if discrete:
        index = torch.randint(action_size, shape, generator=generator)  # (T, B)
        action = torch.nn.functional.one_hot(index, action_size).float()  # (T, B, A)
    else:
        action = torch.rand(*shape, action_size, generator=generator) * 2 - 1  # (T, B, A)
    return {
        "obs": obs,  # (T, B, ...)
        "action": action,  # (T, B, A)
        "reward": torch.rand(*shape, generator=generator),  # (T, B)
    }


# The Tensor methods that hand a value to Python: on a GPU each one waits for the device.
HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy")


@contextlib.contextmanager
def count_host_reads() -> Iterator[Counter]:
    """Count, by method name, the tensor values read by the host inside the ``with`` block.

    On a GPU every such read (``.item()``, ``if tensor:``, ``float(t)``, ``.tolist()``, ...) is
    a host-device sync; on a CPU it is free, but counting it here tells how many a GPU would see.
    Patches ``torch.Tensor`` for the duration (not thread-safe: count one thing at a time).
    """
    counts: Counter = Counter()
    originals = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def counted(name: str, method):
        def wrapper(self, *args, **kwargs):
            counts[name] += 1
            return method(self, *args, **kwargs)

        return wrapper

    try:
        for name, method in originals.items():
            setattr(torch.Tensor, name, counted(name, method))
        yield counts
    finally:
        for name, method in originals.items():
            setattr(torch.Tensor, name, method)


def _sync(device: torch.device) -> None:
    """Wait for the GPU's queued work, so the clock measures it (a no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_update(agent: Dreamer, batch: dict[str, torch.Tensor], warmup: int, repeats: int):
    """Median seconds of a full update and of its three parts. On a GPU the full update is
    synchronised; the parts are the host's launch times (``update`` does not wait for the
    device between them), so only the CPU's parts add up to the whole."""
    parts: dict[str, list[float]] = {"update_s": [], "model_s": [], "actor_s": [], "value_s": []}
    for i in range(warmup + repeats):
        _sync(agent.device)
        start = time.perf_counter()
        metrics = agent.update(batch)
        _sync(agent.device)
        if i >= warmup:
            parts["update_s"].append(time.perf_counter() - start)
            parts["model_s"].append(metrics["time_model"])
            parts["actor_s"].append(metrics["time_actor"])
            parts["value_s"].append(metrics["time_value"])
    return {k: statistics.median(v) for k, v in parts.items()}


def bench_act(agent: Dreamer, obs_shape: tuple[int, ...], repeats: int = 100) -> float:
    """Median seconds for one ``act`` call on a single observation."""
    obs = torch.zeros(1, *obs_shape, dtype=torch.uint8 if len(obs_shape) == 3 else torch.float32)
    state, times = None, []
    for _ in range(repeats):
        _sync(agent.device)
        start = time.perf_counter()
        _, state = agent.act(obs, state, explore=True)
        _sync(agent.device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[10:])


def bench_env(env: Any, steps: int = 200) -> dict[str, float]:
    """Agent steps/s and env steps/s of ``env`` (e.g. ``envs.make_task_env(cfg, seed=0)``, which
    renders every pixel observation) over ``steps`` agent steps of uniform random actions;
    episodes restart as they end, and the resets are timed too."""
    policy = random_policy(env, np.random.default_rng(0))
    done_steps = 0
    start = time.perf_counter()
    while done_steps < steps:
        recorder, _ = run_episode(env, policy, max_steps=steps - done_steps)
        done_steps += len(recorder)
    seconds = time.perf_counter() - start
    return {
        "agent_steps_per_s": steps / seconds,
        "env_steps_per_s": steps * env.action_repeat / seconds,
    }


def bench_parallel_env(cfg: Config, num_envs: int, agent_steps: int = 100) -> dict[str, float]:
    """Env steps/s of collection with ``num_envs`` environments of ``cfg`` (rendering its
    observations): one round of ``agent_steps`` uniform random actions in each, resets included.
    1 is the training loop's in-process env (``bench_env``); more run in ``vecenv.ParallelEnvs``
    workers, whose start-up (imports, GL contexts) is not timed."""
    if num_envs == 1:
        return bench_env(make_task_env(cfg, seed=0), steps=agent_steps)
    cfg = cfg.replace(time_limit=agent_steps * cfg.action_repeat)  # one episode per env
    with ParallelEnvs(make_task_env, cfg, seeds=list(range(num_envs))) as envs:
        start = time.perf_counter()
        recorders = run_round(envs, random_batch_policy(envs, np.random.default_rng(0)))
        seconds = time.perf_counter() - start
    steps = sum(len(r) for r in recorders)
    return {
        "agent_steps_per_s": steps / seconds,
        "env_steps_per_s": steps * cfg.action_repeat / seconds,
    }


def run(cfg: Config, *, warmup: int, repeats: int, env: bool, action_size: int) -> dict[str, Any]:
    """Benchmark ``cfg``: update (by part), acting, optionally the env, and peak memory."""
    pixels = cfg.obs_type == "pixels"
    obs_shape = (3, IMAGE_SIZE, IMAGE_SIZE) if pixels else (BENCH_STATE_SIZE,)
    torch.manual_seed(0)
    agent = Dreamer(cfg, obs_shape, action_size)
    if agent.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(agent.device)
    result: dict[str, Any] = {
        "preset_batch": f"{cfg.batch_size}x{cfg.seq_len}",
        "horizon": cfg.horizon,
        "device": str(agent.device),
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    result.update(bench_update(agent, random_batch(cfg, obs_shape, action_size), warmup, repeats))
    result["act_ms"] = 1000 * bench_act(agent, obs_shape)
    if env:
        result.update(bench_env(make_task_env(cfg, seed=0)))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if agent.device.type == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated(agent.device) / 2**20
    return result


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m dreamer_lite.bench --help``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", choices=list(PRESETS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--task", default="cartpole_swingup")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--action-size", type=int, default=1)
    parser.add_argument("--no-env", action="store_true", help="skip the rendering benchmark")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the hot paths (Config.compile); warm-up compiles",
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=CONV_PRECISIONS,
        help="Config.conv_precision: bf16 autocast in the conv encoder/decoder",
    )
    parser.add_argument(
        "--envs",
        type=int,
        nargs="*",
        default=[],
        metavar="N",
        help="only measure collection with N parallel environments each, e.g. --envs 1 2 4",
    )
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="leave glibc's malloc at its defaults (no allocator.keep_freed_memory), to compare",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.system_malloc:
        keep_freed_memory()  # as a training run does (allocator)
    cfg = Config.preset(
        args.preset,
        task=args.task,
        device=args.device,
        compile=args.compile,
        conv_precision=args.precision,
    )
    if args.envs:
        rates = {n: bench_parallel_env(cfg, n)["env_steps_per_s"] for n in args.envs}
        if args.json:
            print(json.dumps({"env_steps_per_s": rates, "preset": args.preset}, sort_keys=True))
        else:
            print(f"collection, {cfg.task} pixels, shadows {'on' if cfg.shadows else 'off'}:")
            for n, rate in rates.items():
                print(f"  {n} env(s) {rate:8.1f} env steps/s")
        return
    result = run(
        cfg,
        warmup=args.warmup,
        repeats=args.repeats,
        env=not args.no_env,
        action_size=args.action_size,
    )
    result["preset"] = args.preset
    result["compile"] = args.compile
    result["conv_precision"] = args.precision
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(
        f"dreamer_lite benchmark: preset={args.preset} batch={result['preset_batch']} "
        f"horizon={cfg.horizon} device={result['device']} threads={result['threads']}"
        f"{' compiled' if args.compile else ''}"
        f"{' convs in bf16' if args.precision == 'bf16' else ''}"
    )
    print(f"  full update        {result['update_s']:8.3f} s  (median of {args.repeats})")
    print(f"    world model      {result['model_s']:8.3f} s")
    print(f"    imagine + actor  {result['actor_s']:8.3f} s")
    print(f"    critic           {result['value_s']:8.3f} s")
    print(f"  act (1 obs)        {result['act_ms']:8.2f} ms")
    if "env_steps_per_s" in result:
        print(
            f"  env with rendering {result['env_steps_per_s']:8.1f} env steps/s "
            f"({result['agent_steps_per_s']:.1f} agent steps/s, "
            f"action repeat {cfg.action_repeat},"
            f" shadows {'on' if cfg.shadows else 'off'})"
        )
    print(
        f"  peak memory        {result['peak_rss_mb']:8.0f} MB RSS"
        + (f", {result['peak_cuda_mb']:.0f} MB CUDA" if "peak_cuda_mb" in result else "")
    )


if __name__ == "__main__":
    main()
