"""The world model: encoder, RSSM, reward head and one of three representation objectives.

Shape legend: ``T`` time, ``B`` batch, ``A`` action, ``E`` embed, ``F`` features, ``C`` channels.
Built in notebook 01 (reconstruction) and compared in notebook 02 (all three objectives).

The loss for every objective is

    kl_scale * max(mean KL(post || prior), free_nats) - mean log p(r_t | s_t) + representation

where the representation term is ``- mean log p(o_t | s_t)`` (``reconstruction``, the ELBO),
``- InfoNCE`` (``contrastive``; by default the authors' TF1 form: each observation's Gaussian
q(s | o_t) scores the states of a window of batch entries and time steps, normalised over those
states; ``contrastive_negatives="batch"`` takes only the other batch entries at the same time step)
or nothing (``reward``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dreamer_lite.config import CONTRASTIVE_NEGATIVES, CONV_PRECISIONS, OBJECTIVES, Config
from dreamer_lite.networks import MLP, ConvDecoder, ConvEncoder, VectorDecoder, VectorEncoder
from dreamer_lite.objectives import (
    contrastive_scores,
    gaussian_kl,
    info_nce_loss,
    kl_loss,
    log_likelihood,
    window_info_nce_loss,
    window_offsets,
)
from dreamer_lite.rssm import RSSM, LatentState


def preprocess_obs(obs: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., C, H, W) in [0, 255] -> float in [-0.5, 0.5]; float vectors pass
    through.

    Images come back with the shape (..., C, H, W) but stored channels-last, (..., H, W, C) in
    memory: the layout the conv nets run fastest in on a CPU (``networks``), so the encoder needs
    no copy and the reconstruction loss compares two tensors of one layout. The values are the
    same either way; use ``.contiguous()`` where code needs ``view``.
    """
    if obs.dtype == torch.uint8:
        if obs.dim() >= 3:  # reorder the 1-byte values, before they become 4-byte floats
            obs = obs.movedim(-3, -1).contiguous().movedim(-1, -3)
        return obs.float() / 255.0 - 0.5
    return obs.float()


