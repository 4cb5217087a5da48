"""Tests of dreamer_lite.agent: acting never trains, updates step the right parameters, checkpoints."""

import copy
import io
import math

import numpy as np
import pytest
import torch

from dreamer_lite.agent import AgentState, Dreamer, NonFiniteLossError, resolve_device
from dreamer_lite.bench import random_batch
from dreamer_lite.config import Config

T, B, A = 4, 2, 2
IMAGE = (3, 64, 64)


def make_agent(discrete: bool = False, seed: int = 0, **overrides) -> Dreamer:
    torch.manual_seed(seed)
    cfg = Config.tiny(device="cpu", **overrides)
    return Dreamer(cfg, IMAGE, A, discrete=discrete)


def make_batch(seed: int = 0, discrete: bool = False) -> dict[str, torch.Tensor]:
    """A random (T, B) batch of frames, plus an extra ``discount`` key that update must ignore."""
    batch = random_batch(
        Config.tiny(), IMAGE, A, seed=seed, seq_len=T, batch_size=B, discrete=discrete
    )
    return {**batch, "discount": torch.ones(T, B)}


def make_obs(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (B, *IMAGE), dtype=np.uint8)


def snapshot(agent: Dreamer) -> dict:
    """Deep copies of all parameters and optimizer states."""
    return copy.deepcopy(
        {
            "params": agent.state_dict(),
            "model_opt": agent.model_opt.state_dict(),
            "actor_opt": agent.actor_opt.state_dict(),
            "value_opt": agent.value_opt.state_dict(),
        }
    )


