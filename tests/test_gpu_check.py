"""The GPU check script: its bookkeeping by hand, and its CPU smoke mode end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dreamer_lite.gpu_check import SECTIONS, junit_summary, markdown, training_rates

ROOT = Path(__file__).resolve().parents[1]


def test_training_rates_from_records():
    """Steady state from the first training phase (wall 100 s, 5000 env steps, 100 updates) to
    the last record (wall 220 s, 25000 env steps): 2 minutes, 20000 env steps -> 10000 per
    minute, 1e6 / 10000 = 100 minutes = 1.67 h; updates (300 - 100) / 2 = 100 per minute."""
    history = {
        "episode": [
            {"env_steps": 5000, "wall_time": 90.0, "return": 1.0},
            {"env_steps": 25000, "wall_time": 219.0, "return": 2.0},
        ],
        "train": [
            {"env_steps": 5000, "wall_time": 100.0, "updates": 100},
            {"env_steps": 20000, "wall_time": 200.0, "updates": 300},
        ],
        "eval": [{"env_steps": 25000, "wall_time": 220.0, "return": 123.456}],
    }
    out = training_rates(history, start=60.0)
    assert out["env_steps"] == 25000 and out["updates"] == 300
    assert out["seed_phase_s"] == 40.0
    assert out["env_steps_per_min"] == 10000.0
    assert out["updates_per_min"] == 100.0
    assert out["hours_per_million_env_steps"] == 1.67
    assert out["eval_returns"] == [[25000, 123.5]]


def test_junit_summary_names_failures(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(
        '<testsuites><testsuite tests="3" failures="1" errors="1" skipped="0">'
        '<testcase classname="tests.test_a" name="test_ok"/>'
        '<testcase classname="tests.test_a" name="test_bad">'
        '<failure message="assert 1 == 2&#10;more">trace</failure></testcase>'
        '<testcase classname="tests.test_b" name="test_err"><error message="boom"/></testcase>'
        "</testsuite></testsuites>"
    )
    summary = junit_summary(path)
    assert (summary["tests"], summary["failures"], summary["errors"]) == (3, 1, 1)
    assert summary["failed"] == [
        "tests.test_a::test_bad: assert 1 == 2",
        "tests.test_b::test_err: boom",
    ]


def test_markdown_lists_figures_and_failed_sections():
    data = {
        "mode": "gpu",
        "total_seconds": 400,
        "sections": {
            "update": {"ok": True, "eager": {"update_s": 0.05}, "preset": "paper"},
            "collection": {"ok": True, "env_steps_per_s": {"1": 900.0, "8": 5000.0}},
            "training": {"ok": False, "error": "RuntimeError: no GPU"},
        },
    }
    table = markdown(data)
    assert "| update, eager (s, median) | 0.05 |" in table
    assert "| collection, 8 env(s) (env steps/s) | 5000.0 |" in table
    assert "| training FAILED | RuntimeError: no GPU |" in table
    assert "preset" not in table


@pytest.mark.slow
@pytest.mark.dmc
def test_cpu_smoke_mode_writes_every_section(tmp_path):
    """``python -m dreamer_lite.gpu_check OUT --cpu-smoke``: every section ran and the JSON has
    its figures (so the GPU run cannot rot unnoticed)."""
    done = subprocess.run(
        [sys.executable, "-m", "dreamer_lite.gpu_check", str(tmp_path), "--cpu-smoke"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((tmp_path / "gpu_check.json").read_text())
    assert data["mode"] == "cpu-smoke" and tuple(data["sections"]) == SECTIONS
    for name, section in data["sections"].items():
        assert section["ok"], (name, section.get("error"), section.get("traceback"))
    sections = data["sections"]
    assert sections["machine"]["gl_renderer"]
    assert sections["update"]["eager"]["update_s"] > 0
    assert sections["update"]["host_reads_per_update"] == {"tolist": 1}
    assert set(sections["collection"]["env_steps_per_s"]) == {"1", "2"}
    assert sections["unit_tests"]["tests"] > 0 and sections["unit_tests"]["failures"] == 0
    for key in ("env_steps_per_min", "updates_per_min", "hours_per_million_env_steps"):
        assert sections["training"][key] > 0, key
    assert sections["training"]["eval_returns"]
    assert "| unit tests |" in (tmp_path / "gpu_check.md").read_text()
