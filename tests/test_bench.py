"""The benchmark runs and prints what it promises (its figures are measured, not tested)."""

import json

import pytest

from dreamer_lite.bench import main


def test_bench_json_has_the_figures(capsys):
    main(["--preset", "tiny", "--device", "cpu", "--no-env", "--json", "--warmup", "0",
          "--repeats", "1"])
    result = json.loads(capsys.readouterr().out)
    for key in ("update_s", "model_s", "actor_s", "value_s", "act_ms", "peak_rss_mb"):
        assert result[key] > 0, key
    assert result["preset"] == "tiny" and result["device"] == "cpu"


@pytest.mark.dmc
def test_bench_table_with_rendering(capsys):
    main(["--preset", "tiny", "--device", "cpu", "--warmup", "0", "--repeats", "1",
          "--task", "cartpole_balance"])
    out = capsys.readouterr().out
    assert "full update" in out and "env steps/s" in out
