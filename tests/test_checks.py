"""Tests of dreamer_lite.checks: a checker is trusted only if it rejects wrong code.

For every exercise: the package's reference passes, the stub reports "not implemented", and
plausible wrong versions fail. Broken learner code (exceptions, numpy, NaN, wrong shapes, in-place
edits) must give readable lines, never a crash, in report mode; the modes raise as documented.
"""

import pytest
import torch
from torch.distributions import Independent, Normal
from torch.nn import functional as F

from dreamer_lite import behavior, mbrl, objectives, returns, schedule
from dreamer_lite.check_cases import EXERCISES
from dreamer_lite.checks import CHECKERS, check_lambda_return, check_mode
from dreamer_lite.rssm import LatentState

REFERENCES = {
    "rollout_model": mbrl.rollout_model,
    "imagine_step": lambda rssm, prev_state, prev_action: rssm.imagine_step(
        prev_state, prev_action
    ),
    "observe_step": lambda rssm, prev, action, embed: rssm.observe_step(prev, action, embed),
    "kl_loss": objectives.kl_loss,
    "log_likelihood": objectives.log_likelihood,
    "contrastive_scores": objectives.contrastive_scores,
    "info_nce_loss": objectives.info_nce_loss,
    "imagine": behavior.imagine,
    "actor_loss": behavior.actor_loss,
    "straight_through_sample": behavior.straight_through_sample,
    "k_step_return": returns.k_step_return,
    "lambda_return": returns.lambda_return,
    "updates_due": schedule.updates_due,
}


def stub(*args):
    raise NotImplementedError("Exercise 04.2: fill in lambda_return")


# --- plausible wrong versions, one family per exercise ------------------------------------------


def rollout(feed_back=True, keep_start=True, same_action=False):
    def rollout_model(model, state, actions):
        start, states = state, [state] if keep_start else []
        for action in actions:
            action = actions[0] if same_action else action
            state = model(state if feed_back else start, action)
            states.append(state)
        return torch.stack(states)

    return rollout_model


def gaussian(stats, rssm, min_std=True, reparam=True):
    mean, raw_std = stats.chunk(2, dim=-1)
    std = F.softplus(raw_std) + (rssm.min_std if min_std else 0.0)
    stoch = Normal(mean, std).rsample() if reparam else Normal(mean, std).sample()
    return mean, std, stoch


def img_step(elu=True, min_std=True, reparam=True, action_first=False):
    def imagine_step(rssm, prev_state, prev_action):
        pair = [prev_action, prev_state.stoch] if action_first else [prev_state.stoch, prev_action]
        layer = rssm.img_in if elu else rssm.img_in[0]
        deter = rssm.gru(layer(torch.cat(pair, -1)), prev_state.deter)
        mean, std, stoch = gaussian(rssm.img_out(deter), rssm, min_std, reparam)
        return LatentState(deter, stoch, mean, std)

    return imagine_step


def obs_step(use_embed=True, swap=False, deter_from_prev=False):
    def observe_step(rssm, prev_state, prev_action, embed):
        prior = rssm.imagine_step(prev_state, prev_action)
        deter = prev_state.deter if deter_from_prev else prior.deter
        embed = embed if use_embed else torch.zeros_like(embed)
        mean, std, stoch = gaussian(rssm.obs_out(torch.cat([deter, embed], -1)), rssm)
        post = LatentState(deter, stoch, mean, std)
        return (prior, post) if swap else (post, prior)

    return observe_step


def kl(per_element=False, reverse=False, floor=True, mean=True):
    def kl_loss(post_mean, post_std, prior_mean, prior_std, free_nats):
        post, prior = (post_mean, post_std), (prior_mean, prior_std)
        value = objectives.gaussian_kl(*(prior + post if reverse else post + prior))
        if per_element:
            return torch.clamp(value, min=free_nats).mean()
        value = value.mean() if mean else value.sum()
        return torch.clamp(value, min=free_nats) if floor else value

    return kl_loss


def log_lik(mode):
    def log_likelihood(mean, target, event_dims):
        if mode == "sum all":
            return Normal(mean, 1.0).log_prob(target).sum()
        if mode == "last dim":
            return Normal(mean, 1.0).log_prob(target).sum(-1).mean()
        dims = tuple(range(mean.dim() - event_dims, mean.dim()))
        return (-0.5 * (target - mean) ** 2).sum(dims).mean()  # no normalising constant

    return log_likelihood


