"""Is the replay sampler on the critical path of training? Measures it on the CPU.

    .venv/bin/python scripts/bench_data_path.py                  # CPU preset, pixels
    .venv/bin/python scripts/bench_data_path.py --updates 20 --json
    .venv/bin/python scripts/bench_data_path.py --preset paper --updates 0   # sampling only

Fills a replay buffer with random 64x64 pixel episodes of the preset's length, then times
(1) ``replay.sample`` of one preset batch (B x T frames), (2) one ``Dreamer.update`` on a
fixed batch, and (3) a ``learn``-like loop of ``--updates`` updates fed by direct sampling
(sample, then update) and by ``replay.Prefetcher`` (the next batch stacked in a background
thread while the update runs). If the sampler is off the critical path, the prefetched loop
costs one update per step, the direct loop one update plus one sample.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np
import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.config import IMAGE_SIZE, PRESETS, Config
from dreamer_lite.prefetch import Prefetcher
from dreamer_lite.replay import ReplayBuffer


def fill_replay(replay: ReplayBuffer, cfg: Config, episodes: int, action_size: int) -> None:
    """``episodes`` random pixel episodes of ``cfg.episode_length`` agent steps."""
    rng = np.random.default_rng(0)
    steps = cfg.episode_length
    for _ in range(episodes):
        replay.add_episode(
            {
                "obs": rng.integers(0, 256, (steps + 1, 3, IMAGE_SIZE, IMAGE_SIZE), np.uint8),
                "action": rng.uniform(-1, 1, (steps + 1, action_size)).astype(np.float32),
                "reward": rng.uniform(0, 1, steps + 1).astype(np.float32),
            }
        )


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loop_seconds(
    agent: Dreamer, replay: ReplayBuffer, cfg: Config, updates: int, prefetch: bool
) -> dict[str, float]:
    """A ``Trainer.learn``-like loop: wall-clock per update, and the seconds the loop waited for
    its first batch and, per update, for the later ones (the sampler's share of the critical
    path; the prefetcher cannot hide the first batch of a phase)."""
    waits = []
    start = time.perf_counter()
    if prefetch:
        with Prefetcher(replay, cfg.batch_size, cfg.seq_len, updates) as batches:
            for batch in batches:
                waits.append(batches.waited_s - sum(waits))
                agent.update(batch)
    else:
        for _ in range(updates):
            sample_start = time.perf_counter()
            batch = replay.sample(cfg.batch_size, cfg.seq_len)
            waits.append(time.perf_counter() - sample_start)
            agent.update(batch)
    return {
        "per_update_s": (time.perf_counter() - start) / updates,
        "first_wait_s": waits[0],
        "later_wait_s": statistics.mean(waits[1:]) if len(waits) > 1 else float("nan"),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", choices=list(PRESETS))
    parser.add_argument(
        "--updates", type=int, default=10, help="updates per timed loop (0: time sampling only)"
    )
    parser.add_argument("--episodes", type=int, default=20, help="episodes in the replay")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.preset(args.preset, device="cpu")
    torch.manual_seed(0)
    agent = Dreamer(cfg, (3, IMAGE_SIZE, IMAGE_SIZE), 1)
    with tempfile.TemporaryDirectory() as directory:
        replay = ReplayBuffer(directory, seed=0)
        fill_replay(replay, cfg, args.episodes, 1)
        batch = replay.sample(cfg.batch_size, cfg.seq_len)
        if args.updates:
            agent.update(batch)  # warm-up: allocations, optimizer state
        result = {
            "preset": args.preset,
            "batch": f"{cfg.batch_size}x{cfg.seq_len}",
            "threads": torch.get_num_threads(),
            "sample_s": median_seconds(lambda: replay.sample(cfg.batch_size, cfg.seq_len), 20),
        }
        if args.updates:
            repeats = max(3, args.updates // 2)
            result["update_s"] = median_seconds(lambda: agent.update(batch), repeats)
            for mode in ("direct", "prefetch"):
                loop = loop_seconds(agent, replay, cfg, args.updates, prefetch=mode == "prefetch")
                for key, value in loop.items():
                    result[f"{mode}_{key}"] = value
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"preset={result['preset']} batch={result['batch']} threads={result['threads']}")
        for key, value in result.items():
            if key.endswith("_s"):
                print(f"  {key:16s} {1000 * value:9.2f} ms")
    return result


if __name__ == "__main__":
    main()
