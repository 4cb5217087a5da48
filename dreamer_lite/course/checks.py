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
``dreamer_lite.course.cases`` (one module per lesson), the runner in ``dreamer_lite.course.checking``.

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

from dreamer_lite.course.cases import EXERCISES
from dreamer_lite.course.checking import CaseResult, CheckResult, ExerciseSpec, evaluate

MODES = ("report", "strict", "expect-unfinished")


def check_mode(mode: str | None = None) -> str:
    """``mode`` or else ``DREAMER_LITE_CHECK`` (default ``report``), validated."""
    mode = (mode or os.environ.get("DREAMER_LITE_CHECK", "") or "report").strip().lower()
    if mode not in MODES:
        raise ValueError(f"DREAMER_LITE_CHECK must be one of {MODES}, got {mode!r}")
    return mode


def run_check(exercise: str, fn: Callable, mode: str | None = None) -> CheckResult:
    """Evaluate ``fn`` on the cases of ``exercise``, print the lines, and raise as the mode asks
    (see the module docstring)."""
    mode = check_mode(mode)
    result = evaluate(EXERCISES[exercise], fn)
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


def _make_checker(spec: ExerciseSpec) -> Callable[..., CheckResult]:
    def check(fn: Callable, *, mode: str | None = None) -> CheckResult:
        return run_check(spec.name, fn, mode)

    reference = getattr(spec.reference, "__qualname__", spec.reference.__class__.__name__)
    module = getattr(spec.reference, "__module__", "")
    check.__name__ = check.__qualname__ = spec.checker
    check.__doc__ = (
        f"Exercise {spec.id}: check ``{spec.name}({', '.join(spec.params)})`` against the"
        f" package's ``{module}.{reference}``; prints one line per case."
    )
    return check


CHECKERS: dict[str, Callable[..., CheckResult]] = {
    name: _make_checker(spec) for name, spec in EXERCISES.items()
}
"""Exercise function name -> its checker, e.g. ``CHECKERS["lambda_return"]``."""

globals().update({f"check_{name}": checker for name, checker in CHECKERS.items()})
# The checkers the notebooks import, e.g. ``from dreamer_lite.course.checks import
# check_lambda_return``; one per registered exercise, made above from the registry.

__all__ = [f"check_{name}" for name in EXERCISES] + [
    "CHECKERS",
    "CaseResult",
    "CheckResult",
    "check_mode",
    "run_check",
]
