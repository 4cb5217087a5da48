"""The GPU check: measure the GPU path in a few minutes and write the figures to a folder.

    python -m dreamer_lite.gpu_check OUTDIR                 # on a GPU machine (scripts/gpu_check.sh)
    python -m dreamer_lite.gpu_check OUTDIR --cpu-smoke     # tiny sizes on a CPU, about a minute

Sections, each timed and each allowed to fail on its own (its error lands in the report):

    machine      Python, torch, CUDA device, dm_control and mujoco versions, the GL renderer
    update       median seconds per paper-preset update: eager, ``--compile``, bf16 convs
                 (each in a ``python -m dreamer_lite.bench`` subprocess with a time limit)
    collection   env steps/s with 1, 4 and 8 parallel environments (pixels, the preset's shadows)
    unit_tests   the unit tests in tests/ (not the notebooks, not the slow or learning ones) under
                 this machine's Python and torch: counts and the names of failures
    training     a paper-preset run (walker_walk, pixels) for what is left of the budget, up to
                 ``--train-minutes``: env steps and updates per minute, hours per 1e6 env steps
                 extrapolated, the evaluation returns

Everything is written to ``OUTDIR/gpu_check.json`` (rewritten after every section, so a killed
run keeps what it measured) and ``OUTDIR/gpu_check.md`` (a short table). ``--budget-minutes``
bounds the whole check: training gets the time the other sections left. Anchors: the paper,
3 h per 1e6 env steps on a V100; this project's goal, at most 1.5 h on an H100-class GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("machine", "update", "collection", "unit_tests", "training")
PAPER_HOURS_PER_MILLION = 3.0  # Hafner et al. 2020, one V100
GOAL_HOURS_PER_MILLION = 1.5  # this project's goal on an H100-class GPU


def plan(smoke: bool) -> dict[str, Any]:
    """The sizes of each section: the real check, or the CPU smoke test's tiny ones."""
    if smoke:
        return {
            "preset": "tiny",
            "device": "cpu",
            "update_modes": {"eager": []},  # compiling on a CPU takes minutes: not in the smoke
            "update_repeats": 3,
            "update_timeout_s": 90,
            "envs": [1, 2],
            "env_agent_steps": 10,
            "task": "cartpole_balance",
            "tests": ["tests/test_returns.py"],
            "tests_timeout_s": 60,
            "train_overrides": {"total_steps": 800, "time_limit": 200, "eval_every": 400},
        }
    return {
        "preset": "paper",
        "device": "cuda",
        "update_modes": {
            "eager": [],
            "bf16": ["--precision", "bf16"],
            "compile": ["--compile", "--warmup", "3"],
        },
        "update_repeats": 10,
        "update_timeout_s": 150,
        "envs": [1, 4, 8],
        "env_agent_steps": 100,
        "task": "walker_walk",
        "tests": ["tests"],
        "tests_timeout_s": 120,
        "train_overrides": {},
    }


class Report:
    """The results by section, written to OUTDIR after every section."""

    def __init__(self, outdir: Path, smoke: bool, budget_s: float) -> None:
        self.outdir = outdir
        self.start = time.monotonic()
        self.budget_s = budget_s
        self.data: dict[str, Any] = {"mode": "cpu-smoke" if smoke else "gpu", "sections": {}}
        outdir.mkdir(parents=True, exist_ok=True)

    def left_s(self) -> float:
        """Seconds left of the budget."""
        return self.budget_s - (time.monotonic() - self.start)

    def section(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        """Run one section; record its result or its error, and its seconds."""
        start = time.monotonic()
        try:
            result = {"ok": True, **fn()}
        except Exception as error:  # noqa: BLE001 -- one failing section must not hide the rest
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            result["traceback"] = traceback.format_exc(limit=5)
        result["seconds"] = round(time.monotonic() - start, 1)
        self.data["sections"][name] = result
        self.write()

    def write(self) -> None:
        self.data["total_seconds"] = round(time.monotonic() - self.start, 1)
        (self.outdir / "gpu_check.json").write_text(json.dumps(self.data, indent=2) + "\n")
        (self.outdir / "gpu_check.md").write_text(markdown(self.data))


# --- sections ----------------------------------------------------------------------------------
def machine(task: str) -> dict[str, Any]:
    """Versions, the CUDA device and the GL renderer of a pixel environment."""
    import torch

    out: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d"),
    }
    from dreamer_lite.envs import make_env, software_rendering_warning

    env = make_env(task, size=16)
    out["gl_renderer"] = env.gl_renderer
    out["software_rendering_warning"] = software_rendering_warning(
        env.gl_renderer, torch.cuda.is_available()
    )
    import dm_control
    import mujoco

    out["dm_control"] = getattr(dm_control, "__version__", "?")
    out["mujoco"] = mujoco.__version__
    return out


