"""DeepMind Control Suite tasks behind a small, checked, Gym-like interface.

Explained in notebooks/01_rssm_elbo.ipynb (where the first real frames come from) and used by
the training loop of notebooks/05_training.ipynb (``make_task_env``: the env a ``Config`` asks for).

Shape legend
    C = 3 colour channels, S = image size (``config.IMAGE_SIZE``, 64 as in the paper),
    A = action dimensions, O = length of the flattened state vector.

    pixels observation   (C, S, S) uint8, channels first, values 0..255
    state observation    (O,) float32, the task's observation dict flattened, keys sorted
    action               (A,) float in [-1, 1], rescaled to the task's bounds
    render() frame       (H, W, 3) uint8, channels last, for videos

Time
    One agent step applies its action ``action_repeat`` times (the paper uses 2) and returns
    the SUM of the rewards. ``time_limit`` counts env (control) steps, as the paper does:
    1000 env steps = 500 agent steps at action repeat 2.

Rendering
    MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when it is first imported, so
    :func:`setup_rendering` must run before that. :func:`make_env` calls it for you; importing
    this module imports neither mujoco nor dm_control (no side effects at import).
    ``DMCEnv.gl_renderer`` names the GL renderer that draws the frames: on a GPU machine EGL
    should reach the NVIDIA driver; Mesa's software rasteriser (llvmpipe) there is about 100x
    slower, and ``make_env`` warns (:func:`software_rendering_warning`).
"""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from typing import Any

import numpy as np

from dreamer_lite.config import IMAGE_SIZE, OBS_TYPES, Config

_CAMERA_BY_DOMAIN = {"quadruped": 2}  # every other domain uses camera 0
_GL_HINT = (
    "MuJoCo could not open a headless OpenGL context (MUJOCO_GL={backend!r}). Install the "
    "system libraries for EGL with Mesa's software renderer:\n"
    "    apt-get install -y libegl1 libopengl0 libgl1-mesa-dri   (Debian/Ubuntu)\n"
    "or install libosmesa6 and set MUJOCO_GL=osmesa before starting Python.\n"
    "Original error: {err!r}"
)

# dm_control.suite.BENCHMARKING as (domain, task) pairs, hard-coded so that listing the tasks
# never imports mujoco; tests/test_envs.py checks that it matches the installed suite.
_BENCHMARKING: tuple[tuple[str, str], ...] = (
    ("acrobot", "swingup"),
    ("acrobot", "swingup_sparse"),
    ("ball_in_cup", "catch"),
    ("cartpole", "balance"),
    ("cartpole", "balance_sparse"),
    ("cartpole", "swingup"),
    ("cartpole", "swingup_sparse"),
    ("cheetah", "run"),
    ("finger", "spin"),
    ("finger", "turn_easy"),
    ("finger", "turn_hard"),
    ("fish", "upright"),
    ("fish", "swim"),
    ("hopper", "stand"),
    ("hopper", "hop"),
    ("humanoid", "stand"),
    ("humanoid", "walk"),
    ("humanoid", "run"),
    ("manipulator", "bring_ball"),
    ("pendulum", "swingup"),
    ("point_mass", "easy"),
    ("reacher", "easy"),
    ("reacher", "hard"),
    ("swimmer", "swimmer6"),
    ("swimmer", "swimmer15"),
    ("walker", "stand"),
    ("walker", "walk"),
    ("walker", "run"),
)
# Two tasks of the paper's 20 that the suite does not list as benchmarking tasks.
_PAPER_EXTRA: tuple[tuple[str, str], ...] = (("quadruped", "walk"), ("quadruped", "run"))
TASKS: tuple[str, ...] = tuple(f"{domain}_{task}" for domain, task in _BENCHMARKING)
EXTRA_TASKS: tuple[str, ...] = tuple(f"{domain}_{task}" for domain, task in _PAPER_EXTRA)
_SPLIT = {f"{domain}_{task}": (domain, task) for domain, task in _BENCHMARKING + _PAPER_EXTRA}


