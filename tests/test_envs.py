"""Tests of dreamer_lite.envs. Most use the real DeepMind Control Suite (marked dmc)."""

import ctypes.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from dreamer_lite.config import Config
from dreamer_lite.envs import (
    EXTRA_TASKS,
    TASKS,
    DMCEnv,
    make_env,
    make_task_env,
    setup_rendering,
    software_rendering_warning,
)

# MUJOCO_GL must be set before any test imports dm_control (test_tasks_match_suite does).
setup_rendering()
dmc = pytest.mark.dmc


def test_import_has_no_side_effects():
    """Importing the module must not import mujoco (the GL backend is chosen later)."""
    code = (
        "import os, sys; import dreamer_lite.envs; "
        "bad = [m for m in ('mujoco', 'dm_control') if m in sys.modules]; "
        "assert not bad, bad; assert 'MUJOCO_GL' not in os.environ"
    )
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_setup_rendering_keeps_user_choice_and_warns_when_too_late():
    code = (
        "import os, warnings\n"
        "from dreamer_lite.envs import setup_rendering\n"
        "os.environ['MUJOCO_GL'] = 'osmesa'\n"
        "assert setup_rendering() == 'osmesa' and os.environ['MUJOCO_GL'] == 'osmesa'\n"
        "del os.environ['MUJOCO_GL']\n"
        "import mujoco\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    assert setup_rendering() == 'egl'\n"
        "assert any('imported before MUJOCO_GL' in str(w.message) for w in caught), caught\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_unknown_task_lists_valid_names_without_loading_mujoco():
    with pytest.raises(ValueError, match="nonexistent_task") as info:
        make_env("nonexistent_task")
    assert "cartpole_swingup" in str(info.value) and "walker_walk" in str(info.value)
    with pytest.raises(ValueError, match="Did you mean cartpole_swingup"):
        make_env("cartpole_swingupp")
    with pytest.raises(ValueError, match="cartpole_run"):
        make_env("cartpole_run")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"obs_type": "rgb"}, "obs_type"),
        ({"action_repeat": 0}, "action_repeat"),
        ({"size": 0}, "size"),
        ({"time_limit": 1}, "time_limit"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_env("cartpole_swingup", **kwargs)


@dmc
def test_tasks_match_suite_benchmarking():
    from dm_control import suite  # after setup_rendering(), see the top of this file

    assert TASKS == tuple(f"{domain}_{task}" for domain, task in suite.BENCHMARKING)
    assert set(EXTRA_TASKS) <= {f"{domain}_{task}" for domain, task in suite.ALL_TASKS}


@dmc
def test_make_task_env_follows_the_config():
    cfg = Config.tiny(task="cartpole_balance", obs_type="state", action_repeat=2, time_limit=20)
    env = make_task_env(cfg, seed=3)
    assert env.task == "cartpole_balance" and env.obs_shape == (5,)
    assert env.action_repeat == 2 and env.max_agent_steps == 10 and env.shadows is False
    pixels = make_task_env(cfg.replace(obs_type="pixels"), seed=3)
    assert pixels.obs_shape == (3, 64, 64)  # config.IMAGE_SIZE
    np.testing.assert_array_equal(
        env.reset(), make_env("cartpole_balance", obs_type="state", seed=3).reset()
    )


@dmc
def test_pixel_observations():
    env = make_env("cartpole_swingup", time_limit=20)
    assert env.obs_shape == (3, 64, 64) and env.obs_dtype == np.uint8
    assert env.action_dim == 1 and env.max_agent_steps == 10 and env.discrete is False
    obs = env.reset()
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8
    assert obs.std() > 5, "frame looks constant: rendering is broken"
    obs, reward, done, info = env.step(np.zeros(1))
    assert obs.shape == (3, 64, 64) and isinstance(reward, float) and done is False
    assert info["discount"] == 1.0
    frame = env.render(size=(48, 80))
    assert frame.shape == (48, 80, 3) and frame.dtype == np.uint8


@dmc
def test_shadows_off_renders_a_valid_frame():
    env = make_env("walker_walk", shadows=False, size=32)
    obs = env.reset()
    assert obs.shape == (3, 32, 32) and obs.dtype == np.uint8 and obs.std() > 5
    assert not env.physics.model.light_castshadow.any()


@dmc
def test_state_observations():
    env = make_env("walker_walk", obs_type="state")
    obs = env.reset()
    assert obs.ndim == 1 and obs.dtype == np.float32 and obs.shape == env.obs_shape
    assert obs.shape == (24,)  # orientations 14 + height 1 + velocity 9, keys sorted
    obs, *_ = env.step(np.zeros(env.action_dim))
    assert obs.shape == (24,) and obs.dtype == np.float32


@dmc
def test_action_repeat_sums_rewards():
    """Stepping k times with repeat 1 equals one step with repeat k."""
    k, action = 3, np.full(1, 0.7)
    single = make_env("cartpole_swingup", obs_type="state", action_repeat=1, seed=3)
    repeated = make_env("cartpole_swingup", obs_type="state", action_repeat=k, seed=3)
    single.reset(), repeated.reset()
    rewards = [single.step(action)[1] for _ in range(k - 1)]
    obs_single, last_reward, *_ = single.step(action)
    obs_repeated, reward, *_ = repeated.step(action)
    assert reward == pytest.approx(sum(rewards) + last_reward)
    assert reward > 0  # cartpole_swingup gives a dense reward, so the sum is meaningful
    np.testing.assert_array_equal(obs_single, obs_repeated)


@dmc
def test_seeding_is_reproducible():
    first = make_env("reacher_easy", seed=7).reset()
    again = make_env("reacher_easy", seed=7).reset()
    other = make_env("reacher_easy", seed=8).reset()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@dmc
def test_bad_actions_raise_clear_errors():
    env = make_env("walker_walk", obs_type="state")
    env.reset()
    with pytest.raises(ValueError, match=r"expected an action of shape \(6,\), got shape \(5,\)"):
        env.step(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(6, np.nan))
    env.step(np.full(6, 5.0))  # out of range is clipped, not an error
    np.testing.assert_array_equal(env.physics.data.ctrl, np.ones(6))


@dmc
def test_episode_ends_at_time_limit():
    env = make_env("cartpole_balance", obs_type="state", time_limit=20, action_repeat=2)
    for _ in range(2):  # two episodes: reset must restart the count
        env.reset()
        dones = [env.step(np.zeros(1))[2] for _ in range(env.max_agent_steps)]
        assert dones == [False] * 9 + [True]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1))


