"""The case runner behind ``dreamer_lite.course.checks``: cases, results, and the exercise registry.

A case is a small function ``case(learner) -> str``. It calls the learner's function (through
``Learner``, which turns exceptions and in-place edits into readable failures) on small seeded
inputs, compares with the package's own implementation and returns what it confirmed. When
something is wrong it raises ``CaseFailure`` with one line: the problem and a hint at the idea,
never the expected values.

Random functions are compared by seeding torch identically before the learner's call and the
reference's, so the learner must draw random numbers in the package's order (the hints say which).
Where another order is just as correct (a Gaussian or categorical sample), a statistical test
decides instead.

Each exercise is registered once, as an ``ExerciseSpec`` in the ``EXERCISES`` list of its lesson's
module in ``dreamer_lite.course.cases``: its id, parameters, reference, cases and wrong versions.
The checkers, the generator, the tests and the solutions index all read that registry.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dreamer_lite.rssm import RSSM, LatentState

SEED = 0
F64 = torch.float64
NO_GRAD = "keep it all in torch (no .item(), numpy or .detach()) so that gradients flow through"
SIZES = "avoid squeeze() and hard-coded sizes"
REPARAM = ".sample() cuts the gradient: use a reparameterised sample"


class CaseFailure(Exception):
    """A case failed. ``str(failure)`` is the line shown to the learner."""

    def __init__(self, problem: str, hint: str = "") -> None:
        super().__init__(f"{problem} — hint: {hint}" if hint else problem)


class NotImplementedYet(Exception):
    """The learner's function raised NotImplementedError: the exercise is still a stub."""


Case = tuple[str, Callable[["Learner"], str]]


class Learner:
    """The learner's function, called positionally; exceptions and in-place edits of the inputs
    become ``CaseFailure``; ``NotImplementedError`` becomes ``NotImplementedYet``."""

    def __init__(self, fn: Callable, params: tuple[str, ...]) -> None:
        self.fn, self.params = fn, params

    def __call__(self, *args):
        before = [_snapshot(arg) for arg in args]
        try:
            out = self.fn(*args)
        except NotImplementedError:
            raise NotImplementedYet from None
        except Exception as error:  # noqa: BLE001 -- whatever the learner's code raises
            problem = f"your function raised {_describe(error, self.fn)}"
            raise CaseFailure(problem, "try it on small inputs and read the traceback") from None
        for name, arg, snap in zip(self.params, args, before):
            if not _unchanged(arg, snap):
                hint = "build new tensors (x = x + y) instead of writing into inputs (x += y)"
                raise CaseFailure(f"your function changed its input `{name}` in place", hint)
        return out