# Substrings of GL_RENDERER strings of software rasterisers (Mesa llvmpipe/softpipe/swrast,
# OSMesa), lower case.
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software", "osmesa")


def software_rendering_warning(renderer: str, cuda_available: bool) -> str | None:
    """The warning for a machine with a CUDA GPU whose frames are drawn by a software
    rasteriser (``renderer`` is a GL_RENDERER string), or None when there is nothing to warn."""
    if not cuda_available or not any(name in renderer.lower() for name in SOFTWARE_RENDERERS):
        return None
    return (
        f"this machine has a CUDA GPU, but MuJoCo renders with {renderer!r}, a software "
        "rasteriser about 100x slower than the GPU: EGL did not reach the NVIDIA driver. Check "
        "that libEGL_nvidia is installed (e.g. the driver's EGL vendor file in "
        "/usr/share/glvnd/egl_vendor.d) and that MUJOCO_GL=egl; MUJOCO_EGL_DEVICE_ID picks the GPU."
    )


def setup_rendering() -> str:
    """Choose a headless OpenGL backend for MuJoCo and return its name.

    A ``MUJOCO_GL`` set by the user wins. Otherwise EGL is chosen (Mesa's software renderer on
    a CPU, the NVIDIA driver on a GPU). Easy to overlook: the variable is read once, when
    mujoco / dm_control is first imported, so setting it later changes nothing; we warn then.
    """
    if "MUJOCO_GL" in os.environ:
        return os.environ["MUJOCO_GL"]
    already = [name for name in ("mujoco", "dm_control") if name in sys.modules]
    if already:
        warnings.warn(
            f"{' and '.join(already)} was imported before MUJOCO_GL was set, so it chose its own "
            "OpenGL backend (often GLFW, which needs a display) and rendering may fail. Call "
            "dreamer_lite.envs.setup_rendering() or set MUJOCO_GL=egl before importing it.",
            RuntimeWarning,
            stacklevel=2,
        )
    os.environ["MUJOCO_GL"] = "egl"
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    return "egl"


def _import_suite() -> Any:
    """Import dm_control.suite after choosing the backend; missing GL libraries -> RuntimeError."""
    backend = setup_rendering()
    try:
        from dm_control import suite
    except ModuleNotFoundError:
        raise  # dm_control itself is missing: pip's message is the clearest
    except (ImportError, OSError, AttributeError, RuntimeError) as err:
        # e.g. AttributeError: 'NoneType' object has no attribute 'glGetError' from PyOpenGL.
        raise RuntimeError(_GL_HINT.format(backend=backend, err=err)) from err
    return suite


class UnknownTaskError(ValueError):
    """A task name that the Control Suite does not have; the message suggests close names."""