def scores_fn(mode):
    def contrastive_scores(feat, mean, std):
        if mode == "transposed":
            return objectives.contrastive_scores(feat, mean, std).transpose(-1, -2)
        if mode == "no sum":
            return Normal(mean.unsqueeze(-3), std.unsqueeze(-3)).log_prob(feat.unsqueeze(-2))
        dist = Independent(Normal(mean.unsqueeze(-3), std.unsqueeze(-3) ** 2), 1)
        return dist.log_prob(feat.unsqueeze(-2))  # variance used as the scale

    return contrastive_scores


def nce(mode):
    def info_nce_loss(scores):
        positive = torch.diagonal(scores, dim1=-2, dim2=-1)
        if mode == "wrong axis":
            normaliser = torch.logsumexp(scores, dim=-2)
        elif mode == "no normaliser":
            normaliser = 0.0
        elif mode == "naive":
            normaliser = torch.log(torch.exp(scores).sum(-1))
        else:
            normaliser = torch.logsumexp(scores, dim=-1)
        bound = (positive - normaliser).mean()
        return bound if mode == "not negated" else -bound

    return info_nce_loss


def imag(detach_actions=False, detach_start=True, detach_feat=True, keep_start=True):
    def imagine(rssm, actor, start, horizon):
        state = start.flatten()
        state = state.detach() if detach_start else state
        states, actions = [state] if keep_start else [], []
        for _ in range(horizon):
            feat = state.feat.detach() if detach_feat else state.feat
            action = actor(feat).rsample()
            action = action.detach() if detach_actions else action
            state = rssm.imagine_step(state, action)
            states.append(state)
            actions.append(action)
        return LatentState.stack(states), torch.stack(actions)

    return imagine


def straight_through(mode):
    def straight_through_sample(logits):
        probs = torch.softmax(logits, -1)
        if mode == "probs":
            return probs
        flat = probs.reshape(-1, probs.shape[-1])
        if mode == "argmax":
            index = probs.argmax(-1)
        else:
            index = torch.multinomial(flat, 1).reshape(probs.shape[:-1])
        sample = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
        return sample if mode == "detached" else sample + probs - probs.detach()

    return straight_through_sample


def k_step(mode):
    def k_step_return(reward, value, discount, k):
        horizon, out = reward.shape[0], []
        for t in range(horizon):
            end = t + k if mode == "no truncation" else min(t + k, horizon)
            end = end - 1 if mode == "off by one" and end > t + 1 else end
            ret = value[end]
            for n in range(end - 1, t - 1, -1):
                ret = reward[n] + (1.0 if mode == "undiscounted" else discount[n]) * ret
            out.append(ret)
        return torch.stack(out)

    return k_step_return


def lam(mode):
    def lambda_return(reward, value, discount, lambda_):
        next_return = torch.zeros_like(value[-1]) if mode == "from zero" else value[-1]
        weight = 1 - lambda_ if mode == "swapped" else lambda_
        out = []
        for t in reversed(range(reward.shape[0])):
            mix = (1 - weight) * value[t + 1] + weight * next_return
            next_return = reward[t] + discount[t] * mix
            out.append(next_return)
        return torch.stack(out if mode == "reversed" else out[::-1])

    return lambda_return


def schedule_fn(mode):
    def updates_due(env_steps, next_train, train_every, train_steps):
        due = env_steps > next_train if mode == ">" else env_steps >= next_train
        if not due:
            return 0, next_train
        if mode == "never resets":
            return train_steps, next_train
        if mode == "from next_train":
            return train_steps, next_train + train_every
        return train_steps, env_steps + train_every

    return updates_due


