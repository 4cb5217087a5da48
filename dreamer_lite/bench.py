"""Benchmark: seconds per update (by part), acting latency, env steps/s, peak memory.

    python -m dreamer_lite.bench --preset paper --device cpu
    python -m dreamer_lite.bench --preset cpu --json
    python -m dreamer_lite.bench --preset paper --device cpu --compile   # Config.compile
    python -m dreamer_lite.bench --preset paper --device cpu --precision bf16   # conv_precision

A full update is what ``Dreamer.update`` does: the world-model step, imagination + the actor
step, the critic step, at the preset's batch (B x T) and horizon. Inputs are random frames of
the right shapes (the maths does not depend on the pixel values); the env figure renders the
real task. Results are medians over ``--repeats`` updates after ``--warmup`` ones.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from typing import Any

import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.config import CONV_PRECISIONS, Config


def _batch(cfg: Config, obs_shape: tuple[int, ...], action_size: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    shape = (cfg.seq_len, cfg.batch_size)
    if len(obs_shape) == 3:
        obs = torch.randint(0, 256, (*shape, *obs_shape), dtype=torch.uint8, generator=generator)
    else:
        obs = torch.randn(*shape, *obs_shape, generator=generator)
    return {
        "obs": obs,  # (T, B, ...)
        "action": torch.rand(*shape, action_size, generator=generator) * 2 - 1,  # (T, B, A)
        "reward": torch.rand(*shape, generator=generator),  # (T, B)
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_update(agent: Dreamer, batch: dict[str, torch.Tensor], warmup: int, repeats: int):
    """Median seconds of a full update and of its three parts."""
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


def bench_env(cfg: Config, steps: int = 200) -> dict[str, float]:
    """Agent steps/s and env steps/s of the real task with rendering, random actions."""
    import numpy as np

    from dreamer_lite.train import make_task_env

    env = make_task_env(cfg, seed=0)
    rng = np.random.default_rng(0)
    env.reset()
    start = time.perf_counter()
    for _ in range(steps):
        _, _, done, _ = env.step(rng.uniform(-1, 1, env.action_dim))
        if done:
            env.reset()
    seconds = time.perf_counter() - start
    return {"agent_steps_per_s": steps / seconds, "env_steps_per_s": steps * cfg.action_repeat / seconds}


def run(cfg: Config, *, warmup: int, repeats: int, env: bool, action_size: int) -> dict[str, Any]:
    obs_shape = (3, cfg.image_size, cfg.image_size) if cfg.obs_type == "pixels" else (5,)
    torch.manual_seed(0)
    agent = Dreamer(cfg, obs_shape, action_size)
    if agent.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(agent.device)
    result: dict[str, Any] = {
        "preset_batch": f"{cfg.batch_size}x{cfg.seq_len}", "horizon": cfg.horizon,
        "device": str(agent.device), "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
    }  # fmt: skip
    result.update(bench_update(agent, _batch(cfg, obs_shape, action_size), warmup, repeats))
    result["act_ms"] = 1000 * bench_act(agent, obs_shape)
    if env:
        result.update(bench_env(cfg))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if agent.device.type == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated(agent.device) / 2**20
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", choices=["paper", "cpu", "tiny"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--task", default="cartpole_swingup")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--action-size", type=int, default=1)
    parser.add_argument("--no-env", action="store_true", help="skip the rendering benchmark")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the hot paths (Config.compile); warm-up compiles")
    parser.add_argument("--precision", default="fp32", choices=CONV_PRECISIONS,
                        help="Config.conv_precision: bf16 autocast in the conv encoder/decoder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.preset(args.preset, task=args.task, device=args.device, compile=args.compile,
                        conv_precision=args.precision)  # fmt: skip
    result = run(cfg, warmup=args.warmup, repeats=args.repeats, env=not args.no_env,
                 action_size=args.action_size)  # fmt: skip
    result["preset"] = args.preset
    result["compile"] = args.compile
    result["conv_precision"] = args.precision
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"dreamer_lite benchmark: preset={args.preset} batch={result['preset_batch']} "
          f"horizon={cfg.horizon} device={result['device']} threads={result['threads']}"
          f"{' compiled' if args.compile else ''}"
          f"{' convs in bf16' if args.precision == 'bf16' else ''}")
    print(f"  full update        {result['update_s']:8.3f} s  (median of {args.repeats})")
    print(f"    world model      {result['model_s']:8.3f} s")
    print(f"    imagine + actor  {result['actor_s']:8.3f} s")
    print(f"    critic           {result['value_s']:8.3f} s")
    print(f"  act (1 obs)        {result['act_ms']:8.2f} ms")
    if "env_steps_per_s" in result:
        print(f"  env with rendering {result['env_steps_per_s']:8.1f} env steps/s "
              f"({result['agent_steps_per_s']:.1f} agent steps/s, action repeat {cfg.action_repeat},"
              f" shadows {'on' if cfg.shadows else 'off'})")
    print(f"  peak memory        {result['peak_rss_mb']:8.0f} MB RSS"
          + (f", {result['peak_cuda_mb']:.0f} MB CUDA" if "peak_cuda_mb" in result else ""))


if __name__ == "__main__":
    main()
