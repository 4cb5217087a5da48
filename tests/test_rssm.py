"""Tests of dreamer_lite.rssm: state shapes, observe/imagine against step loops, the posterior."""

import torch

from dreamer_lite.rssm import RSSM, LatentState

T, B, A, E, D, S, HIDDEN = 5, 3, 2, 12, 16, 4, 16


def make_rssm(min_std: float = 0.1) -> RSSM:
    torch.manual_seed(0)
    return RSSM(A, E, deter_size=D, stoch_size=S, hidden_size=HIDDEN, min_std=min_std)


def random_state(batch: int = B) -> LatentState:
    return LatentState(
        torch.randn(batch, D),
        torch.randn(batch, S),
        torch.randn(batch, S),
        torch.rand(batch, S) + 0.1,
    )


def assert_states_close(a: LatentState, b: LatentState) -> None:
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


def test_initial_state_is_zero():
    """initial(B) is zeros of the right sizes with unit std."""
    state = make_rssm().initial(B)
    assert state.deter.shape == (B, D) and state.stoch.shape == (B, S)
    assert state.mean.shape == (B, S) and state.std.shape == (B, S)
    assert (state.deter == 0).all() and (state.stoch == 0).all() and (state.std == 1).all()


def test_step_shapes():
    """imagine_step and observe_step map (B, .) to (B, .) states with features of size S + D."""
    rssm = make_rssm()
    prior = rssm.imagine_step(rssm.initial(B), torch.randn(B, A))
    post, prior2 = rssm.observe_step(rssm.initial(B), torch.randn(B, A), torch.randn(B, E))
    for state in (prior, post, prior2):
        assert state.deter.shape == (B, D)
        assert state.stoch.shape == state.mean.shape == state.std.shape == (B, S)
        assert state.feat.shape == (B, S + D)
    assert rssm.feat_size == S + D


def test_std_respects_min_std():
    """std = softplus(x) + min_std is always above min_std."""
    rssm = make_rssm(min_std=0.3)
    post, prior = rssm.observe_step(random_state(), torch.randn(B, A), 10 * torch.randn(B, E))
    assert (post.std > 0.3).all() and (prior.std > 0.3).all()


def test_posterior_shares_prior_deter():
    """The posterior of a step reuses the prior's deterministic state h_t."""
    rssm = make_rssm()
    post, prior = rssm.observe_step(random_state(), torch.randn(B, A), torch.randn(B, E))
    torch.testing.assert_close(post.deter, prior.deter)


def test_posterior_depends_on_embedding_prior_does_not():
    """Changing the embedding changes the posterior's mean but not the prior."""
    rssm = make_rssm()
    state, action = random_state(), torch.randn(B, A)
    post1, prior1 = rssm.observe_step(state, action, torch.randn(B, E))
    post2, prior2 = rssm.observe_step(state, action, torch.randn(B, E))
    torch.testing.assert_close(prior1.mean, prior2.mean)
    assert not torch.allclose(post1.mean, post2.mean)


def test_observe_shapes():
    """observe gives (T, B, .) posterior and prior states."""
    rssm = make_rssm()
    post, prior = rssm.observe(torch.randn(T, B, E), torch.randn(T, B, A))
    for state in (post, prior):
        assert state.deter.shape == (T, B, D) and state.stoch.shape == (T, B, S)
        assert state.feat.shape == (T, B, S + D)


def test_observe_equals_loop_of_observe_step():
    """observe() equals a Python loop of observe_step from initial() with the same randomness."""
    rssm = make_rssm()
    embed, action = torch.randn(T, B, E), torch.randn(T, B, A)

    torch.manual_seed(123)
    post, prior = rssm.observe(embed, action)

    torch.manual_seed(123)
    state, posts, priors = rssm.initial(B), [], []
    for t in range(T):
        state, p = rssm.observe_step(state, action[t], embed[t])
        posts.append(state)
        priors.append(p)
    assert_states_close(post, LatentState.stack(posts))
    assert_states_close(prior, LatentState.stack(priors))


def test_observe_from_given_state():
    """observe() starting from a given state equals the loop starting from that state."""
    rssm = make_rssm()
    embed, action, start = torch.randn(T, B, E), torch.randn(T, B, A), random_state()

    torch.manual_seed(5)
    post, _ = rssm.observe(embed, action, start)
    torch.manual_seed(5)
    state = start
    for t in range(T):
        state, _ = rssm.observe_step(state, action[t], embed[t])
    assert_states_close(post.at(-1), state)


def test_imagine_equals_loop_of_imagine_step():
    """imagine() equals a Python loop of imagine_step with the same randomness."""
    rssm = make_rssm()
    action, start = torch.randn(T, B, A), random_state()

    torch.manual_seed(7)
    prior = rssm.imagine(action, start)

    torch.manual_seed(7)
    state, states = start, []
    for t in range(T):
        state = rssm.imagine_step(state, action[t])
        states.append(state)
    assert prior.deter.shape == (T, B, D)
    assert_states_close(prior, LatentState.stack(states))


def test_sample_is_reparameterised():
    """The stochastic sample carries gradient back to the network parameters."""
    rssm = make_rssm()
    post, _ = rssm.observe_step(random_state(), torch.randn(B, A), torch.randn(B, E))
    grads = torch.autograd.grad(post.stoch.sum(), list(rssm.obs_out.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


def test_first_step_uses_action_zero_of_the_sequence():
    """The first observe step consumes action[0] (the action into obs[0]), not action[1]."""
    rssm = make_rssm()
    embed, action = torch.randn(T, B, E), torch.randn(T, B, A)
    post_a, _ = rssm.observe(embed, action)
    changed = action.clone()
    changed[1:] = 0.0
    post_b, _ = rssm.observe(embed, changed)
    torch.testing.assert_close(post_a.deter[0], post_b.deter[0])
    assert not torch.allclose(post_a.deter[1], post_b.deter[1])


def test_latent_state_helpers():
    """flatten, at, stack, detach and dist behave as documented."""
    state = LatentState(*(torch.randn(T, B, n, requires_grad=True) for n in (D, S, S, S)))
    assert state.flatten().deter.shape == (T * B, D)
    torch.testing.assert_close(state.at(2).stoch, state.stoch[2])
    stacked = LatentState.stack([state.at(t) for t in range(T)])
    assert_states_close(stacked, state)
    assert not any(x.requires_grad for x in state.detach())
    positive = LatentState(state.deter, state.stoch, state.mean, state.std.abs() + 0.1)
    assert positive.dist().event_shape == (S,)
    assert positive.dist().batch_shape == (T, B)