WRONG = {
    "rollout_model": {
        "not fed back": rollout(feed_back=False),
        "start missing": rollout(keep_start=False),
        "first action repeated": rollout(same_action=True),
    },
    "imagine_step": {
        "missing ELU": img_step(elu=False),
        "std without min_std": img_step(min_std=False),
        "sample() not rsample()": img_step(reparam=False),
        "[action, stoch]": img_step(action_first=True),
    },
    "observe_step": {
        "posterior ignores the embedding": obs_step(use_embed=False),
        "(prior, post) swapped": obs_step(swap=True),
        "posterior from the old deter": obs_step(deter_from_prev=True),
    },
    "kl_loss": {
        "free nats per element": kl(per_element=True),
        "KL(prior || post)": kl(reverse=True),
        "no free nats": kl(floor=False),
        "summed, not averaged": kl(mean=False),
    },
    "log_likelihood": {
        "summed over everything": log_lik("sum all"),
        "wrong event dims": log_lik("last dim"),
        "no normalising constant": log_lik("no constant"),
    },
    "contrastive_scores": {
        "transposed": scores_fn("transposed"),
        "not summed over F": scores_fn("no sum"),
        "variance as scale": scores_fn("variance"),
    },
    "info_nce_loss": {
        "logsumexp over the wrong axis": nce("wrong axis"),
        "missing normaliser": nce("no normaliser"),
        "naive log-sum-exp overflows": nce("naive"),
        "not negated": nce("not negated"),
    },
    "imagine": {
        "actions detached": imag(detach_actions=True),
        "start not detached": imag(detach_start=False),
        "actor sees attached features": imag(detach_feat=False),
        "start missing": imag(keep_start=False),
    },
    "actor_loss": {
        "wrong sign": lambda r, w: (w * r).mean(),
        "no weights": lambda r, w: -r.mean(),
        "sum, not mean": lambda r, w: -(w * r).sum(),
    },
    "straight_through_sample": {
        "returns probs": straight_through("probs"),
        "detached sample": straight_through("detached"),
        "argmax, not a sample": straight_through("argmax"),
    },
    "k_step_return": {
        "not truncated at H": k_step("no truncation"),
        "k - 1 rewards": k_step("off by one"),
        "undiscounted": k_step("undiscounted"),
    },
    "lambda_return": {
        "starts from 0": lam("from zero"),
        "lambda and 1 - lambda swapped": lam("swapped"),
        "reversed in time": lam("reversed"),
    },
    "updates_due": {
        "never resets next_train": schedule_fn("never resets"),
        "> instead of >=": schedule_fn(">"),
        "next from next_train": schedule_fn("from next_train"),
    },
}
WRONG_CASES = [
    (name, label, fn) for name, versions in WRONG.items() for label, fn in versions.items()
]