def _describe(error: Exception, fn: Callable) -> str:
    """``ValueError: message (line 4 of your function)`` from an exception."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    text = text if len(text) <= 160 else text[:157] + "..."
    where, code = "", getattr(fn, "__code__", None)
    tb = error.__traceback__
    while tb is not None:
        if code is not None and tb.tb_frame.f_code.co_filename == code.co_filename:
            where = f" (line {tb.tb_lineno - code.co_firstlineno + 1} of your function)"
        tb = tb.tb_next
    return f"{type(error).__name__}{': ' + text if text else ''}{where}"


def _snapshot(x):
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, nn.Module):
        return [t.detach().clone() for t in x.state_dict().values()]
    if isinstance(x, (tuple, list)):
        return [_snapshot(v) for v in x]
    return None


def _unchanged(x, snap) -> bool:
    if isinstance(x, torch.Tensor):
        return x.shape == snap.shape and torch.allclose(x.detach(), snap, 0, 0, equal_nan=True)
    if isinstance(x, nn.Module):
        return all(_unchanged(t, s) for t, s in zip(x.state_dict().values(), snap))
    if isinstance(x, (tuple, list)):
        return len(x) == len(snap) and all(_unchanged(v, s) for v, s in zip(x, snap))
    return True


# --- checking results ---------------------------------------------------------------------------


def as_tensor(out, what: str = "your result") -> torch.Tensor:
    """``out`` if it is a tensor, else a CaseFailure that says what it is instead."""
    if isinstance(out, torch.Tensor):
        return out
    if out is None:
        raise CaseFailure(f"{what} is None", "did you forget the `return` statement?")
    kind = type(out).__name__
    if type(out).__module__.startswith("numpy"):
        hint = "stay in torch: numpy cuts the gradient"
        raise CaseFailure(f"{what} is a numpy {kind}, expected a torch.Tensor", hint)
    if isinstance(out, (list, tuple)):
        hint = "torch.stack turns a list of tensors into one tensor"
        raise CaseFailure(f"{what} is a {kind}, expected a torch.Tensor", hint)
    if isinstance(out, numbers.Number):
        hint = "keep it a tensor: .item() and float() cut the gradient"
        raise CaseFailure(f"{what} is a Python {kind}, expected a torch.Tensor", hint)
    raise CaseFailure(f"{what} is a {kind}, expected a torch.Tensor")


def result(
    out,
    shape: tuple,
    legend: str = "",
    *,
    dtype: torch.dtype | None = None,
    what: str = "your result",
    hint: str = "",
    finite_hint: str = "",
) -> torch.Tensor:
    """Check type, shape (``legend`` names it, e.g. ``(H, N)``), dtype and finiteness."""
    t = as_tensor(out, what)
    if tuple(t.shape) != tuple(shape):
        expected = f"{legend} = {tuple(shape)}" if shape else "a scalar"
        hint = hint or "check which dims you index, stack or reduce"
        raise CaseFailure(f"{what} has shape {tuple(t.shape)}, expected {expected}", hint)
    if dtype is not None and t.dtype != dtype:
        hint = "create new tensors with the inputs' dtype (torch.zeros_like(x), dtype=x.dtype)"
        raise CaseFailure(f"{what} has dtype {t.dtype} for {dtype} inputs", hint)
    if not torch.isfinite(t.detach()).all():
        hint = (
            finite_hint or "look for a log or division of something that can be 0, or torch.empty"
        )
        raise CaseFailure(f"{what} contains NaN or inf", hint)
    return t


def close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    problem: str,
    hint: str,
    diagnoses: tuple = (),
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """assert_close in float64; on failure the largest error and a hint, never the values.

    ``diagnoses``: pairs ``(what a known mistake gives, the hint for that mistake)``.
    """
    actual, expected = actual.detach().double(), expected.detach().double()
    try:
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)
    except AssertionError:
        for wrong, wrong_hint in diagnoses:
            if wrong.shape == actual.shape and torch.allclose(actual, wrong.double(), 1e-5, 1e-6):
                hint = wrong_hint
                break
        error = (actual - expected).abs().max().item() if actual.shape == expected.shape else 0
        raise CaseFailure(f"{problem} (largest error {error:.2g})", hint) from None


def gradients(output: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """d(output.sum())/d(inputs), zeros where no gradient arrives."""
    if not output.requires_grad:
        return [torch.zeros_like(x) for x in inputs]
    grads = torch.autograd.grad(output.sum(), inputs, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


def same_gradients(
    actual: list, expected: list, names: list[str], hint: str, values: tuple | None = None
) -> str:
    """Compare gradients; with ``values = (output, reference output)`` the values first, so that
    a wrong value is not reported as a gradient problem."""
    if values is not None:
        try:
            torch.testing.assert_close(values[0].detach().double(), values[1].detach().double())
        except AssertionError:
            hint = "fix the values first (see the cases above)"
            raise CaseFailure("the values differ, so the gradients differ too", hint) from None
    for got, want, name in zip(actual, expected, names):
        if (got == 0).all() and not (want == 0).all():
            raise CaseFailure(f"no gradient reaches `{name}`", hint)
        close(got, want, f"the gradient with respect to `{name}` differs", hint)
    return f"gradients with respect to {', '.join(names)} match"


def as_state(out, what: str = "your result") -> LatentState:
    if isinstance(out, LatentState):
        return out
    if isinstance(out, tuple) and len(out) == 4 and all(isinstance(x, torch.Tensor) for x in out):
        return LatentState(*out)
    hint = "return LatentState(deter, stoch, mean, std)"
    raise CaseFailure(f"{what} is a {type(out).__name__}, expected a LatentState", hint)


def state_result(out, batch: int, rssm: RSSM, what: str = "your state") -> LatentState:
    """A LatentState with fields (B, D), (B, S), (B, S), (B, S), float32 and finite."""
    state = as_state(out, what)
    hint = "LatentState's fields are (deter, stoch, mean, std)"
    for name, x in zip(LatentState._fields, state):
        size, legend = (
            (rssm.deter_size, "(B, D)") if name == "deter" else (rssm.stoch_size, "(B, S)")
        )
        result(x, (batch, size), legend, dtype=torch.float32, what=f"{what}.{name}", hint=hint)
    return state


def pair(out, what: str, hint: str) -> tuple:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise CaseFailure(f"your result is a {type(out).__name__}, expected {what}", hint)
    return tuple(out)


def seeded(fn: Callable, *args, seed: int = SEED):
    torch.manual_seed(seed)
    return fn(*args)


def reparameterised(stoch, mean, std, reference, what: str) -> str:
    """The sample equals the reference's for the same seed, or is at least mean + std * eps with
    eps standard normal (drawn in another order)."""
    if torch.allclose(stoch.detach(), reference.detach(), 1e-4, 1e-5):
        return "same sample as the package for the same seed"
    eps = ((stoch - mean) / std).detach()
    if eps.numel() >= 1000 and abs(eps.mean()) < 0.1 and abs(eps.std() - 1) < 0.1:
        return "a reparameterised sample (random numbers drawn in another order: fine)"
    hint = "draw the sample from Normal(mean, std) with the reparameterisation trick"
    raise CaseFailure(f"{what} is not mean + std * eps with eps ~ N(0, 1)", hint)


def no_gradient(output: torch.Tensor, inputs: list[torch.Tensor]) -> bool:
    return all((g == 0).all() for g in gradients(output, inputs))


def gaussians(*shape: int, seed: int = SEED) -> list[torch.Tensor]:
    """[post_mean, post_std, prior_mean, prior_std] of the given shape, float64."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(2):
        out.append(torch.randn(*shape, generator=gen, dtype=F64))
        out.append(0.3 + torch.rand(*shape, generator=gen, dtype=F64))
    return out


