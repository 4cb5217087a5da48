"""The training loop: files it writes, resuming (also after SIGKILL), errors it raises."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import pytest

from dreamer_lite.agent import NonFiniteLossError
from dreamer_lite.cli import main
from dreamer_lite.config import Config
from dreamer_lite.objectives import FreeNatsWatch
from dreamer_lite.replay import ReplayBuffer
from dreamer_lite.rundir import load_history
from dreamer_lite.train import train
from tests.fakes import fake_factory, tiny_run_config

ROOT = Path(__file__).resolve().parents[1]


tiny = tiny_run_config


def test_train_writes_everything(tmp_path):
    """A short run leaves config, checkpoint, replay, metrics, curve and videos."""
    history = train(tiny(), tmp_path, env_factory=fake_factory, progress=False)
    for name in (
        "config.json",
        "checkpoint.pt",
        "metrics.jsonl",
        "curve.png",
        "videos/policy.mp4",
        "videos/open_loop.mp4",
    ):
        assert (tmp_path / name).exists(), name
    assert history["eval"] and history["train"] and history["episode"]
    assert history["episode"][-1]["env_steps"] == 480
    times = [r["wall_time"] for kind in ("episode", "train", "eval") for r in history[kind]]
    assert max(times) - min(times) < 3600 and min(times) > 1.7e9  # seconds since the epoch
    assert len(list((tmp_path / "episodes").glob("*.npz"))) == 480 // 160


def test_schedule_of_records(tmp_path):
    """The order of what a run does, worked out by hand from the schedule of ``tiny()``:
    40-step episodes of 160 env steps, one seed episode, 2 updates every 80 env steps (the
    first before any policy step), an evaluation every 160. Updates due exactly at an
    episode's end wait until the episode is stored and evaluated."""
    train(tiny(), tmp_path, env_factory=fake_factory, progress=False, final_media=False)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [(r["kind"], r["env_steps"]) for r in map(json.loads, lines)]
    assert records == [
        ("episode", 160),  # the seed episode
        ("train", 160),
        ("train", 240),
        ("episode", 320),
        ("eval", 320),
        ("train", 320),
        ("train", 400),
        ("episode", 480),
        ("eval", 480),
    ]
    updates = [r["updates"] for r in load_history(tmp_path)["train"]]
    assert updates == [2, 4, 6, 8]


def test_resume_continues_counters(tmp_path):
    """Rerunning with a larger budget continues steps and updates instead of starting over."""
    train(tiny(), tmp_path, env_factory=fake_factory, progress=False, final_media=False)
    first = load_history(tmp_path)
    history = train(
        tiny(total_steps=800), tmp_path, env_factory=fake_factory, progress=False, final_media=False
    )
    steps = [r["env_steps"] for r in history["episode"]]
    assert steps == sorted(steps) and steps[-1] == 800
    assert history["train"][-1]["updates"] > first["train"][-1]["updates"]
    assert len(ReplayBuffer(tmp_path / "episodes").episodes) == 5


def test_resume_with_other_config_fails_clearly(tmp_path):
    train(
        tiny(total_steps=160), tmp_path, env_factory=fake_factory, progress=False, final_media=False
    )
    with pytest.raises(ValueError, match="cnn_depth"):
        train(tiny(cnn_depth=8), tmp_path, env_factory=fake_factory, progress=False)


def test_non_finite_loss_stops_with_named_error(tmp_path):
    """NaN rewards make the model loss NaN: the run stops, names it and the step, and saves."""
    factory = partial(fake_factory, nan_reward=True)
    with pytest.raises(NonFiniteLossError, match=r"model_loss.*env step \d+"):
        train(tiny(), tmp_path, env_factory=factory, progress=False)
    assert (tmp_path / "checkpoint.pt").exists()


def test_state_observations_train(tmp_path):
    """Vector observations use the MLP encoder/decoder and train too."""
    cfg = tiny(obs_type="state", total_steps=320)
    history = train(cfg, tmp_path, env_factory=fake_factory, progress=False)
    assert history["eval"]


