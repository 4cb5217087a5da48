"""Instant feedback on the course's exercises: one ``check_<name>`` per exercise.

Call it right after writing the function, in a notebook::

    check_lambda_return(lambda_return)

It runs named cases on small seeded inputs (shapes and dtypes, values against the package's own
implementation, edge cases, gradient routing) and prints one line per case, then a summary::

    ✅ lambda=0: equals the one-step return r_t + d_t v_{t+1}
    ❌ lambda=1: differs from the H-step return ... — hint: the recursion starts from ...
    1 of 7 checks failed

A hint points at the idea, never at the expected numbers. A function that still raises
``NotImplementedError`` (the exercise stub) gives one line, ``⏳ Exercise not implemented yet``.
Whatever the learner's code does (raise, return numpy, NaN or a wrong shape, edit its inputs in
place), the checker says so in one line and carries on. The cases live in
``dreamer_lite.check_cases``.

Random functions (``imagine_step``, ``observe_step``, ``imagine``, ``straight_through_sample``)
are compared by seeding torch identically before the learner's call and the package's; the hints
say in which order the random numbers are expected. The global random state is restored afterwards,
so a checker never changes what later cells draw.

Modes, by the environment variable ``DREAMER_LITE_CHECK`` (or the ``mode`` argument):

    report (default)   print only; never raises.
    strict             raise AssertionError when a case fails or the function is a stub
                       (CI on notebooks/ and solutions/).
    expect-unfinished  raise AssertionError unless the function is a stub, i.e. raises
                       NotImplementedError (CI on exercises/: proves the stubs are stubs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dreamer_lite.check_cases import EXERCISES, CaseFailure, Learner, NotImplementedYet

MODES = ("report", "strict", "expect-unfinished")
NOT_IMPLEMENTED = "⏳ Exercise not implemented yet: fill in {name} and run the cell again."


@dataclass(frozen=True)
class CaseResult:
    """One named case: did it pass, and the line's message (with its hint when it failed)."""

    name: str
    passed: bool
    message: str

    @property
    def line(self) -> str:
        return f"{'✅' if self.passed else '❌'} {self.name}: {self.message}"


@dataclass
class CheckResult:
    """What a checker found. ``passed`` is True only for an implemented function passing all."""

    exercise: str  # the function's name, e.g. "lambda_return"
    cases: list[CaseResult] = field(default_factory=list)
    implemented: bool = True

    @property
    def passed(self) -> bool:
        return self.implemented and all(case.passed for case in self.cases)

    @property
    def summary(self) -> str:
        if not self.implemented:
            return NOT_IMPLEMENTED.format(name=self.exercise)
        failed = sum(not case.passed for case in self.cases)
        if failed == 0:
            return f"All {len(self.cases)} checks passed — well done!"
        return f"{failed} of {len(self.cases)} checks failed"

    @property
    def lines(self) -> list[str]:
        """What the checker prints: one line per case and the summary (one line for a stub)."""
        if not self.implemented:
            return [self.summary]
        return [case.line for case in self.cases] + [self.summary]

    def __repr__(self) -> str:
        return f"<CheckResult {self.exercise}: {self.summary}>"

    def _ipython_display_(self) -> None:
        """Show nothing when a checker call ends a notebook cell: its lines are already printed."""


def check_mode(mode: str | None = None) -> str:
    """``mode`` or else ``DREAMER_LITE_CHECK`` (default ``report``), validated."""
    mode = (mode or os.environ.get("DREAMER_LITE_CHECK", "") or "report").strip().lower()
    if mode not in MODES:
        raise ValueError(f"DREAMER_LITE_CHECK must be one of {MODES}, got {mode!r}")
    return mode


