"""The shipped trained agents (dreamer_lite.pretrained): they load, act on the real task as their
card says, and damaged or missing files give an error naming the file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.config import Config
from dreamer_lite.pretrained import (
    AGENTS_DIR,
    CHECK_SEED,
    MEDIA_FILES,
    REQUIRED_FILES,
    PretrainedError,
    available,
    evaluate,
    load_pretrained,
    main,
    read_card,
)

SHIPPED = ["cartpole_balance-pixels", "cartpole_swingup-state"]


def band(card: dict) -> tuple[float, float]:
    """The stated band for one evaluation episode of a loaded agent: its recorded check return
    (the same first episode, env seed CHECK_SEED) plus or minus 2% and 2. Evaluation is seeded and
    deterministic (the same return to the last digit at 1 and 2 threads here); the slack only
    absorbs float rounding on another CPU."""
    centre = card["check_returns"][0]
    slack = 0.02 * abs(centre) + 2.0
    return centre - slack, centre + slack


def test_the_course_ships_its_agents():
    """Both agents the lessons use are there, with every file, and all of them fit in 15 MB."""
    assert available() == SHIPPED
    for name in SHIPPED:
        for file in REQUIRED_FILES + MEDIA_FILES:
            assert (AGENTS_DIR / name / file).is_file(), (name, file)
    total = sum(p.stat().st_size for p in AGENTS_DIR.rglob("*") if p.is_file())
    assert total <= 15 * 2**20, f"{total / 2**20:.1f} MB"


@pytest.mark.parametrize("name", SHIPPED)
def test_agent_loads_with_its_config_and_history(name):
    agent, cfg, history = load_pretrained(name)
    card = read_card(name)
    raw = json.loads((AGENTS_DIR / name / "config.json").read_text())
    assert cfg == Config.from_dict(raw).replace(device="cpu")  # validates on construction
    assert (cfg.task, cfg.obs_type, cfg.seed) == (card["task"], card["obs_type"], card["seed"])
    assert isinstance(agent, Dreamer) and not agent.training
    weights = torch.load(AGENTS_DIR / name / "weights.pt", weights_only=True)
    assert set(weights) == set(agent.state_dict())
    for key, value in agent.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert history["eval"][-1]["env_steps"] == card["env_steps"] == card["final_eval_env_steps"]
    assert history["eval"][-1]["return"] == pytest.approx(card["final_eval_return"])
    assert not any("opt" in key for key in weights)  # networks only


@pytest.mark.dmc
@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_a_real_episode_scores_in_the_cards_band(name):
    """One real evaluation episode of the loaded agent lands in the band around its recorded
    return; the same agent with the wrong action repeat, or untrained networks, does not."""
    agent, cfg, _ = load_pretrained(name)
    low, high = band(read_card(name))
    (ret,), _ = evaluate(agent, cfg, episodes=1, seed=CHECK_SEED)
    assert low <= ret <= high, (ret, low, high)

    wrong_repeat = cfg.replace(action_repeat=cfg.action_repeat // 2)
    (ret,), _ = evaluate(agent, wrong_repeat, episodes=1, seed=CHECK_SEED)
    assert not low <= ret <= high, ("wrong action repeat", ret, low, high)

    torch.manual_seed(0)
    untrained = Dreamer(cfg, agent.world_model.obs_shape, agent.action_size).eval()
    (ret,), _ = evaluate(untrained, cfg, episodes=1, seed=CHECK_SEED)
    assert not low <= ret <= high, ("untrained networks", ret, low, high)


@pytest.fixture
def copy_of_agent(tmp_path):
    """A copy of the state agent in a folder of its own (the files may then be damaged)."""
    shutil.copytree(AGENTS_DIR / "cartpole_swingup-state", tmp_path / "a")
    return tmp_path


@pytest.mark.parametrize("file", REQUIRED_FILES)
def test_a_missing_file_is_named(copy_of_agent, file):
    (copy_of_agent / "a" / file).unlink()
    with pytest.raises(PretrainedError, match=f"{file} is missing"):
        load_pretrained("a", root=copy_of_agent)


def test_a_truncated_weights_file_is_named(copy_of_agent):
    path = copy_of_agent / "a" / "weights.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(PretrainedError, match=r"weights\.pt cannot be read.*damaged or truncated"):
        load_pretrained("a", root=copy_of_agent)


@pytest.mark.parametrize("file", ["config.json", "card.json"])
def test_a_damaged_json_file_is_named(copy_of_agent, file):
    (copy_of_agent / "a" / file).write_text('{"task": "cartpole_swingup", ')
    with pytest.raises(PretrainedError, match=f"{file} is not valid JSON"):
        load_pretrained("a", root=copy_of_agent)


def test_an_invalid_config_is_named(copy_of_agent):
    path = copy_of_agent / "a" / "config.json"
    values = json.loads(path.read_text())
    path.write_text(json.dumps({**values, "discount": 1.5}))
    with pytest.raises(PretrainedError, match=r"config\.json does not validate.*discount"):
        load_pretrained("a", root=copy_of_agent)


def test_weights_of_another_agent_are_refused(copy_of_agent):
    """The pixel agent's networks in the state agent's folder: a clear error, not a crash."""
    shutil.copyfile(
        AGENTS_DIR / "cartpole_balance-pixels" / "weights.pt", copy_of_agent / "a" / "weights.pt"
    )
    with pytest.raises(PretrainedError, match="does not fit the networks"):
        load_pretrained("a", root=copy_of_agent)


def test_an_unknown_name_suggests_the_closest():
    with pytest.raises(PretrainedError, match="Did you mean 'cartpole_swingup-state'"):
        load_pretrained("cartpole_swingup_state")


def test_list_command_prints_every_agent(capsys):
    main(["list"])
    out = capsys.readouterr().out
    for name in SHIPPED:
        card = read_card(name)
        assert name in out
        assert f"{np.mean(card['check_returns']):6.1f}" in out


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_agent_is_its_configurations_median_seed(name):
    """The card carries every seed's evaluation curve; the shipped run is the median by final
    return (with an even count, the lower middle), never the best."""
    card = read_card(name)
    finals = sorted(run["eval"][-1][1] for run in card["seed_runs"])
    assert card["final_eval_return"] == finals[(len(finals) - 1) // 2]
    assert card["seed"] in [run["seed"] for run in card["seed_runs"]]