def assert_nested_equal(a, b) -> None:
    """Exact equality of nested dicts/lists of tensors and plain values."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_nested_equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_nested_equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def changed(before: dict, after: dict, prefix: str) -> list[bool]:
    return [not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)]


def test_act_shape_and_range():
    """act returns (B, A) numpy actions in [-1, 1] and the next state, explore on or off."""
    agent = make_agent()
    for explore in (True, False):
        action, state = agent.act(make_obs(), explore=explore)
        assert isinstance(action, np.ndarray) and action.shape == (B, A)
        assert isinstance(state, AgentState)
        assert state.latent.deter.shape == (B, agent.cfg.deter_size)
        assert state.action.shape == (B, A)
        np.testing.assert_array_equal(state.action.numpy(), action)


def test_act_never_changes_parameters_or_optimizers():
    """Acting (with a trained optimizer state) leaves parameters and optimizer states unchanged."""
    agent = make_agent()
    agent.update(make_batch())
    before = snapshot(agent)
    state = None
    for step in range(3):
        _, state = agent.act(make_obs(step), state, explore=step % 2 == 0)
    assert_nested_equal(before, snapshot(agent))
    assert all(p.grad is None or not p.grad.requires_grad for p in agent.parameters())
    assert agent.num_updates == 1


def test_act_builds_no_graph():
    """act runs without autograd: its outputs carry no graph."""
    agent = make_agent()
    _, state = agent.act(make_obs())
    assert not state.latent.feat.requires_grad and not state.action.requires_grad


def test_act_eval_is_deterministic_given_state_and_seed():
    """explore=False: the same state and seed give the same action. (The posterior z_t is itself
    sampled, as in the official code, so the seed is fixed too; test_acting.py checks which
    action it is.)"""
    agent = make_agent()
    obs = make_obs()
    _, state = agent.act(obs)
    torch.manual_seed(42)
    first, _ = agent.act(obs, state, explore=False)
    torch.manual_seed(42)
    second, _ = agent.act(obs, state, explore=False)
    np.testing.assert_array_equal(first, second)


def test_act_explore_adds_noise():
    """With the same seed, explore=True gives different actions from the mode."""
    agent = make_agent()
    obs = make_obs()
    torch.manual_seed(1)
    greedy, _ = agent.act(obs, explore=False)
    torch.manual_seed(1)
    noisy, _ = agent.act(obs, explore=True)
    assert not np.allclose(greedy, noisy)


def test_act_discrete_one_hot():
    """A discrete agent acts with one one-hot row per environment, explore on or off."""
    agent = make_agent(discrete=True, expl_epsilon=0.5)
    for explore in (True, False):
        action, _ = agent.act(make_obs(), explore=explore)
        assert action.shape == (B, A)
        assert set(np.unique(action).tolist()) <= {0.0, 1.0}
        np.testing.assert_array_equal(action.sum(-1), np.ones(B))


def test_update_returns_finite_float_metrics():
    """update returns finite float metrics (losses, KL, grad norms) and counts updates."""
    agent = make_agent()
    assert agent.num_updates == 0
    metrics = agent.update(make_batch())
    for key in (
        "model_loss",
        "kl",
        "kl_term",
        "reward_log_prob",
        "obs_log_prob",
        "actor_loss",
        "value_loss",
        "model_grad_norm",
        "actor_grad_norm",
        "value_grad_norm",
        "imagined_return",
    ):
        assert key in metrics, key
    for key, value in metrics.items():
        assert isinstance(value, float) and math.isfinite(value), key
    agent.update(make_batch(1))
    assert agent.num_updates == 2


@pytest.mark.parametrize("objective", ["contrastive", "reward"])
def test_update_other_objectives(objective):
    """The contrastive and reward-only objectives also update with finite metrics."""
    agent = make_agent(objective=objective)
    metrics = agent.update(make_batch())
    assert all(math.isfinite(v) for v in metrics.values())


def test_update_reward_sum_trains_no_critic():
    """With V_R the critic is not needed: no value loss, critic parameters unchanged."""
    agent = make_agent(value_estimator="reward_sum")
    before = snapshot(agent)["params"]
    metrics = agent.update(make_batch())
    assert "value_loss" not in metrics
    assert not any(changed(before, agent.state_dict(), "critic."))


def test_update_discrete_agent():
    """A discrete (straight-through) agent updates all three parts."""
    agent = make_agent(discrete=True)
    before = snapshot(agent)["params"]
    metrics = agent.update(make_batch(discrete=True))
    assert all(math.isfinite(v) for v in metrics.values())
    after = agent.state_dict()
    for prefix in ("world_model.", "actor.", "critic."):
        assert any(changed(before, after, prefix)), prefix


def test_optimizers_hold_disjoint_parameter_sets_covering_each_module():
    """model_opt holds exactly the world model, actor_opt the actor, value_opt the critic."""
    agent = make_agent()

    def ids(params):
        return {id(p) for p in params}

    def opt_ids(opt):
        return ids(p for group in opt.param_groups for p in group["params"])

    model, actor, value = (
        opt_ids(agent.model_opt),
        opt_ids(agent.actor_opt),
        opt_ids(agent.value_opt),
    )
    assert model == ids(agent.world_model.parameters())
    assert actor == ids(agent.actor.parameters())
    assert value == ids(agent.critic.parameters())
    assert not (model & actor) and not (model & value) and not (actor & value)
    assert model | actor | value == ids(agent.parameters())


@pytest.mark.parametrize("moving", ["world_model", "actor", "critic"])
def test_each_optimizer_steps_only_its_own_parameters(moving):
    """With the other two learning rates set to 0, only the moving module's parameters change."""
    agent = make_agent()
    opts = {"world_model": agent.model_opt, "actor": agent.actor_opt, "critic": agent.value_opt}
    for name, opt in opts.items():
        if name != moving:
            for group in opt.param_groups:
                group["lr"] = 0.0
    before = snapshot(agent)["params"]
    agent.update(make_batch())
    after = agent.state_dict()
    for name in opts:
        moved = changed(before, after, name + ".")
        if name == moving:
            assert any(moved), name
        else:
            assert not any(moved), name


def test_each_parameter_receives_gradient_from_one_loss_only():
    """During update every parameter's gradient is computed at most once: no loss leaks into
    another module (e.g. the actor loss into the world model)."""
    agent = make_agent(free_nats=0.0)
    calls = {name: 0 for name, _ in agent.named_parameters()}
    handles = []
    for name, p in agent.named_parameters():
        handles.append(
            p.register_hook(lambda grad, name=name: calls.__setitem__(name, calls[name] + 1))
        )
    agent.update(make_batch())
    for handle in handles:
        handle.remove()
    assert all(count == 1 for count in calls.values()), {k: v for k, v in calls.items() if v != 1}


def test_checkpoint_round_trip():
    """checkpoint_state -> torch.save/load -> load_checkpoint_state restores parameters,
    optimizer states and the update count; both agents then update identically."""
    agent = make_agent(seed=0)
    agent.update(make_batch(0))
    agent.update(make_batch(1))
    buffer = io.BytesIO()
    torch.save(agent.checkpoint_state(), buffer)
    buffer.seek(0)

    other = make_agent(seed=1)
    assert not torch.equal(
        next(agent.actor.parameters()), next(other.actor.parameters())
    )  # really a different start
    other.load_checkpoint_state(torch.load(buffer, weights_only=False))
    assert other.num_updates == 2
    assert_nested_equal(snapshot(agent), snapshot(other))

    torch.manual_seed(7)
    first = agent.update(make_batch(2))
    torch.manual_seed(7)
    second = other.update(make_batch(2))
    for key in first:
        if not key.startswith("time_"):
            assert first[key] == second[key], key
    assert_nested_equal(snapshot(agent)["params"], snapshot(other)["params"])