def split_task(task: str) -> tuple[str, str]:
    """'ball_in_cup_catch' -> ('ball_in_cup', 'catch'); an unknown name raises
    ``UnknownTaskError`` (with the closest known names)."""
    if task not in _SPLIT:
        close = difflib.get_close_matches(task, list(_SPLIT), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownTaskError(f"Unknown task {task!r}.{hint} Valid tasks: {', '.join(_SPLIT)}.")
    return _SPLIT[task]


class DMCEnv:
    """One DeepMind Control Suite task with action repeat, a time limit and pixel observations.

    ``reset() -> obs``; ``step(action) -> (obs, reward, done, info)``. Observation shapes are in
    the module docstring. Build it with :func:`make_env`.
    """

    discrete = False

    def __init__(
        self,
        env: Any,
        *,
        task: str,
        obs_type: str,
        action_repeat: int,
        time_limit: int,
        size: int,
        shadows: bool,
        camera: int,
    ) -> None:
        self._env = env
        self.task = task
        self.obs_type = obs_type
        self.action_repeat = action_repeat
        self.time_limit = time_limit
        self.size = size
        self.shadows = shadows
        self.camera = camera
        spec = env.action_spec()
        self._low = np.broadcast_to(np.asarray(spec.minimum, np.float64), spec.shape)
        self._high = np.broadcast_to(np.asarray(spec.maximum, np.float64), spec.shape)
        self.action_dim: int = int(np.prod(spec.shape))
        if obs_type == "pixels":
            self.obs_shape: tuple[int, ...] = (3, size, size)
            self.obs_dtype = np.dtype(np.uint8)
        else:
            sizes = [int(np.prod(s.shape)) for s in env.observation_spec().values()]
            self.obs_shape = (sum(sizes),)
            self.obs_dtype = np.dtype(np.float32)
        self._agent_steps: int | None = None  # None until reset(); guards step()
        self._done = False
        self._rendered_once = False

    @property
    def max_agent_steps(self) -> int:
        """Agent steps per episode: time_limit // action_repeat (500 in the paper)."""
        return self.time_limit // self.action_repeat

    @property
    def physics(self) -> Any:
        """The dm_control Physics object (for inspection; changing it changes the task)."""
        return self._env.physics

    def reset(self) -> np.ndarray:
        """Start a new episode and return the first observation, shape ``obs_shape``."""
        time_step = self._env.reset()
        if not self.shadows:
            self._env.physics.model.light_castshadow[:] = 0  # ~3x faster software rendering
        self._agent_steps = 0
        self._done = False
        return self._observe(time_step)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        """Apply ``action`` (A,) in [-1, 1] for ``action_repeat`` env steps.

        Returns (obs, reward, done, info): reward is the SUM over the repeated steps, done is
        True at the time limit (or if the task ends itself), info = {"discount", "env_steps"}.
        """
        if self._agent_steps is None or self._done:
            raise RuntimeError("Call reset() before step() (at the start and after done=True).")
        env_action = self._scale_action(action)
        reward = 0.0
        for _ in range(self.action_repeat):
            time_step = self._env.step(env_action)
            reward += float(time_step.reward or 0.0)  # dm_control gives None on the first step
            if time_step.last():
                break
        self._agent_steps += 1
        self._done = time_step.last() or self._agent_steps >= self.max_agent_steps
        # Hitting the time limit is a truncation, not a terminal state: the discount stays 1.
        discount = 1.0 if time_step.discount is None else float(time_step.discount)
        info = {"discount": discount, "env_steps": self._agent_steps * self.action_repeat}
        return self._observe(time_step), reward, self._done, info

    def render(self, size: int | tuple[int, int] | None = None) -> np.ndarray:
        """Render the env's camera as a (H, W, 3) uint8 frame; size defaults to the obs size."""
        size = self.size if size is None else size
        height, width = (size, size) if isinstance(size, int) else size
        try:
            frame = self._env.physics.render(height=height, width=width, camera_id=self.camera)
        except (ImportError, OSError, AttributeError, RuntimeError) as err:
            if self._rendered_once:
                raise
            backend = os.environ.get("MUJOCO_GL")
            raise RuntimeError(_GL_HINT.format(backend=backend, err=err)) from err
        self._rendered_once = True
        return np.asarray(frame, dtype=np.uint8)

    @property
    def gl_renderer(self) -> str:
        """The OpenGL renderer drawing the frames (GL_RENDERER), e.g. ``'llvmpipe (LLVM 15.0.6,
        256 bits)'`` (software) or ``'NVIDIA H100 80GB HBM3/PCIe/SSE2'``; renders once if no
        frame was drawn yet (MuJoCo makes its GL context on the first render)."""
        if getattr(self, "_gl_renderer", None) is None:
            if not self._rendered_once:
                self.render(8)
            from OpenGL import GL

            with self._env.physics.contexts.gl.make_current() as context:
                name = context.call(GL.glGetString, GL.GL_RENDERER)
            self._gl_renderer = name.decode() if isinstance(name, bytes) else str(name)
        return self._gl_renderer

    def close(self) -> None:
        """Free the simulator and its rendering context."""
        self._env.close()

    def _scale_action(self, action: Any) -> np.ndarray:
        """(A,) action in [-1, 1] -> the task's bounds; clips, and rejects bad shapes and NaN."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_dim,):
            raise ValueError(
                f"{self.task}: expected an action of shape ({self.action_dim},), "
                f"got shape {action.shape}."
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"{self.task}: action contains NaN or inf: {action}.")
        action = np.clip(action, -1.0, 1.0)
        return self._low + (action + 1.0) / 2.0 * (self._high - self._low)

    def _observe(self, time_step: Any) -> np.ndarray:
        """Pixels (3, S, S) uint8 from the camera, or the state dict flattened to (O,) float32."""
        if self.obs_type == "pixels":
            return np.ascontiguousarray(self.render().transpose(2, 0, 1))  # (S, S, 3) -> (3, S, S)
        parts = [
            np.asarray(time_step.observation[key]).ravel() for key in sorted(time_step.observation)
        ]
        return np.concatenate(parts).astype(np.float32)

    def __repr__(self) -> str:
        return (
            f"DMCEnv({self.task!r}, obs={self.obs_type} {self.obs_shape}, "
            f"action_dim={self.action_dim}, action_repeat={self.action_repeat}, "
            f"max_agent_steps={self.max_agent_steps})"
        )


def make_env(
    task: str,
    *,
    obs_type: str = "pixels",
    action_repeat: int = 2,
    time_limit: int = 1000,
    size: int = IMAGE_SIZE,
    seed: int = 0,
    shadows: bool = True,
    camera: int | None = None,
) -> DMCEnv:
    """Build a DeepMind Control Suite task, e.g. ``make_env("cartpole_swingup")``.

    Args:
        task: "domain_task", one of :data:`TASKS` or :data:`EXTRA_TASKS` (quadruped).
        obs_type: "pixels" for (3, size, size) uint8 frames, "state" for a (O,) float32 vector.
        action_repeat: env steps per agent step; rewards are summed over them.
        time_limit: episode length in env steps; an episode has time_limit // action_repeat
            agent steps.
        size: height and width of pixel observations.
        seed: seeds the task's randomness; the same seed gives the same first observation.
        shadows: False switches off shadow casting, about 3x faster software rendering.
        camera: camera id; None picks the domain default (2 for quadruped, else 0).

    Returns:
        A :class:`DMCEnv`. See notebooks/01_rssm_elbo.ipynb.
    """
    domain, task_name = split_task(task)
    if obs_type not in OBS_TYPES:
        raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}.")
    for name, value in (("action_repeat", action_repeat), ("size", size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    if not isinstance(time_limit, (int, np.integer)) or time_limit < action_repeat:
        raise ValueError(
            f"time_limit must be an integer >= action_repeat ({action_repeat}), got {time_limit!r}."
        )
    if camera is None:
        camera = _CAMERA_BY_DOMAIN.get(domain, 0)
    suite = _import_suite()
    # We count steps ourselves (time_limit is in env steps), so dm_control's own limit, in
    # seconds and different per domain, is switched off.
    task_kwargs = {"random": seed, "time_limit": float("inf")}
    env = suite.load(domain, task_name, task_kwargs=task_kwargs)
    env = DMCEnv(
        env,
        task=task,
        obs_type=obs_type,
        action_repeat=int(action_repeat),
        time_limit=int(time_limit),
        size=int(size),
        shadows=shadows,
        camera=int(camera),
    )
    import torch  # already imported by the agent; asked here only for the renderer check

    if obs_type == "pixels" and torch.cuda.is_available():
        warning = software_rendering_warning(env.gl_renderer, cuda_available=True)
        if warning:
            warnings.warn(warning, RuntimeWarning, stacklevel=2)
    return env


def make_task_env(cfg: Config, seed: int) -> DMCEnv:
    """The environment a config asks for: ``cfg.task`` with its observation type, action
    repeat, time limit and shadows, seeded with ``seed``. The training loop's default
    ``env_factory`` (notebook 05); frames are ``IMAGE_SIZE`` x ``IMAGE_SIZE``."""
    return make_env(
        cfg.task,
        obs_type=cfg.obs_type,
        action_repeat=cfg.action_repeat,
        time_limit=cfg.time_limit,
        seed=seed,
        shadows=cfg.shadows,
    )
