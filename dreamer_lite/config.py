"""One frozen, typed configuration for every Dreamer run, with named presets.

Presets (``PRESETS``, by name; ``Config.preset(name)``):
    ``Config.paper()``  the values of the paper and the authors' code (see ``docs/REFERENCE.md``).
    ``Config.cpu()``    smaller and faster, tuned so that a 2-core CPU still sees Dreamer learn.
    ``Config.tiny()``   smoke tests and the notebooks' fast mode: seconds, not minutes.

The lists of allowed names live here once (``OBS_TYPES``, ``OBJECTIVES``, ``CONV_PRECISIONS``,
``PRESETS``; ``VALUE_ESTIMATORS`` comes from ``returns``, whose table the actor's target uses).

Change a value with ``dataclasses.replace(cfg, field=value)`` (or ``cfg.replace(...)``); the
result is validated again. Values that cannot work raise ``ValueError`` naming the field.

The fast-mode switch of the course (``DREAMER_LITE_FAST=1``) is read here, in one place:
``fast_mode()``. Notebook 05 explains which knobs matter on a CPU and why.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from dreamer_lite.returns import VALUE_ESTIMATORS

OBJECTIVES = ("reconstruction", "contrastive", "reward")
CONTRASTIVE_NEGATIVES = ("window", "batch")
WEIGHT_INITS = ("torch", "keras")
EVAL_MODES = ("mean", "densest_sample")
OBS_TYPES = ("pixels", "state")
CONV_PRECISIONS = ("fp32", "bf16")
IMAGE_SIZE = 64
"""Height and width of pixel observations: the conv encoder and decoder are built for 64x64."""
# Fields of earlier versions, ignored when an old run's config.json is read (``from_dict``):
# ``image_size`` could only ever be 64 (``IMAGE_SIZE``); ``extra`` was never used.
RETIRED_FIELDS = ("image_size", "extra")


CPU_ACTION_REPEAT = {
    "cartpole": 8,
    "walker": 2,
    "cheetah": 4,
    "finger": 2,
    "reacher": 4,
    "ball_in_cup": 4,
}
"""The CPU preset's action repeat per domain: PlaNet's choices (Hafner et al. 2019, see
docs/REFERENCE.md). Cart-pole's 8 was measured to learn faster than 4 on a 2-core CPU (docs/RESULTS.md)."""
CPU_DEFAULT_ACTION_REPEAT = 4
"""The CPU preset's action repeat for domains not in ``CPU_ACTION_REPEAT``."""