@dmc
@pytest.mark.skipif(
    ctypes.util.find_library("OSMesa") is not None, reason="needs a machine without OSMesa"
)
def test_missing_gl_library_gives_install_hint():
    """With MUJOCO_GL=osmesa and no libOSMesa, the error names the packages to install."""
    code = (
        "from dreamer_lite.envs import make_env\n"
        "try:\n    make_env('cartpole_swingup')\n"
        "except RuntimeError as err:\n    print(err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["MUJOCO_GL"] = "osmesa"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "libegl1 libopengl0 libgl1-mesa-dri" in out and "libosmesa6" in out


@pytest.mark.parametrize(
    "renderer, cuda, warns",
    [
        ("llvmpipe (LLVM 15.0.6, 256 bits)", True, True),
        ("Gallium 0.4 on softpipe", True, True),
        ("Mesa OffScreen (OSMesa)", True, True),
        ("NVIDIA H100 80GB HBM3/PCIe/SSE2", True, False),
        ("llvmpipe (LLVM 15.0.6, 256 bits)", False, False),  # a CPU machine: nothing better
    ],
)
def test_software_rendering_warning_only_with_a_gpu(renderer, cuda, warns):
    message = software_rendering_warning(renderer, cuda_available=cuda)
    assert (message is not None) == warns
    if warns:
        assert renderer in message and "100x" in message


@dmc
@pytest.mark.parametrize("renderer, warns", [("llvmpipe (fake)", True), ("NVIDIA fake", False)])
def test_make_env_warns_when_a_gpu_machine_renders_in_software(monkeypatch, renderer, warns):
    """make_env asks for the renderer when CUDA is there; faked here on both counts."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(DMCEnv, "gl_renderer", property(lambda self: renderer))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_env("cartpole_balance", size=16)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("llvmpipe (fake)" in m for m in messages) == warns


@dmc
def test_gl_renderer_names_the_renderer():
    env = make_env("cartpole_balance", obs_type="state")
    renderer = env.gl_renderer  # renders once to make the GL context
    assert isinstance(renderer, str) and renderer and env.gl_renderer == renderer
    if not __import__("torch").cuda.is_available():
        assert software_rendering_warning(renderer, cuda_available=False) is None