# --- the registry entry and the runner ----------------------------------------------------------


@dataclass(frozen=True)
class ExerciseSpec:
    """One exercise, registered once: everything its checker, the generator and the tests need."""

    name: str  # the learner's function, e.g. "lambda_return"; its checker is check_<name>
    id: str  # "04.2": lesson 04, second exercise (the notebook's "# EXERCISE 04.2" header)
    params: tuple[str, ...]  # the function's parameter names, in order
    reference: Callable  # the package's implementation, with the learner's signature
    cases: Callable[[], list[Case]]  # builds the named cases (fresh seeded inputs each call)
    wrong: dict[str, Callable] = field(default_factory=dict)  # plausible mistakes: each must fail

    @property
    def checker(self) -> str:
        return f"check_{self.name}"


@dataclass(frozen=True)
class CaseResult:
    """One named case: did it pass, and the line's message (with its hint when it failed)."""

    name: str
    passed: bool
    message: str

    @property
    def line(self) -> str:
        return f"{'✅' if self.passed else '❌'} {self.name}: {self.message}"


NOT_IMPLEMENTED = "⏳ Exercise not implemented yet: fill in {name} and run the cell again."


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


def evaluate(spec: ExerciseSpec, fn: Callable) -> CheckResult:
    """Run the cases of ``spec`` on ``fn`` and collect the results; prints nothing, never raises
    for anything ``fn`` does. The global random state is the same afterwards."""
    if not callable(fn):
        problem = f"expected your function {spec.name}, got a {type(fn).__name__}"
        return CheckResult(spec.name, [CaseResult("function", False, problem)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (a lot on a busy CPU)
    try:
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            return _run_cases(spec.name, Learner(fn, spec.params), spec.cases())
    finally:
        torch.set_num_threads(threads)


def _run_cases(exercise: str, learner: Learner, named_cases: list[Case]) -> CheckResult:
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
