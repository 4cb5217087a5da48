"""Tests of dreamer_lite.rundir: atomic writes, the config check, metrics and the cached baseline.

Real files in ``tmp_path``; no agent and no environment beyond a fake one.
"""

from __future__ import annotations

import json

import pytest

from dreamer_lite.config import Config
from dreamer_lite.rundir import RunDir, atomic_write, atomic_write_text, load_history
from tests.fakes import FakeEnv


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "file.bin"
    assert atomic_write(path, lambda f: f.write(b"first")) == path  # creates the folder
    atomic_write(path, lambda f: f.write(b"second"))
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.bin"]


def test_a_writer_killed_midway_leaves_the_old_file_and_no_temp_file(tmp_path):
    """A write_fn that dies after writing half its bytes stands for a kill mid-write."""
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"old checkpoint")
    seen_mid_write = []

    def dies_midway(file) -> None:
        file.write(b"half of a new ch")
        file.flush()
        seen_mid_write.extend(sorted(p.name for p in tmp_path.iterdir()))
        raise OSError("killed")

    with pytest.raises(OSError, match="killed"):
        atomic_write(path, dies_midway)
    assert path.read_bytes() == b"old checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    # Mid-write the new bytes lived under a hidden temp name next to the untouched old file.
    assert len(seen_mid_write) == 2 and seen_mid_write[0].startswith(".checkpoint.pt.")
    assert seen_mid_write[0].endswith(".tmp") and seen_mid_write[1] == "checkpoint.pt"


def test_keyboard_interrupt_mid_write_also_cleans_up(tmp_path):
    path = tmp_path / "a.txt"

    def interrupted(file) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert list(tmp_path.iterdir()) == []


def test_rundir_removes_stray_temp_files(tmp_path):
    (tmp_path / ".checkpoint.pt.abc123.tmp").write_bytes(b"half")
    (tmp_path / "notes.tmp").write_text("not ours: not hidden")
    rundir = RunDir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp"]
    assert rundir.checkpoint_path == tmp_path / "checkpoint.pt"
    assert rundir.episodes_path == tmp_path / "episodes"


def test_check_config_saves_then_accepts_resumable_changes(tmp_path):
    rundir = RunDir(tmp_path)
    cfg = Config.tiny()
    rundir.check_config(cfg)
    assert Config.from_dict(json.loads((tmp_path / "config.json").read_text())) == cfg
    longer = cfg.replace(total_steps=10_000, eval_every=100, device="cpu", torch_threads=1)
    rundir.check_config(longer)  # how it runs, not what it learns: fine
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["total_steps"] == 10_000  # the new settings are saved


def test_check_config_refuses_a_different_run(tmp_path):
    rundir = RunDir(tmp_path)
    rundir.check_config(Config.tiny())
    with pytest.raises(ValueError, match=r"horizon: saved 4 vs now 7.*--logdir"):
        rundir.check_config(Config.tiny(horizon=7))
    assert json.loads((tmp_path / "config.json").read_text())["horizon"] == 4  # unchanged


def test_check_config_reads_an_old_config_with_retired_fields(tmp_path):
    values = Config.tiny().to_dict()
    values.update(image_size=64, extra={})
    (tmp_path / "config.json").write_text(json.dumps(values))
    RunDir(tmp_path).check_config(Config.tiny())
    assert "image_size" not in json.loads((tmp_path / "config.json").read_text())


def test_log_appends_records_and_history_groups_them(tmp_path):
    rundir = RunDir(tmp_path)
    first = rundir.log("episode", 100, phase="seed", **{"return": 1.5})
    rundir.log("train", 100, updates=2)
    rundir.log("episode", 200, phase="train", **{"return": 3.0})
    assert first["kind"] == "episode" and first["env_steps"] == 100 and first["return"] == 1.5
    assert first["wall_time"] > 1.7e9  # seconds since the epoch
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["episode", "train", "episode"]
    history = rundir.history()
    assert [r["env_steps"] for r in history["episode"]] == [100, 200]
    assert history["train"][0]["updates"] == 2
    assert history == load_history(tmp_path)
    assert load_history(tmp_path / "nowhere") == {}


def test_truncate_metrics_drops_what_a_resume_will_redo(tmp_path):
    rundir = RunDir(tmp_path)
    for steps in (100, 200, 300):
        rundir.log("episode", steps)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write("\n")  # blank lines are skipped
    rundir.truncate_metrics(200)
    assert [r["env_steps"] for r in load_history(tmp_path)["episode"]] == [100, 200]
    RunDir(tmp_path / "empty").truncate_metrics(0)  # no metrics yet: nothing to do
    assert not (tmp_path / "empty" / "metrics.jsonl").exists()


def test_random_return_is_measured_once(tmp_path):
    """FakeEnv's reward is 1 - |position| >= 0 per step: a positive return, then read back."""
    rundir = RunDir(tmp_path)
    value = rundir.random_return(FakeEnv(seed=0, length=10), episodes=2, seed=0)
    assert 0.0 < value <= 10.0
    saved = json.loads((tmp_path / "random_return.json").read_text())
    assert saved == {"return": value, "episodes": 2}
    atomic_write_text(tmp_path / "random_return.json", json.dumps({"return": -7.0}))
    assert rundir.random_return(FakeEnv(seed=0, length=10), episodes=2) == -7.0  # the cache
