"""Seconds per update of this package against a plain eager implementation of the same model.

    python scripts/bench_plain.py --preset paper            # 2 rounds, 3 timed updates each
    python scripts/bench_plain.py --preset cpu --threads 1 --rounds 3 --repeats 5

"Plain" is the same Dreamer (same sizes, parameters, optimizers, RSSM, actor and critic) with the
image path written the straightforward way, as most ports write it, so the ratio shows what the
package's speed work is worth:

- the conv encoder and the four transposed convs of the decoder applied as ``nn.Sequential`` layers
  on default-layout (NCHW) tensors, the decoder's first layer as a transposed conv on a 1x1 input;
- ReLU and ELU not in place;
- images turned into floats in their stored layout, and their log-likelihood taken with
  ``torch.distributions.Normal(mean, 1).log_prob`` (argument validation at PyTorch's default);
- glibc's default ``malloc`` (no ``allocator.keep_freed_memory``).

Each implementation runs in its own fresh process (the allocator setting is process-wide), and
the two alternate, plain first, for ``--rounds`` rounds, so both see the same minutes of the
machine. Every process times ``--repeats`` updates after ``--warmup`` ones on the same seeded
random batch (``bench.random_batch``) and prints its median; the script prints each round and the
median ratio package / plain.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types


def _plain(agent) -> None:
    """Turn ``agent``'s image path into the plain implementation described above, in place."""
    import torch
    from torch import nn

    from dreamer_lite import world_model

    model = agent.world_model
    encoder, decoder = model.encoder, model.decoder
    for module in (encoder, decoder):
        module.to(memory_format=torch.contiguous_format)
    for module in agent.modules():
        if isinstance(module, (nn.ReLU, nn.ELU)):
            module.inplace = False

    def encode(self, image):
        x = image.reshape(-1, *image.shape[-3:])  # (N, C, 64, 64)
        return self.net(x).reshape(*image.shape[:-3], -1)  # (..., E)

    def decode(self, feat):
        x = self.linear(feat.reshape(-1, feat.shape[-1]))  # (N, 32 * depth)
        x = self.net(x.reshape(x.shape[0], -1, 1, 1))  # (N, C, 64, 64)
        return x.reshape(*feat.shape[:-1], *x.shape[1:])

    def preprocess(obs):
        return obs.float() / 255.0 - 0.5 if obs.dtype == torch.uint8 else obs.float()

    def log_likelihood(mean, target, event_dims):
        log_prob = torch.distributions.Normal(mean, 1.0).log_prob(target)
        return (
            log_prob.sum(dim=tuple(range(-event_dims, 0))).mean() if event_dims else log_prob.mean()
        )

    encoder.forward = types.MethodType(encode, encoder)
    decoder.forward = types.MethodType(decode, decoder)
    world_model.preprocess_obs = preprocess
    world_model.log_likelihood = log_likelihood


def measure(impl: str, preset: str, threads: int, warmup: int, repeats: int) -> float:
    """Median seconds per update of one implementation (run in a fresh process)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from dreamer_lite.agent import Dreamer
    from dreamer_lite.allocator import keep_freed_memory
    from dreamer_lite.bench import random_batch
    from dreamer_lite.config import IMAGE_SIZE, Config

    if impl == "package":
        keep_freed_memory()
    cfg = Config.preset(preset, task="cartpole_swingup", obs_type="pixels", device="cpu")
    obs_shape = (3, IMAGE_SIZE, IMAGE_SIZE)
    torch.manual_seed(0)
    agent = Dreamer(cfg, obs_shape, 1)
    if impl == "plain":
        _plain(agent)
    batch = random_batch(cfg, obs_shape, 1)
    for _ in range(warmup):
        agent.update(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        agent.update(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=["paper", "cpu", "tiny"], default="paper")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--impl", choices=["plain", "package"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.impl:  # a child process: one measurement, printed as JSON
        seconds = measure(args.impl, args.preset, args.threads, args.warmup, args.repeats)
        print(json.dumps({"impl": args.impl, "seconds": seconds}))
        return
    common = [f"--preset={args.preset}", f"--threads={args.threads}", f"--warmup={args.warmup}"]
    common.append(f"--repeats={args.repeats}")
    ratios = []
    for round_ in range(1, args.rounds + 1):
        seconds = {}
        for impl in ("plain", "package"):
            out = subprocess.run(
                [sys.executable, __file__, f"--impl={impl}", *common],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            seconds[impl] = json.loads(out.strip().splitlines()[-1])["seconds"]
        ratios.append(seconds["package"] / seconds["plain"])
        print(
            f"round {round_}: plain {seconds['plain']:.3f} s, package {seconds['package']:.3f} s "
            f"per update ({args.preset} preset): ratio {ratios[-1]:.2f}",
            flush=True,
        )
    print(f"median ratio package / plain: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