def update(sizes: dict[str, Any], left_s: Callable[[], float]) -> dict[str, Any]:
    """Median seconds per update in each mode, each in a ``dreamer_lite.bench`` subprocess."""
    out: dict[str, Any] = {"preset": sizes["preset"]}
    for mode, extra in sizes["update_modes"].items():
        timeout = min(sizes["update_timeout_s"], max(10.0, left_s() - 60))
        command = [
            *("-m", "dreamer_lite.bench", "--preset", sizes["preset"], "--device"),
            *(sizes["device"], "--no-env", "--json", "--repeats", str(sizes["update_repeats"])),
            *extra,
        ]
        try:
            done = subprocess.run(
                [sys.executable, *command],
                check=False,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            out[mode] = {"error": f"no result within {timeout:.0f} s"}
            continue
        if done.returncode != 0:
            out[mode] = {"error": done.stderr.strip().splitlines()[-1:] or ["no output"]}
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        keys = ("update_s", "model_s", "actor_s", "value_s", "act_ms", "peak_cuda_mb", "device")
        out[mode] = {key: result[key] for key in keys if key in result}
    return out


def host_reads_per_update(preset: str) -> dict[str, int]:
    """Tensor values read by the host in one update (``bench.count_host_reads``); on a GPU each
    is a sync. Measured on the CPU at tiny batch sizes: the count does not depend on either."""
    import torch

    from dreamer_lite.agent import Dreamer
    from dreamer_lite.bench import count_host_reads, random_batch
    from dreamer_lite.config import IMAGE_SIZE, Config

    cfg = Config.preset(preset, device="cpu")
    torch.manual_seed(0)
    agent = Dreamer(cfg, (3, IMAGE_SIZE, IMAGE_SIZE), 1)
    batch = random_batch(cfg, (3, IMAGE_SIZE, IMAGE_SIZE), 1, seq_len=4, batch_size=2)
    agent.update(batch)
    with count_host_reads() as counts:
        agent.update(batch)
    return dict(counts)


def collection(sizes: dict[str, Any]) -> dict[str, Any]:
    """Env steps/s with each number of parallel environments (pixels)."""
    from dreamer_lite.bench import bench_parallel_env
    from dreamer_lite.config import Config

    cfg = Config.preset(sizes["preset"], task=sizes["task"], device="cpu")
    rates = {}
    for n in sizes["envs"]:
        rates[str(n)] = round(
            bench_parallel_env(cfg, n, agent_steps=sizes["env_agent_steps"])["env_steps_per_s"], 1
        )
    return {"task": cfg.task, "shadows": cfg.shadows, "env_steps_per_s": rates}


def unit_tests(paths: list[str], timeout_s: float, outdir: Path) -> dict[str, Any]:
    """pytest on ``paths`` without the slow, learning and notebook tests; counts and failures."""
    junit = outdir / "unit_tests.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-m", "not slow and not learning", f"--junitxml={junit}", *paths]
    try:
        done = subprocess.run(
            command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as error:
        (outdir / "unit_tests.log").write_text(str(error.stdout or ""))
        return {"error": f"unfinished after {timeout_s:.0f} s"}
    (outdir / "unit_tests.log").write_text(done.stdout + done.stderr)
    return {"exit_status": done.returncode, **junit_summary(junit)}


def junit_summary(path: Path) -> dict[str, Any]:
    """Counts and the failing tests (``file::name: first line``) of a pytest JUnit XML file."""
    if not path.exists():
        return {"error": "pytest wrote no report"}
    root = ElementTree.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = []
    for case in suite.iter("testcase"):
        problem = case.find("failure")
        problem = problem if problem is not None else case.find("error")
        if problem is not None:
            message = (problem.get("message") or "").splitlines()[:1]
            failed.append(f"{case.get('classname')}::{case.get('name')}: {''.join(message)}"[:300])
    return {**counts, "failed": failed}


def training(sizes: dict[str, Any], minutes: float, outdir: Path) -> dict[str, Any]:
    """A paper-preset run for ``minutes``; rates from its metrics log, returns of its evals."""
    from dreamer_lite.config import Config
    from dreamer_lite.train import Trainer, drive

    cfg = Config.preset(
        sizes["preset"], task=sizes["task"], device=sizes["device"], **sizes["train_overrides"]
    )
    with tempfile.TemporaryDirectory(prefix="gpu-check-train-") as logdir:  # replay: large
        trainer = Trainer(cfg, Path(logdir), _env_factory(), None, progress=False)
        start = time.time()
        history = drive(trainer, max_minutes=minutes, final_media=False)
        if not history.get("eval") or history["eval"][-1]["env_steps"] != trainer.env_steps:
            trainer.evaluate()
            history = trainer.rundir.history()
        (outdir / "training_metrics.jsonl").write_bytes(trainer.rundir.metrics_path.read_bytes())
    return {"task": cfg.task, "minutes": round(minutes, 2), **training_rates(history, start)}


def _env_factory():
    from dreamer_lite.envs import make_task_env

    return make_task_env


def training_rates(history: dict[str, list[dict[str, Any]]], start: float) -> dict[str, Any]:
    """Rates of a run from its records: env steps and updates per minute after the seed
    episodes (from the first training phase to the last record, the steady state), the hours
    1e6 env steps would take at that rate, the evaluation returns. ``start``: its wall time."""
    records = sorted(
        (r for kind in ("episode", "train", "eval") for r in history.get(kind, [])),
        key=lambda r: r["wall_time"],
    )
    trains = history.get("train", [])
    out: dict[str, Any] = {
        "env_steps": max((r["env_steps"] for r in records), default=0),
        "updates": trains[-1]["updates"] if trains else 0,
        "seed_phase_s": round(trains[0]["wall_time"] - start, 1) if trains else None,
        "eval_returns": [[r["env_steps"], round(r["return"], 1)] for r in history.get("eval", [])],
    }
    if trains and records[-1]["wall_time"] > trains[0]["wall_time"]:
        minutes = (records[-1]["wall_time"] - trains[0]["wall_time"]) / 60
        env_steps = records[-1]["env_steps"] - trains[0]["env_steps"]
        updates = out["updates"] - trains[0]["updates"]
        out["env_steps_per_min"] = round(env_steps / minutes, 1)
        out["updates_per_min"] = round(updates / minutes, 1)
        if env_steps > 0:
            out["hours_per_million_env_steps"] = round(1e6 / (env_steps / minutes) / 60, 2)
    return out


# --- the table ---------------------------------------------------------------------------------
def markdown(data: dict[str, Any]) -> str:
    """A short table of the figures (what docs/RESULTS.md takes)."""
    sections = data["sections"]
    rows = [("mode", data["mode"])]
    info = sections.get("machine", {})
    for key in ("gpu", "torch", "python", "gl_renderer"):
        if key in info:
            rows.append((key, info[key]))
    for mode, result in sections.get("update", {}).items():
        if isinstance(result, dict) and ("update_s" in result or "error" in result):
            value = result.get("update_s", result.get("error"))
            rows.append((f"update, {mode} (s, median)", value))
    if "host_reads_per_update" in sections.get("update", {}):
        rows.append(("host reads per update", sections["update"]["host_reads_per_update"]))
    for n, rate in sections.get("collection", {}).get("env_steps_per_s", {}).items():
        rows.append((f"collection, {n} env(s) (env steps/s)", rate))
    tests = sections.get("unit_tests", {})
    if "tests" in tests:
        counts = f"{tests['tests']} run, {tests['failures']} failed, {tests['errors']} errors"
        rows.append(("unit tests", counts))
    run = sections.get("training", {})
    for key in ("env_steps_per_min", "updates_per_min", "hours_per_million_env_steps"):
        if key in run:
            rows.append((f"training, {key}", run[key]))
    if "eval_returns" in run:
        rows.append(("training, eval returns [env steps, return]", run["eval_returns"]))
    for name, result in sections.items():
        if not result.get("ok", True):
            rows.append((f"{name} FAILED", result["error"]))
    lines = ["| what | value |", "|---|---|"]
    lines += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in rows]
    anchors = f"Anchors: paper {PAPER_HOURS_PER_MILLION} h per 1e6 env steps (V100); goal "
    anchors += f"{GOAL_HOURS_PER_MILLION} h (H100-class). Total {data.get('total_seconds')} s."
    return "\n".join([*lines, "", anchors, ""])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line; returns the report's data."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on a CPU")
    parser.add_argument("--budget-minutes", type=float, default=None, help="default 7 (smoke 2)")
    parser.add_argument("--train-minutes", type=float, default=None, help="default 4 (smoke .2)")
    args = parser.parse_args(argv)
    smoke = args.cpu_smoke
    budget = args.budget_minutes or (2.0 if smoke else 7.0)
    train_minutes = args.train_minutes or (0.2 if smoke else 4.0)
    sizes = plan(smoke)
    report = Report(args.outdir, smoke, 60 * budget)
    report.section("machine", lambda: machine(sizes["task"]))

    def update_section() -> dict[str, Any]:
        out = update(sizes, report.left_s)
        out["host_reads_per_update"] = host_reads_per_update(sizes["preset"])
        return out

    report.section("update", update_section)
    report.section("collection", lambda: collection(sizes))
    # Keep the training run's share (and a margin) when giving the tests their time limit.
    tests_timeout = max(20.0, min(sizes["tests_timeout_s"], report.left_s() - 60 * 1.5))
    report.section("unit_tests", lambda: unit_tests(sizes["tests"], tests_timeout, args.outdir))
    minutes = min(train_minutes, max(0.1, (report.left_s() - 45) / 60))
    report.section("training", lambda: training(sizes, minutes, args.outdir))
    report.write()
    print((args.outdir / "gpu_check.md").read_text())
    return report.data


if __name__ == "__main__":
    main()
