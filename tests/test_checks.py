"""Tests of dreamer_lite.course.checks: a checker is trusted only if it rejects wrong code.

For every registered exercise: the package's reference passes, the stub reports "not implemented",
and the registry's plausible wrong versions fail. Broken learner code (exceptions, numpy, NaN,
wrong shapes, in-place edits) must give readable lines, never a crash, in report mode; the modes
raise as documented.
"""

import pytest
import torch

from dreamer_lite.course.cases import EXERCISES
from dreamer_lite.course.checks import CHECKERS, check_lambda_return, check_mode

REFERENCES = {name: spec.reference for name, spec in EXERCISES.items()}


def stub(*args):
    raise NotImplementedError("Exercise 04.2: fill in lambda_return")


WRONG_CASES = [
    (name, label, fn) for name, spec in EXERCISES.items() for label, fn in spec.wrong.items()
]


def printed(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


def test_every_exercise_has_a_checker_reference_and_two_wrong_versions():
    assert set(CHECKERS) == set(EXERCISES)
    assert len(CHECKERS) == 17
    assert all(len(spec.wrong) >= 2 for spec in EXERCISES.values())
    from dreamer_lite.course import checks

    assert all(getattr(checks, f"check_{name}") is CHECKERS[name] for name in EXERCISES)


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


LAMBDA = EXERCISES["lambda_return"].reference
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
        check_lambda_return(EXERCISES["lambda_return"].wrong["starts from 0"])
    with pytest.raises(AssertionError, match="not implemented"):
        check_lambda_return(stub)


def test_expect_unfinished_mode(monkeypatch, capsys):
    monkeypatch.setenv("DREAMER_LITE_CHECK", "expect-unfinished")
    assert not check_lambda_return(stub).implemented
    with pytest.raises(AssertionError, match="expected the exercise stub"):
        check_lambda_return(LAMBDA)
    with pytest.raises(AssertionError):
        check_lambda_return(
            EXERCISES["lambda_return"].wrong["starts from 0"]
        )  # finished, even if wrong


def test_report_mode_is_the_default_and_modes_are_validated(monkeypatch, capsys):
    monkeypatch.delenv("DREAMER_LITE_CHECK", raising=False)
    assert check_mode() == "report"
    check_lambda_return(stub)
    check_lambda_return(EXERCISES["lambda_return"].wrong["starts from 0"])
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
    result = check_lambda_return(EXERCISES["lambda_return"].wrong["starts from 0"])
    assert [case.name for case in result.cases][:3] == ["shape and dtype", "lambda=0", "lambda=1"]
    assert "checks failed" in repr(result)
    assert result._ipython_display_() is None  # nothing extra under a notebook cell


def test_update_checker_accepts_plain_optimizer_steps(capsys):
    """Dreamer.update steps a fused Adam with a found_inf flag; a learner's plain steps must give
    the same parameters."""
    from dreamer_lite.course.cases.lesson05 import learner_update

    assert CHECKERS["update"](learner_update("no mistake")).passed


def test_update_checker_refuses_the_package_update(capsys):
    result = CHECKERS["update"](lambda agent, batch: agent.update(batch))
    assert not result.passed
    assert "has no update(): write the three steps yourself" in printed(capsys)[0]


def test_behavior_losses_checker_reports_the_gradient_routing(capsys):
    wrong = EXERCISES["behavior_losses"].wrong
    CHECKERS["behavior_losses"](wrong["no frozen: the actor loss trains world model and critic"])
    lines = printed(capsys)
    assert any(
        "actor loss gradient: the actor loss reaches world-model or critic" in line
        for line in lines
    )
    CHECKERS["behavior_losses"](wrong["returns not detached in the value loss"])
    lines = printed(capsys)
    assert sum(line.startswith("❌") for line in lines) == 1  # only the routing case
    assert "value loss gradient: the value loss reaches actor or world-model" in "\n".join(lines)
