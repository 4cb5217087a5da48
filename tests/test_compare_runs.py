"""scripts/compare_runs.py reads runs by the clock: at minute t a run shows its latest finished
evaluation, never a later one; the table's median is over those values."""

import json
from pathlib import Path

import pytest


def fake_run(folder: Path, evals: list[tuple[float, int, float]]) -> Path:
    """A run folder whose first episode is at wall time 1000 s, evaluations at (minute, step, R)."""
    folder.mkdir(parents=True)
    lines = [{"kind": "episode", "env_steps": 1000, "return": 1.0, "wall_time": 1000.0}]
    lines += [
        {"kind": "eval", "env_steps": step, "return": ret, "wall_time": 1000.0 + 60 * minute}
        for minute, step, ret in evals
    ]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder


def test_return_at_is_the_latest_evaluation_finished_by_then(tmp_path, load_script):
    script = load_script("compare_runs")
    run = fake_run(tmp_path / "a", [(5, 5000, 100.0), (20, 10000, 300.0), (41, 15000, 250.0)])
    points = script.eval_points(script.load_history(run))
    assert points == [(5.0, 5000, 100.0), (20.0, 10000, 300.0), (41.0, 15000, 250.0)]
    assert script.return_at(points, 4.9) is None
    assert script.return_at(points, 5.0) == 100.0
    assert script.return_at(points, 19.0) == 100.0
    assert script.return_at(points, 40.0) == 300.0
    assert script.return_at(points, 60.0) == 250.0


def test_table_and_plot(tmp_path, capsys, load_script):
    script = load_script("compare_runs")
    runs = [
        fake_run(tmp_path / f"s{i}", [(10, 5000, 100.0 * (i + 1)), (30, 10000, 200.0 * (i + 1))])
        for i in range(3)
    ]
    out = tmp_path / "cmp.png"
    script.main(["--group", "A", *map(str, runs), "--at", "5", "30", "--out", str(out)])
    text = capsys.readouterr().out
    assert "5 min: -, -, - (a run had not evaluated yet)" in text
    # 200, 400, 600 by minute 30: the median of three is the middle one, 400.
    assert "30 min: 200, 400, 600 -> median 400" in text
    assert out.stat().st_size > 10_000


def test_a_group_without_runs_is_refused_by_name(tmp_path, capsys, load_script):
    script = load_script("compare_runs")
    with pytest.raises(SystemExit):
        script.main(["--group", "lonely"])
    assert "--group 'lonely' names no run folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--group", "A", str(tmp_path / "nowhere")])
    assert "no metrics.jsonl in" in capsys.readouterr().err


def test_a_run_without_evaluations_is_named(tmp_path, load_script):
    script = load_script("compare_runs")
    run = fake_run(tmp_path / "young", [])
    with pytest.raises(SystemExit, match="young has logged no evaluation yet"):
        script.main(["--group", "A", str(run)])