class WorldModel(nn.Module):
    """Encoder + RSSM + heads. Use ``WorldModel.from_config(cfg, obs_shape, action_size)``.

    Args:
        obs_shape: (3, 64, 64) for pixels or (X,) for vectors.
        action_size: A.
        objective: ``reconstruction``, ``contrastive`` or ``reward``.
        the rest: layer sizes and loss weights, as in ``Config``.
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_size: int,
        *,
        objective: str = "reconstruction",
        cnn_depth: int = 32,
        deter_size: int = 200,
        stoch_size: int = 30,
        hidden_size: int = 200,
        min_std: float = 0.1,
        units: int = 400,
        reward_layers: int = 2,
        free_nats: float = 3.0,
        kl_scale: float = 1.0,
        conv_precision: str = "fp32",
        contrastive_negatives: str = "window",
        time_window: int = 30,
        batch_window: int = 10,
    ) -> None:
        super().__init__()
        if conv_precision not in CONV_PRECISIONS:
            raise ValueError(f"conv_precision={conv_precision!r}: choose one of {CONV_PRECISIONS}")
        self.conv_bf16 = conv_precision == "bf16"
        self.obs_shape = tuple(obs_shape)
        self.pixels = len(self.obs_shape) == 3
        self.objective = objective
        self.free_nats = free_nats
        self.kl_scale = kl_scale
        if contrastive_negatives not in CONTRASTIVE_NEGATIVES:
            raise ValueError(f"contrastive_negatives: choose one of {CONTRASTIVE_NEGATIVES}")
        self.contrastive_negatives = contrastive_negatives
        self.time_window, self.batch_window = time_window, batch_window
        self.min_std = min_std
        if self.pixels:
            self.encoder: nn.Module = ConvEncoder(cnn_depth, in_channels=self.obs_shape[0])
        else:
            self.encoder = VectorEncoder(self.obs_shape[0], units)
        embed_size = self.encoder.embed_size
        self.rssm = RSSM(action_size, embed_size, deter_size, stoch_size, hidden_size, min_std)
        feat_size = self.rssm.feat_size
        self.decoder: nn.Module | None = None
        if objective == "reconstruction":
            if self.pixels:
                self.decoder = ConvDecoder(feat_size, cnn_depth, out_channels=self.obs_shape[0])
            else:
                self.decoder = VectorDecoder(feat_size, self.obs_shape[0], units)
        self.reward = MLP(feat_size, 1, units=units, layers=reward_layers)
        self.contrast: nn.Module | None = None
        if objective == "contrastive":
            # q(s_t | o_t): a Gaussian over the model features predicted from the embedding,
            # its std bounded below by min_std like the latent's.
            self.contrast = MLP(embed_size, (2, feat_size), units=units, layers=2)
        elif objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")

    @classmethod
    def from_config(cls, cfg: Config, obs_shape: tuple[int, ...], action_size: int) -> WorldModel:
        return cls(
            obs_shape,
            action_size,
            objective=cfg.objective,
            cnn_depth=cfg.cnn_depth,
            deter_size=cfg.deter_size,
            stoch_size=cfg.stoch_size,
            hidden_size=cfg.hidden_size,
            min_std=cfg.min_std,
            units=cfg.units,
            reward_layers=cfg.reward_layers,
            free_nats=cfg.free_nats,
            kl_scale=cfg.kl_scale,
            conv_precision=cfg.conv_precision,
            contrastive_negatives=cfg.contrastive_negatives,
            time_window=cfg.contrastive_time_window,
            batch_window=cfg.contrastive_batch_window,
        )

    def contrastive_candidates(self, length: int, batch: int) -> int:
        """K, the states each observation is scored against for a batch (T, B) = (length,
        batch): the positive and its negatives. The contrastive estimate is at most log K."""
        if self.contrastive_negatives == "window":
            return len(window_offsets(length, batch, self.time_window, self.batch_window))
        return batch

    # --- pieces ------------------------------------------------------------------------------
    def _conv_autocast(self, device: torch.device) -> torch.autocast:
        """bfloat16 autocast around the conv nets when ``conv_precision == "bf16"``; their
        outputs are cast back to float32, so everything after them runs in float32."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.conv_bf16)

    def _encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Preprocessed observations (..., *obs_shape) -> embeddings (..., E), float32."""
        with self._conv_autocast(obs.device):
            return self.encoder(obs).float()

    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations (..., *obs_shape) -> embeddings (..., E)."""
        return self._encode(preprocess_obs(obs))

    def decode(self, feat: torch.Tensor) -> torch.Tensor:
        """Features (..., F) -> mean observation (..., *obs_shape), images in [-0.5, 0.5]."""
        if self.decoder is None:
            raise RuntimeError(f"the {self.objective!r} objective trains no decoder")
        with self._conv_autocast(feat.device):
            return self.decoder(feat).float()

    def predict_reward(self, feat: torch.Tensor) -> torch.Tensor:
        """Features (..., F) -> mean reward (...)."""
        return self.reward(feat).squeeze(-1)

    def observe(self, batch: dict[str, torch.Tensor]) -> tuple[LatentState, LatentState]:
        """Posterior and prior states (T, B, .) of a batch with ``obs`` (T, B, ...) and
        ``action`` (T, B, A)."""
        return self.rssm.observe(self.embed(batch["obs"]), batch["action"])

    # --- loss --------------------------------------------------------------------------------
    def loss(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], LatentState]:
        """World-model loss of a batch ``obs`` (T, B, ...), ``action`` (T, B, A), ``reward`` (T, B).

        Returns (total loss, detached terms for logging, posterior states (T, B, .)).
        """
        obs = preprocess_obs(batch["obs"])
        embed = self._encode(obs)  # (T, B, E)
        post, prior = self.rssm.observe(embed, batch["action"])
        feat = post.feat  # (T, B, F)

        kl_term = kl_loss(post.mean, post.std, prior.mean, prior.std, self.free_nats)
        reward_ll = log_likelihood(self.predict_reward(feat), batch["reward"].float(), 0)
        total = self.kl_scale * kl_term - reward_ll
        terms: dict[str, torch.Tensor] = {}

        if self.objective == "reconstruction":
            mean = self.decode(feat)  # (T, B, *obs_shape)
            image_ll = log_likelihood(mean, obs, len(self.obs_shape))
            total = total - image_ll
            terms["obs_log_prob"] = image_ll
        elif self.objective == "contrastive":
            stats = self.contrast(embed)  # (T, B, 2, F)
            mean, raw_std = stats.unbind(-2)  # (T, B, F) each
            std = nn.functional.softplus(raw_std) + self.min_std
            if self.contrastive_negatives == "window":  # the authors' TF1 code
                nce = window_info_nce_loss(
                    feat, mean, std, time_window=self.time_window, batch_window=self.batch_window
                )
            else:  # the other batch entries at the same time step
                nce = info_nce_loss(contrastive_scores(feat, mean, std))  # scores (T, B, B)
            total = total + nce
            terms["info_nce"] = -nce

        with torch.no_grad():
            terms["kl"] = gaussian_kl(post.mean, post.std, prior.mean, prior.std).mean()
        terms["kl_term"] = kl_term
        terms["reward_log_prob"] = reward_ll
        terms["model_loss"] = total
        return total, {k: v.detach() for k, v in terms.items()}, post

    # --- prediction --------------------------------------------------------------------------
    @torch.no_grad()
    def open_loop(self, batch: dict[str, Any], context: int = 5) -> dict[str, torch.Tensor]:
        """Reconstruct the first ``context`` steps from real frames, then predict the rest from
        the actions alone (the prior). Returns ``truth``, ``model`` (T, B, *obs_shape) with images
        in [0, 1], and the predicted ``reward`` (T, B)."""
        obs, action = batch["obs"], batch["action"]
        post, _ = self.rssm.observe(self.embed(obs[:context]), action[:context])
        last = post.at(-1)
        prior = self.rssm.imagine(action[context:], last)
        feat = torch.cat([post.feat, prior.feat], dim=0)  # (T, B, F)
        out = {"truth": preprocess_obs(obs) + (0.5 if self.pixels else 0.0)}
        out["model"] = self.decode(feat) + (0.5 if self.pixels else 0.0)
        if self.pixels:
            out["model"] = out["model"].clamp(0.0, 1.0)
        out["reward"] = self.predict_reward(feat)
        return out