def printed(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


def test_every_exercise_has_a_checker_reference_and_two_wrong_versions():
    assert set(CHECKERS) == set(EXERCISES) == set(REFERENCES) == set(WRONG)
    assert len(CHECKERS) == 13
    assert all(len(versions) >= 2 for versions in WRONG.values())


@pytest.mark.parametrize("name", list(EXERCISES))
def test_reference_passes(name, capsys):
    result = CHECKERS[name](REFERENCES[name], mode="strict")
    lines = printed(capsys)
    assert result.passed and result.implemented
    assert len(lines) == len(result.cases) + 1 >= 5
    assert all(line.startswith("✅ ") for line in lines[:-1])
    assert lines[-1] == f"All {len(result.cases)} checks passed — well done!"


@pytest.mark.parametrize("name", list(EXERCISES))
def test_stub_reports_not_implemented(name, capsys):
    result = CHECKERS[name](stub)
    assert not result.implemented and not result.passed and result.cases == []
    expected = f"⏳ Exercise not implemented yet: fill in {name} and run the cell again."
    assert printed(capsys) == [expected]


@pytest.mark.parametrize(
    ("name", "label", "fn"), WRONG_CASES, ids=[f"{n}: {lb}" for n, lb, _ in WRONG_CASES]
)
def test_wrong_version_fails(name, label, fn, capsys):
    result = CHECKERS[name](fn)  # report mode: must not raise
    lines = printed(capsys)
    assert result.implemented and not result.passed, label
    failed = [line for line in lines if line.startswith("❌ ")]
    assert failed and all(" — hint: " in line or "same problem" in line for line in failed)
    assert lines[-1] == f"{len(failed)} of {len(result.cases)} checks failed"
    assert "tensor(" not in "\n".join(lines)  # never prints a tensor


@pytest.mark.parametrize("name", list(EXERCISES))
def test_broken_code_is_reported_not_raised(name, capsys):
    def raises(*args):
        raise ValueError("something went wrong")

    for fn, expected in (
        (raises, "raised ValueError: something went wrong"),
        (lambda *a: None, "None"),
    ):
        result = CHECKERS[name](fn)
        lines = printed(capsys)
        assert not result.passed and result.implemented
        assert expected in lines[0] and lines[0].startswith("❌ ")
        assert all(line.startswith("❌ ") for line in lines[:-1])
        assert "same problem as above" in lines[1]


LAMBDA = returns.lambda_return
ROBUSTNESS = {
    "numpy": (lambda r, v, d, lam: LAMBDA(r, v, d, lam).detach().numpy(), "numpy"),
    "list": (lambda r, v, d, lam: list(LAMBDA(r, v, d, lam)), "list, expected a torch.Tensor"),
    "wrong shape": (lambda r, v, d, lam: LAMBDA(r, v, d, lam)[:-1], "has shape"),
    "NaN": (lambda r, v, d, lam: LAMBDA(r, v, d, lam) * float("nan"), "NaN"),
    "float32": (lambda r, v, d, lam: LAMBDA(r, v, d, lam).float(), "dtype torch.float32"),
    "detached": (
        lambda r, v, d, lam: LAMBDA(r, v, d, lam).detach(),
        "no gradient reaches `reward`",
    ),
}


@pytest.mark.parametrize("label", list(ROBUSTNESS))
def test_robustness_lambda_return(label, capsys):
    fn, expected = ROBUSTNESS[label]
    result = check_lambda_return(fn)
    lines = printed(capsys)
    assert not result.passed
    assert expected in "\n".join(lines)


def test_in_place_modification_is_reported(capsys):
    def lambda_return(reward, value, discount, lambda_):
        reward.mul_(2.0)
        return LAMBDA(reward, value, discount, lambda_)

    result = check_lambda_return(lambda_return)
    assert not result.passed
    assert "changed its input `reward` in place" in printed(capsys)[0]

    def observe_step(rssm, prev_state, prev_action, embed):
        prev_state.deter.zero_()
        return rssm.observe_step(prev_state, prev_action, embed)

    assert not CHECKERS["observe_step"](observe_step).passed
    assert "changed its input `prev_state` in place" in printed(capsys)[0]


def test_error_line_points_into_the_learners_function(capsys):
    def lambda_return(reward, value, discount, lambda_):
        out = reward * 0
        return out[100]

    check_lambda_return(lambda_return)
    first = printed(capsys)[0]
    assert "raised IndexError" in first and "(line 3 of your function)" in first


def test_a_later_not_implemented_is_a_failure(capsys):
    def lambda_return(reward, value, discount, lambda_):
        if reward.shape[0] == 1:
            raise NotImplementedError
        return LAMBDA(reward, value, discount, lambda_)

    result = check_lambda_return(lambda_return)
    assert result.implemented and not result.passed
    assert any("NotImplementedError" in line for line in printed(capsys))


def test_not_a_function(capsys):
    result = check_lambda_return(None)
    assert not result.passed and printed(capsys)[0].startswith("❌ function:")


def test_statistical_fallback_accepts_another_random_order(capsys):
    def imagine_step(rssm, prev_state, prev_action):
        torch.rand(3)  # consumes random numbers first: not the package's draw, still correct
        return REFERENCES["imagine_step"](rssm, prev_state, prev_action)

    assert CHECKERS["imagine_step"](imagine_step).passed
    assert any("another order" in line for line in printed(capsys))


def test_strict_mode_raises_on_failure_and_stub(monkeypatch, capsys):
    monkeypatch.setenv("DREAMER_LITE_CHECK", "strict")
    assert check_lambda_return(LAMBDA).passed
    with pytest.raises(AssertionError, match="checks failed"):
        check_lambda_return(lam("from zero"))
    with pytest.raises(AssertionError, match="not implemented"):
        check_lambda_return(stub)


def test_expect_unfinished_mode(monkeypatch, capsys):
    monkeypatch.setenv("DREAMER_LITE_CHECK", "expect-unfinished")
    assert not check_lambda_return(stub).implemented
    with pytest.raises(AssertionError, match="expected the exercise stub"):
        check_lambda_return(LAMBDA)
    with pytest.raises(AssertionError):
        check_lambda_return(lam("from zero"))  # finished, even if wrong


def test_report_mode_is_the_default_and_modes_are_validated(monkeypatch, capsys):
    monkeypatch.delenv("DREAMER_LITE_CHECK", raising=False)
    assert check_mode() == "report"
    check_lambda_return(stub)
    check_lambda_return(lam("from zero"))
    with pytest.raises(ValueError, match="DREAMER_LITE_CHECK"):
        check_mode("sloppy")


def test_checker_leaves_global_state_alone(capsys):
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CHECKERS["imagine"](REFERENCES["imagine"])
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_result_object(capsys):
    result = check_lambda_return(lam("from zero"))
    assert [case.name for case in result.cases][:3] == ["shape and dtype", "lambda=0", "lambda=1"]
    assert "checks failed" in repr(result)
    assert result._ipython_display_() is None  # nothing extra under a notebook cell