def test_nan_reward_raises_non_finite_loss_error():
    """NaN rewards raise NonFiniteLossError naming model_loss, before any parameter changes."""
    agent = make_agent()
    batch = make_batch()
    batch["reward"][1, 0] = float("nan")
    before = snapshot(agent)
    with pytest.raises(NonFiniteLossError, match="model_loss"):
        agent.update(batch)
    assert isinstance(NonFiniteLossError("x"), FloatingPointError)
    assert_nested_equal(before, snapshot(agent))
    assert agent.num_updates == 0


def test_initial_state_and_device():
    """initial_state is zeros of (B, .); resolve_device handles cpu and auto."""
    agent = make_agent()
    state = agent.initial_state(3)
    assert state.action.shape == (3, A) and not state.action.any()
    assert state.latent.deter.shape == (3, agent.cfg.deter_size)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    assert agent.device == torch.device("cpu")


def test_device_choice_is_explicit_and_clear():
    """'auto' falls back to the CPU; asking for CUDA without a GPU names the problem."""
    from dreamer_lite.agent import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_count_host_reads_counts_each_kind_of_read():
    """The counter itself: a read of each kind is counted once, and nothing outside the block."""
    from dreamer_lite.bench import count_host_reads

    x = torch.ones(2)
    with count_host_reads() as counts:
        x[0].item()
        bool(x[0])
        float(x[1])
        x.tolist()
    x.item  # noqa: B018 (an attribute, not a read)
    x[0].item()  # after the block: not counted
    assert dict(counts) == {"item": 1, "__bool__": 1, "__float__": 1, "tolist": 1}


@pytest.mark.parametrize(
    "overrides, discrete",
    [({}, False), ({"objective": "contrastive"}, False), ({}, True)],
)
def test_update_reads_the_host_once(overrides, discrete):
    """An update hands values to the host exactly once (one ``tolist``): no ``.item()``, no
    ``if tensor`` from distribution argument checks, no finiteness check between the steps.
    On a GPU each read is a sync; the code before this test made 109 reads per update."""
    from dreamer_lite.bench import count_host_reads

    agent = make_agent(discrete=discrete, **overrides)
    batch = make_batch(discrete=discrete)
    agent.update(batch)  # the first update creates the optimizers' state
    with count_host_reads() as counts:
        agent.update(batch)
    assert dict(counts) == {"tolist": 1}


def test_nan_actor_loss_keeps_the_model_step_and_changes_nothing_else():
    """A NaN actor loss (from a NaN critic) is found after the steps, in the one sync: the
    world-model step before it stays (as with a check before each step), while the actor and
    the critic, told on the device to skip their steps, keep their parameters and optimizer
    state; the error names actor_loss and the update number."""
    agent = make_agent()
    agent.update(make_batch())
    with torch.no_grad():
        agent.critic.net.net[-1].bias.fill_(float("nan"))
    before = snapshot(agent)
    with pytest.raises(NonFiniteLossError, match="actor_loss is nan at update 1"):
        agent.update(make_batch(1))
    after = snapshot(agent)
    assert any(changed(before["params"], after["params"], "world_model."))
    for name, value in before["params"].items():
        if name.startswith(("actor.", "critic.")):  # the critic's NaN bias stays NaN
            torch.testing.assert_close(after["params"][name], value, rtol=0, atol=0, equal_nan=True)
    assert_nested_equal(before["actor_opt"], after["actor_opt"])
    assert_nested_equal(before["value_opt"], after["value_opt"])
    assert agent.num_updates == 1


def test_tf32_matmuls_only_on_cuda():
    """TF32 matmuls are switched on for a CUDA agent only; a CPU agent leaves the setting."""
    from dreamer_lite.agent import enable_tf32

    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        make_agent()
        enable_tf32(torch.device("cpu"))
        assert torch.get_float32_matmul_precision() == "highest"
        enable_tf32(torch.device("cuda"))  # only sets the flag: no GPU needed
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(previous)