def cpu_action_repeat(task: str) -> int:
    """The CPU preset's action repeat for a ``domain_task`` name (longest matching domain)."""
    domains = [d for d in CPU_ACTION_REPEAT if task.startswith(d + "_")]
    return CPU_ACTION_REPEAT[max(domains, key=len)] if domains else CPU_DEFAULT_ACTION_REPEAT


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the field and what to use."""


def fast_mode() -> bool:
    """True when the environment variable ``DREAMER_LITE_FAST`` is set to a true value.

    Every notebook reads this one switch to shrink itself to a smoke-sized run.
    """
    return os.environ.get("DREAMER_LITE_FAST", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    """Everything that defines a Dreamer run. Defaults are the paper's (``Config.paper()``)."""

    # --- environment -------------------------------------------------------------------------
    task: str = "cartpole_swingup"
    """DeepMind Control Suite task, ``domain_task``."""
    obs_type: str = "pixels"
    """``pixels`` (3 x ``IMAGE_SIZE`` x ``IMAGE_SIZE`` images) or ``state`` (proprioceptive
    vector); one of ``OBS_TYPES``."""
    action_repeat: int = 2
    """Env steps per agent step; rewards are summed."""
    time_limit: int = 1000
    """Episode length in env steps (1000 env steps = 500 agent steps at action repeat 2)."""
    shadows: bool = True
    """Render shadows; off is ~3x faster with software rendering and barely changes the task."""
    seed: int = 0
    """Seeds the environment, the networks and replay sampling."""
    num_envs: int = 1
    """Environments collecting at once, each in a worker process (``vecenv.ParallelEnvs``; seeds
    ``seed + i``): every round plays one episode in each, the agent acting on them as one batch.
    1 (every preset) plays one episode at a time in the training process. Evaluation uses one."""

    # --- world model -------------------------------------------------------------------------
    objective: str = "reconstruction"
    """Representation objective (``OBJECTIVES``): ``reconstruction`` (ELBO), ``contrastive`` or
    ``reward``."""
    cnn_depth: int = 32
    """Channels of the first conv layer; the encoder uses depth x (1, 2, 4, 8)."""
    deter_size: int = 200
    """Size of the deterministic GRU state h_t."""
    stoch_size: int = 30
    """Size of the diagonal-Gaussian stochastic state z_t."""
    hidden_size: int = 200
    """Width of the RSSM's dense layers."""
    min_std: float = 0.1
    """Lower bound of the latent standard deviation: std = softplus(x) + min_std."""
    units: int = 400
    """Width of the reward, value and actor MLPs (and the vector encoder/decoder)."""
    reward_layers: int = 2
    """Hidden layers of the reward head."""
    value_layers: int = 3
    """Hidden layers of the critic (value model)."""
    actor_layers: int = 4
    """Hidden layers of the actor."""
    free_nats: float = 3.0
    """KL below this many nats is not penalised (applied after averaging)."""
    kl_scale: float = 1.0
    """Weight of the KL term in the world-model loss."""
    contrastive_negatives: str = "window"
    """Candidates of the contrastive objective (``CONTRASTIVE_NEGATIVES``): ``window``, the
    authors' TF1 code (each observation's Gaussian scores the states of a window of batch entries
    and time steps, normalised over those states); ``batch``, the other batch entries at the same
    time step only. Both normalise over states (``objectives``; notebook 02)."""
    contrastive_time_window: int = 30
    """Time shifts of the ``window`` negatives (the TF1 code's ``cpc_time_amount``)."""
    contrastive_batch_window: int = 10
    """Batch shifts of the ``window`` negatives (the TF1 code's ``cpc_batch_amount``)."""
    weight_init: str = "torch"
    """Initial weights (``WEIGHT_INITS``): ``torch``, PyTorch's layer defaults; ``keras``, the
    official code's Keras defaults (Glorot-uniform kernels, zero biases, orthogonal recurrent GRU
    weights; ``networks.keras_init_``). Compared in docs/RESULTS.md."""

    # --- behaviour ---------------------------------------------------------------------------
    horizon: int = 15
    """Imagination horizon H."""
    discount: float = 0.99
    """Discount gamma."""
    lambda_: float = 0.95
    """Lambda of the lambda-return V_lambda."""
    value_estimator: str = "lambda"
    """Actor target, a key of ``VALUE_ESTIMATORS``: ``lambda`` (V_lambda), ``k_step`` (V_N^k) or
    ``reward_sum`` (V_R, no value model)."""
    k_step: int = 5
    """k of V_N^k when ``value_estimator == "k_step"``."""
    actor_init_std: float = 5.0
    """The actor's std (before the tanh) when its raw output is 0: wide, near-random at first."""
    actor_mean_scale: float = 5.0
    """The actor's mean is squashed to ``mean_scale * tanh(mean / mean_scale)``."""
    actor_min_std: float = 1e-4
    """Lower bound of the actor's std, added after the softplus."""
    actor_entropy: float = 0.0
    """Weight of an entropy bonus in the actor loss: ``actor_loss - actor_entropy * mean H``,
    with H of the tanh-Gaussian estimated from one fresh sample per imagined state (DreamerV2's
    ``actor_ent``). 0, the paper's Dreamer, computes nothing extra. It keeps the actor's std from
    collapsing onto a saturated action, where the tanh passes no gradient (docs/RESULTS.md)."""
    expl_noise: float = 0.3
    """Std of the Gaussian noise added to actions while collecting (continuous actions)."""
    expl_epsilon: float = 0.3
    """Epsilon of epsilon-greedy exploration (discrete actions)."""
    eval_mode: str = "mean"
    """The deterministic action of evaluation (``EVAL_MODES``): ``mean``, tanh of the Gaussian's
    mean; ``densest_sample``, the most likely of 100 samples (the official code's
    ``SampleDist.mode``). Every result in docs/RESULTS.md used ``mean``."""

    # --- optimisation ------------------------------------------------------------------------
    batch_size: int = 50
    """Sequences per batch B."""
    seq_len: int = 50
    """Steps per sequence T."""
    model_lr: float = 6e-4
    """Adam learning rate of the world model."""
    actor_lr: float = 8e-5
    """Adam learning rate of the actor."""
    value_lr: float = 8e-5
    """Adam learning rate of the critic."""
    grad_clip: float = 100.0
    """Global-norm gradient clipping, per optimizer."""
    adam_eps: float = 1e-7
    """Adam's epsilon (all three optimizers)."""

    # --- schedule (env steps) ----------------------------------------------------------------
    total_steps: int = 5_000_000
    """Env steps to train for."""
    seed_episodes: int = 5
    """Episodes of uniform random actions collected before training."""
    train_every: int = 1000
    """Env steps between training phases."""
    train_steps: int = 100
    """Gradient updates per training phase (also done once before the first collection)."""
    eval_every: int = 10_000
    """Env steps between evaluations with the actor's mode."""
    eval_episodes: int = 1
    """Episodes averaged per evaluation."""
    checkpoint_every: int = 10_000
    """Env steps between checkpoints (also written at the end and on errors)."""
    replay_capacity: int = 1_000_000
    """Replay size in agent steps (oldest episodes evicted)."""
    device: str = "auto"
    """``auto`` (cuda if available), ``cpu`` or ``cuda``."""
    torch_threads: int = 0
    """CPU threads for torch (0: leave torch's default)."""
    compile: bool = False
    """``torch.compile`` the networks and the RSSM steps (``dreamer_lite.compiling``): the same
    maths in fewer, fused kernels. The first updates take about a minute longer; on a CPU it
    needs a C++ compiler. Measured in docs/RESULTS.md."""
    conv_precision: str = "fp32"
    """``fp32``, or ``bf16``: run the conv encoder and decoder under bfloat16 autocast (pixel
    models only; the RSSM, the heads, the losses and all parameters stay float32). On this
    project's CPU (AVX512-BF16) the paper-sized world-model step takes 4.0 s instead of 5.8 s;
    GPUs need bf16 support (Ampere or newer). Not the same maths: bf16 keeps about 3 significant
    digits. Off in every preset; tried in one 25-minute learning run only (docs/RESULTS.md)."""

    def __post_init__(self) -> None:
        self._validate()

    # --- presets -----------------------------------------------------------------------------
    @classmethod
    def paper(cls, **overrides: Any) -> Config:
        """The paper's settings (Hafner et al. 2020, Appendix A; ``danijar/dreamer`` defaults)."""
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> Config:
        """A preset for a 2-core CPU: smaller networks and batches, a higher replay ratio per
        rendered frame, shadows off. Notebook 05 explains each choice.

        Measured to learn on 2 CPU cores (docs/RESULTS.md): ``cartpole_swingup`` from states and
        ``cartpole_balance`` from pixels, with action repeat 8 and actor and value learning rates
        of 2e-4. The action repeat follows the task's domain (``CPU_ACTION_REPEAT``, PlaNet's
        choices); only cart-pole's 8 was measured here, the other domains' values are PlaNet's
        and untried with this preset. State observations use one torch thread: these networks
        are too small for a second one to pay. Pixel observations train every 1000 env steps
        (half the replay ratio) with an actor entropy bonus of 0.01, which shortened the
        saturated-actor start of pixel runs. Pass any field to override."""
        task = overrides.get("task", cls.task)
        obs_type = overrides.get("obs_type", cls.obs_type)
        values: dict[str, Any] = {
            "action_repeat": cpu_action_repeat(task),
            "shadows": False,
            "cnn_depth": 16,
            "deter_size": 100,
            "stoch_size": 16,
            "hidden_size": 100,
            "units": 100,
            "batch_size": 16,
            "seq_len": 32,
            "horizon": 12,
            "total_steps": 100_000,
            "seed_episodes": 5,
            "train_every": 500,
            "train_steps": 50,
            "eval_every": 5000,
            "eval_episodes": 5,
            "checkpoint_every": 5000,
            "model_lr": 1e-3,
            # 1e-4 learned too slowly on cart-pole (states and pixels); 4e-4 got stuck at a
            # constant policy (docs/RESULTS.md, History).
            "actor_lr": 2e-4,
            "value_lr": 2e-4,
            # With these small networks the KL stays below the paper's 3 free nats in every
            # update (measured: 0.8-2.7 nats, pixels and state), so the KL term is a constant and
            # the prior, the only part of the model that imagination uses, never learns.
            "free_nats": 1.0,
            "torch_threads": 1 if obs_type == "state" else 0,
        }
        if obs_type == "pixels":
            # From pixels the tanh actor saturates early (pre-tanh means at the -5 bound, ~no
            # gradient through tanh) and most runs sat at "push to one end". An entropy bonus
            # keeps its gradients alive, and half the replay ratio renders twice the frames per
            # update: cartpole_balance in 60 min went from 274 [242, 307] to 380 [372, 390]
            # (three seeds each, docs/RESULTS.md). State runs keep the measured settings above.
            values.update(train_every=1000, actor_entropy=0.01)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def tiny(cls, **overrides: Any) -> Config:
        """Smoke-test sizes: everything runs in seconds on one CPU core."""
        values: dict[str, Any] = {
            "action_repeat": 4,
            "time_limit": 200,
            "shadows": False,
            "cnn_depth": 4,
            "deter_size": 16,
            "stoch_size": 4,
            "hidden_size": 16,
            "units": 16,
            "batch_size": 4,
            "seq_len": 8,
            "horizon": 4,
            "total_steps": 800,
            "seed_episodes": 1,
            "train_every": 200,
            "train_steps": 2,
            "eval_every": 400,
            "checkpoint_every": 200,
            "free_nats": 1.0,
            "model_lr": 1e-3,
            "actor_lr": 1e-4,
            "value_lr": 1e-4,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_overrides(cls, items: list[str], preset: str = "paper", **values: Any) -> Config:
        """A preset with ``FIELD=VALUE`` texts applied on top of ``values``, as ``--set`` does:
        ``Config.from_overrides(["horizon=10"], "cpu", task="walker_walk")``."""
        return cls.preset(preset, **{**values, **parse_overrides(items)})

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Config:
        """A preset by name, one of ``PRESETS``: ``paper``, ``cpu`` or ``tiny``."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {list(PRESETS)}")
        return PRESETS[name](**overrides)

    # --- derived values ----------------------------------------------------------------------
    @property
    def feat_size(self) -> int:
        """Size of the model features concat(stoch, deter)."""
        return self.stoch_size + self.deter_size

    @property
    def episode_length(self) -> int:
        """Agent steps per episode."""
        return self.time_limit // self.action_repeat

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """``{field: value}`` for every field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> str:
        """The fields as indented JSON with sorted keys (a run's ``config.json``)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """The config of ``to_dict``'s output; unknown fields are a ValueError naming them
        (``RETIRED_FIELDS`` of older versions are dropped)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k not in RETIRED_FIELDS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config fields {unknown}; known fields: {sorted(known)}")
        return cls(**values)

    def diff(self, other: Config) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: ``{name: (self's, other's)}``."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if f.compare and getattr(self, f.name) != getattr(other, f.name)
        }

    # --- validation --------------------------------------------------------------------------
    def _validate(self) -> None:
        def fail(name: str, why: str) -> None:
            raise ConfigError(f"Config.{name}={getattr(self, name)!r} is invalid: {why}")

        positive_ints = [
            "action_repeat",
            "time_limit",
            "cnn_depth",
            "deter_size",
            "stoch_size",
            "hidden_size",
            "units",
            "reward_layers",
            "value_layers",
            "actor_layers",
            "horizon",
            "k_step",
            "batch_size",
            "seq_len",
            "total_steps",
            "train_every",
            "eval_every",
            "eval_episodes",
            "checkpoint_every",
            "replay_capacity",
            "contrastive_time_window",
            "contrastive_batch_window",
            "num_envs",
        ]
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(name, "must be a positive integer")
        for name in ("seed_episodes", "train_steps", "torch_threads", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                fail(name, "must be an integer >= 0")
        positive_floats = [
            "min_std",
            "model_lr",
            "actor_lr",
            "value_lr",
            "grad_clip",
            "adam_eps",
            "actor_init_std",
            "actor_mean_scale",
            "actor_min_std",
        ]
        numbers = [*positive_floats, "free_nats", "kl_scale", "expl_noise", "actor_entropy"]
        numbers += ["discount", "lambda_"]
        for name in [*numbers, "expl_epsilon"]:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                fail(name, "must be a number")
        for name in positive_floats:
            if not float(getattr(self, name)) > 0:
                fail(name, "must be > 0")
        for name in ("free_nats", "kl_scale", "expl_noise", "actor_entropy"):
            if not float(getattr(self, name)) >= 0:
                fail(name, "must be >= 0")
        for name in ("discount", "lambda_", "expl_epsilon"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                fail(name, "must lie in [0, 1]")
        for name in ("shadows", "compile"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "must be true or false")
        if self.objective not in OBJECTIVES:
            fail("objective", f"choose one of {OBJECTIVES}")
        if self.value_estimator not in VALUE_ESTIMATORS:
            fail("value_estimator", f"choose one of {tuple(VALUE_ESTIMATORS)}")
        if self.obs_type not in OBS_TYPES:
            fail("obs_type", f"choose one of {OBS_TYPES}")
        if self.contrastive_negatives not in CONTRASTIVE_NEGATIVES:
            fail("contrastive_negatives", f"choose one of {CONTRASTIVE_NEGATIVES}")
        if self.weight_init not in WEIGHT_INITS:
            fail("weight_init", f"choose one of {WEIGHT_INITS}")
        if self.eval_mode not in EVAL_MODES:
            fail("eval_mode", f"choose one of {EVAL_MODES}")
        if self.conv_precision not in CONV_PRECISIONS:
            fail("conv_precision", f"choose one of {CONV_PRECISIONS}")
        if self.conv_precision != "fp32" and self.obs_type != "pixels":
            fail(
                "conv_precision",
                "only pixel models have conv nets; use 'fp32' with state observations",
            )
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            fail("device", "use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if self.time_limit < self.action_repeat * 2:
            fail("time_limit", "an episode needs at least two agent steps")
        if "_" not in self.task:
            fail("task", "name a task as 'domain_task', e.g. 'cartpole_swingup'")


PRESETS: dict[str, Callable[..., Config]] = {
    "paper": Config.paper,
    "cpu": Config.cpu,
    "tiny": Config.tiny,
}
"""The named presets, ``name -> constructor(**overrides)``: ``Config.preset``, and the
``--preset`` choices of ``python -m dreamer_lite.train`` and ``python -m dreamer_lite.bench``."""


def parse_value(name: str, text: str) -> Any:
    """The text of a ``--set name=text`` as the type of ``Config.name``; a ``ConfigError`` names
    the field when the text is not of that type (``horizon=2.7`` is an error, never 2)."""
    defaults = Config().to_dict()
    if name not in defaults:
        raise ConfigError(f"unknown Config field {name!r}; known fields: {sorted(defaults)}")
    kind, stripped = type(defaults[name]), text.strip()
    if kind is bool:
        if stripped.lower() in ("true", "1", "yes", "on"):
            return True
        if stripped.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"Config.{name} must be true or false, got {text!r}")
    if kind is int:
        try:
            number = float(stripped)
        except ValueError:
            raise ConfigError(f"Config.{name} must be an integer, got {text!r}") from None
        if not number.is_integer():
            raise ConfigError(f"Config.{name} must be an integer, got {text!r}")
        return int(number)  # "1e5" -> 100000
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise ConfigError(f"Config.{name} must be a number, got {text!r}") from None
    return stripped


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["horizon=10", "shadows=false"]`` -> ``{"horizon": 10, "shadows": False}``, each value
    typed by ``parse_value``; a malformed item is a ``ConfigError`` naming it."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set {item!r}: expected FIELD=VALUE, e.g. horizon=10")
        out[name.strip()] = parse_value(name.strip(), text)
    return out
