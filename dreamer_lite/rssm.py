"""The recurrent state-space model (RSSM): Dreamer's latent dynamics. Built in notebook 01.

Shape legend: ``T`` time, ``B`` batch, ``...`` any leading dims, ``A`` action, ``E`` embed,
``D`` deterministic state (GRU), ``S`` stochastic state, ``F = S + D`` features.

The latent state at step t has a deterministic part h_t (a GRU state) and a stochastic part
z_t ~ Normal(mean, std). Two ways to get z_t:

* the **prior** p(z_t | h_t), which has not seen the frame: ``imagine_step``;
* the **posterior** q(z_t | h_t, e_t), which has: ``observe_step`` (e_t = encoder(o_t)).

Timing, in the notation of ``dreamer_lite.replay`` (array index t, maths symbol after ``=``):
``action[t] = a_{t-1}`` is the action that led *into* ``obs[t] = o_t``, so the step at t consumes
the previous state, ``action[t]`` and ``obs[t]``::

    index t:      0            1            2
    obs[t]:      o_0          o_1          o_2
    action[t]:    0           a_0          a_1         action[t] = a_{t-1}, which produced o_t
                  |            |            |
    state:       s_0 -------> s_1 -------> s_2         s_t = observe_step(s_{t-1}, action[t], embed[t])
                                                       h_1 = GRU(h_0, [z_0, a_0]), ...

The first step of a sequence starts from ``initial`` (zeros) with a zero action.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import Independent, Normal


def diagonal_normal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    """A diagonal Gaussian (..., S) with the last dim as one event, without argument checks.

    ``validate_args=False``: by default every distribution checks its arguments (``std > 0``)
    and every ``log_prob`` its input with ``if not check.all()``, a host-device sync each time,
    about 19 per update on a GPU. Our stds are softplus + min_std > 0 by construction. Switched
    off here, per distribution, rather than with the process-wide
    ``Distribution.set_default_validate_args(False)``, which would also silence a user's own
    distributions.
    """
    return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)


class LatentState(NamedTuple):
    """The RSSM state. Each field has shape (..., size)."""

    deter: torch.Tensor  # (..., D) deterministic GRU state h_t
    stoch: torch.Tensor  # (..., S) sample z_t
    mean: torch.Tensor  # (..., S) mean of the distribution z_t was drawn from
    std: torch.Tensor  # (..., S) its standard deviation

    @property
    def feat(self) -> torch.Tensor:
        """Model features concat(stoch, deter): (..., S + D)."""
        return torch.cat([self.stoch, self.deter], dim=-1)  # (..., F)

    def dist(self) -> Independent:
        """The diagonal Gaussian over z_t, with the S dims as one event."""
        return diagonal_normal(self.mean, self.std)

    def detach(self) -> LatentState:
        return LatentState(*(x.detach() for x in self))

    def flatten(self) -> LatentState:
        """Merge all leading dims: (..., size) -> (N, size)."""
        return LatentState(*(x.reshape(-1, x.shape[-1]) for x in self))

    def at(self, index) -> LatentState:
        """Index every field alike, e.g. ``state.at(t)`` for time step t of a (T, B, .) state."""
        return LatentState(*(x[index] for x in self))

    @staticmethod
    def stack(states: list[LatentState], dim: int = 0) -> LatentState:
        """Stack a list of states along a new dim, e.g. T states (B, .) -> (T, B, .)."""
        return LatentState(*(torch.stack(xs, dim) for xs in zip(*states)))


class RSSM(nn.Module):
    """Recurrent state-space model (Hafner et al. 2019, PlaNet; used by Dreamer).

    Args:
        action_size: A.
        embed_size: E, the encoder's output size.
        deter_size: D, GRU size (paper: 200).
        stoch_size: S, stochastic size (paper: 30).
        hidden_size: width of the dense layers (paper: 200).
        min_std: std = softplus(x) + min_std (paper: 0.1).
    """

    def __init__(
        self,
        action_size: int,
        embed_size: int,
        deter_size: int = 200,
        stoch_size: int = 30,
        hidden_size: int = 200,
        min_std: float = 0.1,
    ) -> None:
        super().__init__()
        self.action_size = action_size
        self.deter_size = deter_size
        self.stoch_size = stoch_size
        self.min_std = min_std
        # Prior path: [z_{t-1}, a_{t-1}] -> dense -> GRU -> h_t -> dense -> (mean, std) of z_t.
        self.img_in = nn.Sequential(nn.Linear(stoch_size + action_size, hidden_size), nn.ELU())
        self.gru = nn.GRUCell(hidden_size, deter_size)
        self.img_out = nn.Sequential(
            nn.Linear(deter_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, 2 * stoch_size)
        )
        # Posterior path: [h_t, e_t] -> dense -> (mean, std) of z_t.
        self.obs_out = nn.Sequential(
            nn.Linear(deter_size + embed_size, hidden_size),
            nn.ELU(),
            nn.Linear(hidden_size, 2 * stoch_size),
        )

    @property
    def feat_size(self) -> int:
        return self.stoch_size + self.deter_size

    def initial(self, batch_size: int, device: torch.device | str | None = None) -> LatentState:
        """All-zero state (B, .) to start a sequence from."""
        device = device if device is not None else self.gru.weight_hh.device
        deter = torch.zeros(batch_size, self.deter_size, device=device)
        stoch = torch.zeros(batch_size, self.stoch_size, device=device)
        return LatentState(deter, stoch, stoch.clone(), torch.ones_like(stoch))

    def _gaussian(self, stats: torch.Tensor, deter: torch.Tensor) -> LatentState:
        mean, raw_std = stats.chunk(2, dim=-1)  # (..., S) each
        std = nn.functional.softplus(raw_std) + self.min_std
        # Reparameterised sample: gradients reach mean and std through eps.
        stoch = mean + std * torch.randn_like(std)
        return LatentState(deter, stoch, mean, std)

    def imagine_step(self, prev_state: LatentState, prev_action: torch.Tensor) -> LatentState:
        """One prior step p(s_t | s_{t-1}, a_{t-1}), without an observation.

        prev_state: (B, .), prev_action: (B, A) -> prior state (B, .).
        """
        x = self.img_in(torch.cat([prev_state.stoch, prev_action], dim=-1))  # (B, hidden)
        deter = self.gru(x, prev_state.deter)  # (B, D)
        return self._gaussian(self.img_out(deter), deter)

    def observe_step(
        self, prev_state: LatentState, prev_action: torch.Tensor, embed: torch.Tensor
    ) -> tuple[LatentState, LatentState]:
        """One filtering step: the prior, then the posterior q(s_t | s_{t-1}, a_{t-1}, o_t).

        prev_state: (B, .), prev_action: (B, A), embed: (B, E) -> (posterior, prior), (B, .) each.
        The posterior shares the prior's deterministic state h_t.
        """
        prior = self.imagine_step(prev_state, prev_action)
        stats = self.obs_out(torch.cat([prior.deter, embed], dim=-1))  # (B, 2S)
        return self._gaussian(stats, prior.deter), prior

    def observe(
        self, embed: torch.Tensor, action: torch.Tensor, state: LatentState | None = None
    ) -> tuple[LatentState, LatentState]:
        """Filter a sequence: embed (T, B, E), action (T, B, A) with ``action[t]`` the action
        into ``obs[t]``. Returns (posterior, prior), each with fields (T, B, .)."""
        if state is None:
            state = self.initial(embed.shape[1], embed.device)
        posts, priors = [], []
        for t in range(embed.shape[0]):
            state, prior = self.observe_step(state, action[t], embed[t])
            posts.append(state)
            priors.append(prior)
        return LatentState.stack(posts), LatentState.stack(priors)

    def imagine(self, action: torch.Tensor, state: LatentState) -> LatentState:
        """Open-loop prediction: from ``state`` (B, .) apply actions (T, B, A) with the prior
        only. Returns the prior states (T, B, .); entry t is the state after ``action[t]``."""
        priors = []
        for t in range(action.shape[0]):
            state = self.imagine_step(state, action[t])
            priors.append(state)
        return LatentState.stack(priors)