def evaluate(exercise: str, fn: Callable) -> CheckResult:
    """Run the cases of ``exercise`` on ``fn`` and collect the results; prints nothing, never
    raises for anything ``fn`` does."""
    params, make_cases = EXERCISES[exercise]
    if not callable(fn):
        problem = f"expected your function {exercise}, got a {type(fn).__name__}"
        return CheckResult(exercise, [CaseResult("function", False, problem)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (a lot on a busy CPU)
    try:
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            return _run_cases(exercise, Learner(fn, params), make_cases())
    finally:
        torch.set_num_threads(threads)


def _run_cases(exercise: str, learner: Learner, named_cases: list) -> CheckResult:
    cases: list[CaseResult] = []
    previous = None  # the last failure's message, to shorten repeats
    for name, case in named_cases:
        try:
            message, passed = case(learner), True
        except NotImplementedYet:
            if not cases:  # the very first call: the stub
                return CheckResult(exercise, implemented=False)
            message = "your function raised NotImplementedError — hint: remove the `raise` line"
            passed = False
        except CaseFailure as failure:
            message, passed = str(failure), False
        except Exception as error:  # noqa: BLE001 -- a result the cases did not foresee
            message = f"could not check your result ({type(error).__name__}: {error})"
            passed = False
        shown = "same problem as above" if not passed and message == previous else message
        previous = None if passed else message
        cases.append(CaseResult(name, passed, shown))
    return CheckResult(exercise, cases)


def run_check(exercise: str, fn: Callable, mode: str | None = None) -> CheckResult:
    """Evaluate, print the lines, and raise as the mode asks (see the module docstring)."""
    mode = check_mode(mode)
    result = evaluate(exercise, fn)
    print("\n".join(result.lines), flush=True)
    if mode == "strict" and not result.passed:
        raise AssertionError(f"check_{exercise}: {result.summary} (DREAMER_LITE_CHECK=strict)")
    if mode == "expect-unfinished" and result.implemented:
        raise AssertionError(
            f"check_{exercise}: expected the exercise stub (raising NotImplementedError), but the"
            " function ran: does this exercise notebook contain a solution? "
            "(DREAMER_LITE_CHECK=expect-unfinished)"
        )
    return result


def check_rollout_model(rollout_model: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 00.1: ``rollout_model(model, state, actions) -> (H+1, N, X)`` against
    ``dreamer_lite.mbrl.rollout_model``."""
    return run_check("rollout_model", rollout_model, mode)


def check_imagine_step(imagine_step: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 01.1: ``imagine_step(rssm, prev_state, prev_action) -> LatentState`` against
    ``RSSM.imagine_step``. Random numbers: one ``torch.randn_like(std)`` (or ``rsample``)."""
    return run_check("imagine_step", imagine_step, mode)


def check_observe_step(observe_step: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 01.2: ``observe_step(rssm, prev_state, prev_action, embed) -> (post, prior)``
    against ``RSSM.observe_step``. Random numbers: the prior's sample, then the posterior's."""
    return run_check("observe_step", observe_step, mode)


def check_kl_loss(kl_loss: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 01.3: ``kl_loss(post_mean, post_std, prior_mean, prior_std, free_nats)`` against
    ``dreamer_lite.objectives.kl_loss``."""
    return run_check("kl_loss", kl_loss, mode)


def check_log_likelihood(log_likelihood: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 01.4: ``log_likelihood(mean, target, event_dims)`` against
    ``dreamer_lite.objectives.log_likelihood``."""
    return run_check("log_likelihood", log_likelihood, mode)


def check_contrastive_scores(
    contrastive_scores: Callable, *, mode: str | None = None
) -> CheckResult:
    """Exercise 02.1: ``contrastive_scores(feat, mean, std) -> (..., N, N)`` against
    ``dreamer_lite.objectives.contrastive_scores``."""
    return run_check("contrastive_scores", contrastive_scores, mode)


def check_info_nce_loss(info_nce_loss: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 02.2: ``info_nce_loss(scores)`` against
    ``dreamer_lite.objectives.info_nce_loss``."""
    return run_check("info_nce_loss", info_nce_loss, mode)


def check_imagine(imagine: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 03.1: ``imagine(rssm, actor, start, horizon) -> (states, actions)`` against
    ``dreamer_lite.behavior.imagine``. Random numbers, per step: ``actor(feat).rsample()``, then
    ``rssm.imagine_step``."""
    return run_check("imagine", imagine, mode)


def check_actor_loss(actor_loss: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 03.2: ``actor_loss(returns, weights)`` against
    ``dreamer_lite.behavior.actor_loss``."""
    return run_check("actor_loss", actor_loss, mode)


def check_straight_through_sample(
    straight_through_sample: Callable, *, mode: str | None = None
) -> CheckResult:
    """Exercise 03.3: ``straight_through_sample(logits)`` against
    ``dreamer_lite.behavior.straight_through_sample``. Random numbers: one draw of the index
    (``torch.multinomial`` or ``Categorical(...).sample()``); other ways pass a statistical test."""
    return run_check("straight_through_sample", straight_through_sample, mode)


def check_k_step_return(k_step_return: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 04.1: ``k_step_return(reward, value, discount, k)`` against
    ``dreamer_lite.returns.k_step_return``."""
    return run_check("k_step_return", k_step_return, mode)


def check_lambda_return(lambda_return: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 04.2: ``lambda_return(reward, value, discount, lambda_)`` against
    ``dreamer_lite.returns.lambda_return``."""
    return run_check("lambda_return", lambda_return, mode)


def check_updates_due(updates_due: Callable, *, mode: str | None = None) -> CheckResult:
    """Exercise 05.1: ``updates_due(env_steps, next_train, train_every, train_steps)`` against
    ``dreamer_lite.schedule.updates_due``."""
    return run_check("updates_due", updates_due, mode)


CHECKERS: dict[str, Callable[..., CheckResult]] = {
    name: globals()[f"check_{name}"] for name in EXERCISES
}
"""Exercise function name -> its checker, e.g. ``CHECKERS["lambda_return"]``."""

__all__ = [f"check_{name}" for name in EXERCISES] + ["CheckResult", "CaseResult", "CHECKERS"]