KILL_SCRIPT = """
import sys
import torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from dreamer_lite.config import Config
from dreamer_lite.train import train
from tests.fakes import fake_factory
cfg = Config.tiny(device="cpu", time_limit=160, total_steps=100000, train_every=40,
                  train_steps=2, eval_every=100000, checkpoint_every=160, seed_episodes=1)
train(cfg, {logdir!r}, env_factory=fake_factory, progress=False)
"""


def test_sigkill_then_resume_loses_nothing(tmp_path):
    """Kill -9 in the middle of training; rerun: counters continue, no episode file is lost."""
    script = KILL_SCRIPT.format(root=str(ROOT), logdir=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            history = load_history(tmp_path) if (tmp_path / "metrics.jsonl").exists() else {}
            if len(history.get("episode", [])) >= 4 and (tmp_path / "checkpoint.pt").exists():
                break
            assert proc.poll() is None, "training process died on its own"
            time.sleep(0.2)
        else:
            pytest.fail("training made no progress within 300 s")
        time.sleep(0.3)  # land somewhere inside an episode or an update
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    files_before = sorted(p.name for p in (tmp_path / "episodes").glob("*.npz"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt episode file would warn
        replay = ReplayBuffer(tmp_path / "episodes")
    steps_on_disk = sum(len(ep["reward"]) - 1 for ep in replay.episodes) * 4
    last_updates = load_history(tmp_path)["train"][-1]["updates"]

    cfg = Config.tiny(
        device="cpu",
        time_limit=160,
        total_steps=steps_on_disk + 320,
        train_every=40,
        train_steps=2,
        eval_every=100000,
        checkpoint_every=160,
        seed_episodes=1,
    )
    history = train(cfg, tmp_path, env_factory=fake_factory, progress=False, final_media=False)
    files_after = sorted(p.name for p in (tmp_path / "episodes").glob("*.npz"))
    assert set(files_before) <= set(files_after)
    assert len(files_after) == len(files_before) + 2
    steps = [r["env_steps"] for r in history["episode"]]
    assert steps == sorted(steps) and steps[-1] == steps_on_disk + 320
    assert history["train"][-1]["updates"] > 0
    resumed_updates = [r["updates"] for r in history["train"] if r["env_steps"] > steps_on_disk]
    assert resumed_updates and min(resumed_updates) > 2  # did not restart from zero updates
    assert last_updates > 0


def test_cli_rejects_unknown_task(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--task", "cartpole_run", "--preset", "tiny", "--logdir", str(tmp_path / "run")])
    assert "Unknown task 'cartpole_run'" in capsys.readouterr().err


@pytest.mark.dmc
def test_cli_trains_on_real_dmc(tmp_path, capsys):
    """The command-line entry point on a real task, smoke-sized."""
    main(
        [
            "--task",
            "cartpole_balance",
            "--preset",
            "tiny",
            "--logdir",
            str(tmp_path),
            "--device",
            "cpu",
            "--set",
            "total_steps=400",
            "time_limit=200",
        ]
    )
    assert (tmp_path / "curve.png").exists() and (tmp_path / "videos" / "policy.mp4").exists()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["task"] == "cartpole_balance"
    assert "final evaluation return" in capsys.readouterr().out


def test_free_nats_watch_warns_once_after_a_streak_below_free_nats():
    watch = FreeNatsWatch(free_nats=3.0, phases=3)
    assert not watch.observe(1.0) and not watch.observe(1.0)
    assert not watch.observe(0.5)  # one update above free nats resets the streak
    assert not watch.observe(1.0) and not watch.observe(1.0)
    with pytest.warns(RuntimeWarning, match="free_nats=3.0"):
        assert watch.observe(1.0)
    assert not watch.observe(1.0)  # only once


def test_free_nats_watch_is_silent_without_free_nats():
    watch = FreeNatsWatch(free_nats=0.0, phases=1)
    assert not any(watch.observe(1.0) for _ in range(5))


def test_repeated_set_options_accumulate():
    from dreamer_lite.cli import build_parser
    from dreamer_lite.config import parse_overrides

    argv = ["--set", "torch_threads=1", "--set", "free_nats=1.0", "horizon=5"]
    args = build_parser().parse_args(argv)
    assert parse_overrides(args.set) == {"torch_threads": 1, "free_nats": 1.0, "horizon": 5}
