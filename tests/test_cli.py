"""``python -m dreamer_lite.train`` answers bad input with one line on stderr and exit status 2.

Each mistake a new user makes is tried through the command line's entry point; ``--debug``
brings the traceback back. One case runs the real module in a subprocess.
"""

import subprocess
import sys

import pytest

from dreamer_lite.cli import main
from dreamer_lite.config import Config

PROG = "python -m dreamer_lite.train"


def one_line_error(capsys, argv) -> str:
    """The error line of a CLI call that must exit with status 2 and print nothing else."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{PROG}: error: ")
    return err[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--task", "cartpole_swingupp"], "Did you mean cartpole_swingup"),
        (["--steps", "-5"], "Config.total_steps=-5 is invalid"),
        (["--set", "discount=1.5"], "Config.discount=1.5 is invalid: must lie in [0, 1]"),
        (["--set", "horizon=2.7"], "Config.horizon must be an integer, got '2.7'"),
        (["--set", "horizn=3"], "unknown Config field 'horizn'"),
        (["--set", "horizon"], "expected FIELD=VALUE"),
    ],
)
def test_bad_values_give_one_line(capsys, tmp_path, monkeypatch, argv, expected):
    def no_training(*args, **kwargs):
        raise AssertionError("the command started a run instead of refusing its input")

    monkeypatch.setattr("dreamer_lite.cli.Trainer", no_training)
    line = one_line_error(capsys, [*argv, "--logdir", str(tmp_path / "run")])
    assert expected in line
    assert not (tmp_path / "run").exists()  # nothing written for a bad command


def test_logdir_that_is_a_file(capsys, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert "is a file, not a folder" in one_line_error(capsys, ["--logdir", str(path)])
    assert path.read_text() == "mine"


def test_config_json_that_is_not_json(capsys, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    line = one_line_error(capsys, ["--logdir", str(tmp_path)])
    assert f"{tmp_path / 'config.json'} is not a readable config" in line
    assert "new --logdir" in line


ARGV = ["--preset", "tiny", "--obs", "state", "--device", "cpu", "--steps", "400"]


def cli_config() -> Config:
    fixed = {"task": "cartpole_balance", "seed": 0, "device": "cpu", "total_steps": 400}
    return Config.from_overrides([], "tiny", obs_type="state", **fixed)


@pytest.mark.dmc
def test_truncated_checkpoint_names_the_file(capsys, tmp_path):
    (tmp_path / "config.json").write_text(cli_config().to_json())
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    line = one_line_error(capsys, [*ARGV, "--logdir", str(tmp_path)])
    assert f"{tmp_path / 'checkpoint.pt'} cannot be read" in line
    assert "new --logdir" in line


def test_debug_shows_the_traceback(tmp_path):
    from dreamer_lite.config import ConfigError

    with pytest.raises(ConfigError, match="horizon must be an integer"):
        main(["--set", "horizon=2.7", "--debug", "--logdir", str(tmp_path / "run")])


def test_the_module_itself_exits_2_with_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dreamer_lite.train", "--steps", "-5", "--logdir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{PROG}: error: Config.total_steps=-5 is invalid: must be a positive integer"
    ]
