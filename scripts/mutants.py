"""Mutation check: apply plausible one-line bugs to a copy of the package and run the unit tests.

A mutant is *killed* when at least one test fails on it. A surviving mutant is a bug the suite
cannot see: write the test that catches it. Each mutant replaces one exact snippet of one file
(the snippet must occur exactly once, so a refactor that moves it is reported, not skipped).

    .venv/bin/python scripts/mutants.py                    # every mutant, the unit tests
    .venv/bin/python scripts/mutants.py --only kl           # mutants whose label contains "kl"
    .venv/bin/python scripts/mutants.py --tests tests/test_update.py   # a quicker subset
    .venv/bin/python scripts/mutants.py --list              # the mutants, nothing run

The unit suite runs without the slow, learning and real-DMC tests (``-m`` below), stopping at
the first failure (``-x``), one torch thread. It prints one line per mutant and the kill rate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKERS = "not slow and not learning and not dmc"

# (label, file, exact snippet, replacement)
MUTANTS: list[tuple[str, str, str, str]] = [
    # --- the world model ----------------------------------------------------------------------
    (
        "kl: posterior and prior swapped",
        "dreamer_lite/world_model.py",
        "kl_loss(post.mean, post.std, prior.mean, prior.std, self.free_nats)",
        "kl_loss(prior.mean, prior.std, post.mean, post.std, self.free_nats)",
    ),
    (
        "kl: free nats per element",
        "dreamer_lite/objectives.py",
        "kl = gaussian_kl(post_mean, post_std, prior_mean, prior_std).mean()  # ()",
        "kl = gaussian_kl(post_mean, post_std, prior_mean, prior_std).clamp(min=free_nats).mean()",
    ),
    (
        "image term: mean over pixels",
        "dreamer_lite/world_model.py",
        "image_ll = log_likelihood(mean, obs, len(self.obs_shape))",
        "image_ll = log_likelihood(mean, obs, 0)",
    ),
    (
        "reward head on the prior's step (features shifted)",
        "dreamer_lite/world_model.py",
        'reward_ll = log_likelihood(self.predict_reward(feat), batch["reward"].float(), 0)',
        'reward_ll = log_likelihood(self.predict_reward(feat.roll(1, 0)), batch["reward"].float(), 0)',
    ),
    (
        "contrastive scores transposed",
        "dreamer_lite/world_model.py",
        "nce = info_nce_loss(contrastive_scores(feat, mean, std))",
        "nce = info_nce_loss(contrastive_scores(feat, mean, std).transpose(-1, -2))",
    ),
    (
        "contrastive normaliser over observations, not states",
        "dreamer_lite/objectives.py",
        "normaliser = torch.logsumexp(scores, dim=-2)",
        "normaliser = torch.logsumexp(scores, dim=-1)",
    ),
    (
        "contrastive window shifted the other way",
        "dreamer_lite/objectives.py",
        "dist.log_prob(feat.roll(shifts, dims=(0, 1)))",
        "dist.log_prob(feat.roll(tuple(-x for x in shifts), dims=(0, 1)))",
    ),
    (
        "free nats ignored",
        "dreamer_lite/objectives.py",
        "return torch.clamp(kl, min=free_nats)",
        "return kl",
    ),
    # --- behaviour ----------------------------------------------------------------------------
    (
        "critic trained on the next imagined states",
        "dreamer_lite/agent.py",
        'value = self.critic(out["feat"][:-1].detach())',
        'value = self.critic(out["feat"][1:].detach())',
    ),
    (
        "value target not detached",
        "dreamer_lite/behavior.py",
        "return (weights * 0.5 * (value - returns.detach()) ** 2).mean()",
        "return (weights * 0.5 * (value - returns) ** 2).mean()",
    ),
    (
        "actor loss sign flipped",
        "dreamer_lite/behavior.py",
        "return -(weights * returns).mean()",
        "return (weights * returns).mean()",
    ),
    (
        "reward of the step read at s_t instead of s_t+1",
        "dreamer_lite/behavior.py",
        "reward = reward_fn(feat[1:])  # (H, N)",
        "reward = reward_fn(feat[:-1])  # (H, N)",
    ),
    (
        "imagination actions detached",
        "dreamer_lite/behavior.py",
        "action = actor(state.feat.detach()).rsample()  # (N, A)",
        "action = actor(state.feat.detach()).rsample().detach()  # (N, A)",
    ),
    (
        "lambda-return bootstraps from zero",
        "dreamer_lite/returns.py",
        "next_return = value[-1]",
        "next_return = torch.zeros_like(value[-1])",
    ),
    (
        "discount weights not cumulative",
        "dreamer_lite/behavior.py",
        "return torch.cumprod(torch.cat([ones, discount[:-1]], dim=0), dim=0).detach()",
        "return torch.cat([ones, discount[:-1]], dim=0).detach()",
    ),
    (
        "actor loss reaches the frozen world model and critic",
        "dreamer_lite/agent.py",
        "with frozen(self.world_model, self.critic):",
        "with frozen():",
    ),
    (
        "imagination starts not detached",
        "dreamer_lite/behavior.py",
        "state = start.flatten().detach()  # (N, .)",
        "state = start.flatten()  # (N, .)",
    ),
    # --- acting -------------------------------------------------------------------------------
    (
        "no exploration noise",
        "dreamer_lite/agent.py",
        "noise = self.cfg.expl_noise * torch.randn_like(action)",
        "noise = 0.0 * torch.randn_like(action)",
    ),
    (
        "exploration noise of a fixed size",
        "dreamer_lite/agent.py",
        "noise = self.cfg.expl_noise * torch.randn_like(action)",
        "noise = 0.3 * torch.randn_like(action)",
    ),
    (
        "evaluation takes a constant action",
        "dreamer_lite/agent.py",
        "action = self.actor.mode(feat)",
        "action = torch.zeros(feat.shape[0], self.action_size)",
    ),
    (
        "evaluation samples instead of the mode",
        "dreamer_lite/agent.py",
        "action = self.actor.mode(feat)",
        "action = self.actor(feat).sample()",
    ),
    (
        "evaluation adds exploration noise",
        "dreamer_lite/agent.py",
        "action = self.actor.mode(feat)",
        "action = self._explore(self.actor.mode(feat))",
    ),
    (
        "densest sample takes the least likely draw",
        "dreamer_lite/behavior.py",
        "best = dist.log_prob(draws).argmax(0)",
        "best = dist.log_prob(draws).argmin(0)",
    ),
    # --- initialisation and configuration -----------------------------------------------------
    (
        "keras init: recurrent weights not orthogonal",
        "dreamer_lite/networks.py",
        "nn.init.orthogonal_(layer.weight_hh)",
        "nn.init.xavier_uniform_(layer.weight_hh)",
    ),
    (
        "--set truncates a non-integer for an integer field",
        "dreamer_lite/config.py",
        "if not number.is_integer():",
        "if False:",
    ),
    (
        "CLI error goes out as a traceback",
        "dreamer_lite/cli.py",
        "except (ConfigError, RunDirError, UnknownTaskError) as error:",
        "except ZeroDivisionError as error:",
    ),
    # --- the RSSM and replay ------------------------------------------------------------------
    (
        "posterior ignores the observation",
        "dreamer_lite/rssm.py",
        "torch.cat([prior.deter, embed], dim=-1)",
        "torch.cat([prior.deter, torch.zeros_like(embed)], dim=-1)",
    ),
    (
        "std floor missing",
        "dreamer_lite/rssm.py",
        "std = nn.functional.softplus(raw_std) + self.min_std",
        "std = nn.functional.softplus(raw_std)",
    ),
]


def located(root: Path, path: str, old: str) -> str:
    """The text of ``root/path``, after checking that ``old`` occurs in it exactly once."""
    text = (root / path).read_text(encoding="utf-8")
    count = text.count(old)
    if count != 1:
        raise SystemExit(f"mutant snippet found {count} times in {path} (need 1): {old!r}")
    return text


def apply(root: Path, path: str, old: str, new: str) -> None:
    text = located(root, path, old)
    (root / path).write_text(text.replace(old, new), encoding="utf-8")


def copy(source: Path, target: Path) -> None:
    """A fresh copy of the repository at ``target``, without the venv, git and run folders."""
    shutil.rmtree(target, ignore_errors=True)
    skip = shutil.ignore_patterns(".venv", ".git", "runs", "__pycache__", ".ruff_cache")
    shutil.copytree(source, target, ignore=skip)


def run_tests(root: Path, tests: list[str], timeout: float) -> tuple[bool, str]:
    """(passed, the first failing test's id or ''). A suite that runs past ``timeout`` seconds
    counts as failing (a mutant that makes a test hang, e.g. start a real training run, is
    caught, as mutation testing tools count it)."""
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", DREAMER_LITE_FAST="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", MARKERS]
    try:
        proc = subprocess.run(
            cmd + tests,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, f"a timeout ({timeout:.0f} s)"
    failed = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")), "")
    return proc.returncode == 0, failed.removeprefix("FAILED ").split(" - ")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutants.py", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="run the mutants whose label contains this")
    parser.add_argument("--tests", nargs="*", default=["tests"], help="test paths to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutant's suite")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only in m[0]]
    if args.list:
        print("\n".join(f"{label}  ({path})" for label, path, _, _ in chosen))
        return 0
    for _, path, old, _ in chosen:  # every snippet still where it was, before any run
        located(ROOT, path, old)
    killed = 0
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        base, root = Path(tmp) / "base", Path(tmp) / "copy"
        copy(ROOT, base)  # one snapshot: edits made while this runs do not leak in
        passed, failing = run_tests(base, args.tests, args.timeout)
        if not passed:  # a failing suite would "kill" every mutant
            raise SystemExit(f"the unmutated suite fails ({failing}): fix it first")
        for label, path, old, new in chosen:
            copy(base, root)
            apply(root, path, old, new)
            start = time.perf_counter()
            passed, failing = run_tests(root, args.tests, args.timeout)
            seconds = time.perf_counter() - start
            killed += not passed
            verdict = f"killed by {failing}" if not passed else "SURVIVED"
            print(f"{label:55s} {verdict} ({seconds:.0f} s)", flush=True)
    print(f"\n{killed} of {len(chosen)} mutants killed ({100 * killed / max(len(chosen), 1):.0f}%)")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
