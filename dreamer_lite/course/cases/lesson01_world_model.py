"""Checker cases of lesson 01 (the whole world model): exercise 01.5 ``world_model_loss``.

The learner assembles the world model's loss from its parts: the encoder's embeddings, the RSSM's
posterior and prior, the decoder's image, the reward head, the KL with its scale and free nats.
The reference is ``WorldModel.loss`` itself (one implementation); the cases compare the learner's
loss and its gradients with it on seeded batches of a small pixel model, in settings chosen so
that each ingredient changes the result (a KL scale of 0.5; free nats above and below the KL).

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch

from dreamer_lite.config import Config
from dreamer_lite.course.checking import (
    NO_GRAD,
    SEED,
    Case,
    CaseFailure,
    ExerciseSpec,
    close,
    result,
)
from dreamer_lite.objectives import gaussian_kl, kl_loss, log_likelihood
from dreamer_lite.world_model import WorldModel, preprocess_obs

T, B, A = 6, 3, 2  # a batch of 3 sequences of 6 steps, 2-d actions
PARTS = ("encoder", "rssm", "decoder", "reward")


def small_model(free_nats: float = 0.0, kl_scale: float = 1.0) -> WorldModel:
    """A pixel world model small enough to check in a fraction of a second."""
    torch.manual_seed(SEED)
    cfg = Config.tiny(free_nats=free_nats, kl_scale=kl_scale)
    return WorldModel.from_config(cfg, (3, 64, 64), A)


def small_batch(seed: int = SEED) -> dict[str, torch.Tensor]:
    """A replay-layout batch: uint8 frames (T, B, 3, 64, 64), actions (T, B, A), rewards (T, B)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randint(0, 256, (T, B, 3, 64, 64), dtype=torch.uint8, generator=gen),
        "action": torch.rand(T, B, A, generator=gen) * 2 - 1,
        "reward": torch.rand(T, B, generator=gen),
    }


def reference_world_model_loss(model: WorldModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The package's loss: ``WorldModel.loss``'s total (reconstruction objective)."""
    return model.loss(batch)[0]


def _seeded_loss(fn, model: WorldModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``fn(model, batch)`` after seeding torch: the posterior samples are then the same."""
    torch.manual_seed(SEED + 1)
    return fn(model, batch)


def _grads(model: WorldModel, loss: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """Gradient of ``loss`` for every parameter of the model, by name (None: not reached)."""
    names, params = zip(*model.named_parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return dict(zip(names, grads))


def world_model_loss_cases() -> list[Case]:
    hint = "minus the image and reward log-likelihoods of the posterior features, plus the KL term"

    def compare(f, model, batch, problem, hint):
        out = result(_seeded_loss(f, model, batch), (), hint="the loss is one number to minimise")
        expected = _seeded_loss(reference_world_model_loss, model, batch)
        close(out, expected, problem, hint, rtol=1e-5, atol=1e-3)
        return out, expected

    def scalar(f):
        result(_seeded_loss(f, small_model(), small_batch()), (), hint="a 0-d tensor")
        return "a scalar tensor"

    def value(f):
        compare(f, small_model(), small_batch(), "the loss differs (free nats 0, KL scale 1)", hint)
        return "equals WorldModel.loss on a seeded batch"

    def kl_scale(f):
        problem = "with kl_scale = 0.5 the loss differs"
        compare(f, small_model(kl_scale=0.5), small_batch(1), problem, "the KL term is weighted")
        return "the KL term weighted by model.kl_scale"

    def free_nats(f):
        # 100 free nats: far above any KL of this model, so the KL term is the constant 100
        problem = "with free_nats = 100 (above the KL) the loss differs"
        hint = "the KL term is floored at free nats, after averaging"
        compare(f, small_model(free_nats=100.0), small_batch(2), problem, hint)
        return "free nats floor the KL term"

    def gradients(f):
        model, batch = small_model(), small_batch(3)
        out, expected = compare(f, model, batch, "the loss differs", hint)
        if not out.requires_grad:
            raise CaseFailure("your loss has no gradient", NO_GRAD)
        mine, theirs = _grads(model, out), _grads(model, expected)
        for part in PARTS:
            names = [n for n in mine if n.startswith(part + ".")]
            if all(mine[n] is None for n in names):
                problem = f"no gradient reaches the {part}"
                raise CaseFailure(problem, "every part of the model is trained by this one loss")
            for name in names:
                a, b = mine[name], theirs[name]
                if a is None or not torch.allclose(a, b, rtol=1e-4, atol=1e-4):
                    raise CaseFailure(f"the gradient of {name} differs", hint)
        return "gradients reach encoder, RSSM, decoder and reward head, as the package's"

    return [
        ("scalar", scalar),
        ("value", value),
        ("kl_scale", kl_scale),
        ("free_nats", free_nats),
        ("gradients", gradients),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def wrong_loss(mistake: str):
    def world_model_loss(model, batch):
        obs = preprocess_obs(batch["obs"])
        embed = model.embed(batch["obs"])
        if mistake == "embedding detached":
            embed = embed.detach()
        post, prior = model.rssm.observe(embed, batch["action"])
        feat = (prior if mistake == "prior features" else post).feat
        target = batch["obs"].float() if mistake == "raw pixels" else obs
        image = log_likelihood(model.decode(feat), target, 3)
        reward = log_likelihood(model.predict_reward(feat), batch["reward"], 0)
        if mistake == "KL swapped":
            kl = kl_loss(prior.mean, prior.std, post.mean, post.std, model.free_nats)
        elif mistake == "no free nats":
            kl = gaussian_kl(post.mean, post.std, prior.mean, prior.std).mean()
        else:
            kl = kl_loss(post.mean, post.std, prior.mean, prior.std, model.free_nats)
        scale = 1.0 if mistake == "no KL scale" else model.kl_scale
        sign = -1.0 if mistake == "KL subtracted" else 1.0
        return sign * scale * kl - image - reward

    return world_model_loss


EXERCISES = [
    ExerciseSpec(
        "world_model_loss",
        "01.5",
        params=("model", "batch"),
        reference=reference_world_model_loss,
        cases=world_model_loss_cases,
        wrong={
            "KL(prior || post) instead of KL(post || prior)": wrong_loss("KL swapped"),
            "the KL without its free-nats floor": wrong_loss("no free nats"),
            "the KL scale ignored": wrong_loss("no KL scale"),
            "the KL subtracted": wrong_loss("KL subtracted"),
            "frames decoded from the prior's features": wrong_loss("prior features"),
            "targets as raw pixels in [0, 255]": wrong_loss("raw pixels"),
            "the embedding detached (the encoder gets no gradient)": wrong_loss(
                "embedding detached"
            ),
        },
    ),
]
