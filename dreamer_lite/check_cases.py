"""The named cases behind ``dreamer_lite.checks``: what each exercise checker tries, and how.

A case is a small function ``case(learner) -> str``. It calls the learner's function (through
``Learner``, which turns exceptions and in-place edits into readable failures) on small seeded
inputs, compares with the package's own implementation and returns what it confirmed. When
something is wrong it raises ``CaseFailure`` with one line: the problem and a hint at the idea,
never the expected values.

Random functions are compared by seeding torch identically before the learner's call and the
reference's, so the learner must draw random numbers in the package's order (the hints say which).
Where another order is just as correct (a Gaussian or categorical sample), a statistical test
decides instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn

from dreamer_lite.behavior import Actor
from dreamer_lite.mbrl import OneStepModel
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
    out, shape: tuple, legend: str = "", *, dtype: torch.dtype | None = None,
    what: str = "your result", hint: str = "", finite_hint: str = "",
) -> torch.Tensor:  # fmt: skip
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
    actual: torch.Tensor, expected: torch.Tensor, problem: str, hint: str,
    diagnoses: tuple = (), rtol: float = 1e-5, atol: float = 1e-6,
) -> None:  # fmt: skip
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


# --- 00.1 rollout_model -------------------------------------------------------------------------


def rollout_model_cases() -> list[Case]:
    from dreamer_lite.mbrl import rollout_model as ref

    torch.manual_seed(SEED)
    model = OneStepModel(3, 2, units=8, layers=1)
    gen = torch.Generator().manual_seed(SEED)
    state, actions = torch.randn(4, 3, generator=gen), torch.randn(5, 4, 2, generator=gen)
    stack = "stack the start and the H predictions along a new dim 0"

    def run(f, state, actions):
        with torch.no_grad():
            out = f(model, state, actions)
        return result(out, (len(actions) + 1, *state.shape), "(H+1, N, X)", hint=stack)

    def shape(f):
        run(f, state, actions)
        return "(H+1, N, X) as expected"

    def start(f):
        hint = "the rollout begins with the state you were given, before any action"
        close(run(f, state, actions)[0], state, "entry 0 is not the start state", hint)
        return "entry 0 is the start state"

    def values(s, a, label):
        def case(f):
            hint = "feed the model its own previous prediction and the next action, one at a time"
            close(run(f, s, a), ref(model, s, a).detach(), "the predictions differ", hint)
            return label

        return case

    return [
        ("shape", shape),
        ("start", start),
        ("open loop", values(state, actions, "each prediction is fed back, as expected")),
        ("horizon 1", values(state, actions[:1], "one step works")),
        ("batch 1", values(state[:1], actions[:, :1], "works for N = 1")),
    ]


# --- 01.1 / 01.2 RSSM steps ---------------------------------------------------------------------


def _rssm_parts(batch: int, seed: int = SEED):
    """A small RSSM (A=2, E=6, D=8, S=4), a previous state, an action and an embedding (B, .)."""
    torch.manual_seed(seed)
    rssm = RSSM(action_size=2, embed_size=6, deter_size=8, stoch_size=4, hidden_size=8)
    gen = torch.Generator().manual_seed(seed)
    deter, stoch, mean = (torch.randn(batch, n, generator=gen) for n in (8, 4, 4))
    prev = LatentState(deter, stoch, mean, torch.rand(batch, 4, generator=gen) + 0.5)
    action = torch.rand(batch, 2, generator=gen) * 2 - 1
    embed = torch.randn(batch, 6, generator=gen)
    return rssm, prev, action, embed


DETER_HINT = (
    "concatenate [stoch, action], pass it through rssm.img_in (its ELU included), then "
    "rssm.gru with the previous deter as the hidden state"
)
STD_HINT = "std = softplus(raw std) + rssm.min_std: the floor keeps it from collapsing"


def imagine_step_cases() -> list[Case]:
    def parts(f, batch):
        rssm, prev, action, _ = _rssm_parts(batch)
        out = state_result(seeded(f, rssm, prev, action), batch, rssm)
        return rssm, out, seeded(rssm.imagine_step, prev, action)

    def shapes(f):
        parts(f, 5)
        return "a LatentState with deter (B, D) and stoch, mean, std (B, S)"

    def field(name, hint, label):
        def case(f):
            _, out, ref = parts(f, 5)
            close(getattr(out, name), getattr(ref, name), f"{name} differs", hint)
            return label

        return case

    def sample(f):
        rssm, out, ref = parts(f, 512)
        label = reparameterised(out.stoch, out.mean, out.std, ref.stoch, "stoch")
        if no_gradient(out.stoch, [rssm.img_out[-1].weight]):
            raise CaseFailure("no gradient flows from stoch into the network", REPARAM)
        return label

    def batch1(f):
        _, out, ref = parts(f, 1)
        for name in ("deter", "mean", "std"):  # the sample itself: see "sample"
            close(getattr(out, name), getattr(ref, name), f"{name} differs for B = 1", SIZES)
        return "works for B = 1"

    mean_hint = "the first half of rssm.img_out(deter) is the mean"
    return [
        ("shapes", shapes),
        ("deter", field("deter", DETER_HINT, "h_t from the GRU as expected")),
        ("mean", field("mean", mean_hint, "prior mean from rssm.img_out(h_t)")),
        ("std", field("std", STD_HINT, "softplus std with its floor min_std")),
        ("sample", sample),
        ("batch 1", batch1),
    ]


def observe_step_cases() -> list[Case]:
    def parts(f, batch, embed_scale=1.0):
        rssm, prev, action, embed = _rssm_parts(batch)
        out = pair(
            seeded(f, rssm, prev, action, embed * embed_scale), "a pair", "return (post, prior)"
        )
        post = state_result(out[0], batch, rssm, "your posterior")
        prior = state_result(out[1], batch, rssm, "your prior")
        ref_post, ref_prior = seeded(rssm.observe_step, prev, action, embed * embed_scale)
        return rssm, post, prior, ref_post, ref_prior

    def shapes(f):
        parts(f, 5)
        return "(posterior, prior), two LatentStates of the right shapes"

    def prior(f):
        _, _, prior, ref_post, ref_prior = parts(f, 5)
        hint = "the prior is exactly one imagine step from the previous state"
        swapped = ((ref_post.mean, "you returned (prior, posterior): the order is (post, prior)"),)
        close(prior.mean, ref_prior.mean, "the prior's mean differs", hint, swapped)
        for name in ("deter", "std"):
            close(
                getattr(prior, name), getattr(ref_prior, name), f"the prior's {name} differs", hint
            )
        return "the prior is the imagine step"

    def shared(f):
        _, post, prior, _, _ = parts(f, 5)
        hint = "the posterior shares the prior's h_t: only z_t sees the frame"
        close(post.deter, prior.deter, "the posterior's deter differs from the prior's", hint)
        return "the posterior shares the prior's deter h_t"

    def posterior(f):
        _, post, _, ref_post, _ = parts(f, 5)
        hint = "rssm.obs_out on the concatenation [deter, embed], then split in mean and raw std"
        close(post.mean, ref_post.mean, "the posterior mean differs", hint)
        close(post.std, ref_post.std, "the posterior std differs", STD_HINT)
        return "posterior mean and std from rssm.obs_out([h_t, e_t])"

    def uses_embed(f):
        a, b = parts(f, 5)[1], parts(f, 5, embed_scale=-1.0)[1]
        if torch.allclose(a.mean, b.mean):
            problem = "the posterior does not change when the frame's embedding does"
            raise CaseFailure(problem, "q(z_t | h_t, e_t) must look at the embedding")
        return "the posterior depends on the embedding"

    def samples(f):
        rssm, post, prior, ref_post, ref_prior = parts(f, 512)
        reparameterised(prior.stoch, prior.mean, prior.std, ref_prior.stoch, "the prior's stoch")
        label = reparameterised(post.stoch, post.mean, post.std, ref_post.stoch, "the post's stoch")
        if no_gradient(post.stoch, [rssm.obs_out[-1].weight]):
            raise CaseFailure(
                "no gradient flows from the posterior's stoch into the network", REPARAM
            )
        return label

    def batch1(f):
        _, post, _, ref_post, _ = parts(f, 1)
        close(post.mean, ref_post.mean, "the posterior differs for B = 1", SIZES)
        close(post.std, ref_post.std, "the posterior differs for B = 1", SIZES)
        return "works for B = 1"

    return [
        ("shapes", shapes),
        ("prior", prior),
        ("shared deter", shared),
        ("posterior", posterior),
        ("uses the frame", uses_embed),
        ("samples", samples),
        ("batch 1", batch1),
    ]


# --- 01.3 kl_loss / 01.4 log_likelihood ---------------------------------------------------------


def _gaussians(*shape: int, seed: int = SEED) -> list[torch.Tensor]:
    """[post_mean, post_std, prior_mean, prior_std] of the given shape, float64."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(2):
        out.append(torch.randn(*shape, generator=gen, dtype=F64))
        out.append(0.3 + torch.rand(*shape, generator=gen, dtype=F64))
    return out


def _with_kl(kls: list[float], free_nats: float) -> list:
    """Arguments whose per-state KLs are exactly ``kls``: KL(N(m, 1) || N(0, 1)) = m^2 / 2."""
    mean = torch.tensor(kls, dtype=F64).mul(2).sqrt().unsqueeze(-1)  # (N, 1)
    ones = torch.ones_like(mean)
    return [mean, ones, torch.zeros_like(mean), ones.clone(), free_nats]


def kl_loss_cases() -> list[Case]:
    from dreamer_lite.objectives import gaussian_kl
    from dreamer_lite.objectives import kl_loss as ref

    inputs = _gaussians(3, 4, 5)  # (T, B, S)
    hint = "KL(post || prior) of diagonal Gaussians, summed over S, averaged over the other dims"
    after = "average the per-state KLs first, then apply the free-nats floor once"

    def scalar(f):
        result(f(*inputs, 0.0), (), dtype=F64, hint=hint)
        return "a scalar"

    def direction(f):
        out = result(f(*inputs, 0.0), ())
        reverse = gaussian_kl(*inputs[2:], *inputs[:2]).mean()
        wrong = ((reverse, "this is KL(prior || post): the posterior comes first"),)
        close(out, ref(*inputs, 0.0), "the KL differs (free_nats = 0)", hint, wrong)
        return "KL(post || prior), summed over S and averaged over the rest"

    def free(kls, label):
        def case(f):
            args = _with_kl(kls, 3.0)
            close(result(f(*args), ()), ref(*args), "the loss differs", after)
            return label

        return case

    def flat_below(f):
        args = _with_kl([0.2, 1.0, 0.4], 3.0)
        for x in args[:2]:
            x.requires_grad_(True)
        out = result(f(*args), ())
        problem = "below free nats the loss should be the constant free_nats"
        close(out, ref(*args), problem, "clip the KL from below at free_nats")
        if not no_gradient(out, args[:2]):
            problem = "the loss still has a gradient below free nats"
            raise CaseFailure(problem, "a clamp at free_nats is flat there: the nats are free")
        return "constant free_nats, zero gradient below the threshold"

    def grad_above(f):
        args = [x.clone().requires_grad_(True) for x in inputs]
        out, expected = result(f(*args, 0.5), ()), ref(*args, 0.5)
        names = ["post_mean", "post_std", "prior_mean", "prior_std"]
        got, want = gradients(out, args), gradients(expected, args)
        return same_gradients(got, want, names, NO_GRAD, (out, expected))

    def batch1(f):
        args = [x[:1, :1] for x in inputs]
        close(result(f(*args, 0.0), ()), ref(*args, 0.0), "the loss differs for one state", SIZES)
        return "works for a single state"

    return [
        ("scalar", scalar),
        ("direction", direction),
        ("below free nats", flat_below),
        ("free nats after averaging", free([0.5, 10.0], "mean above free nats: the mean KL")),
        ("free nats after averaging (2)", free([1.0, 4.0], "mean below free nats: free_nats")),
        ("gradient above free nats", grad_above),
        ("batch 1", batch1),
    ]


def log_likelihood_cases() -> list[Case]:
    from dreamer_lite.objectives import log_likelihood as ref

    gen = torch.Generator().manual_seed(SEED)
    images, vectors, rewards = (
        [torch.randn(*shape, generator=gen, dtype=F64) for _ in ("mean", "target")]
        for shape in ((2, 3, 3, 4, 4), (4, 3, 5), (4, 3))
    )
    hint = (
        "sum log N(target; mean, 1) (normalising constant included) over the last event_dims "
        "dims, then average over the leading dims"
    )

    def scalar(f):
        result(f(*images, 3), (), dtype=F64, hint=hint)
        return "a scalar"

    def values(data, dims, label):
        def case(f):
            close(result(f(*data, dims), ()), ref(*data, dims), "the log-likelihood differs", hint)
            return label

        return case

    def grad(f):
        mean = vectors[0].clone().requires_grad_(True)
        out, expected = result(f(mean, vectors[1], 1), ()), ref(mean, vectors[1], 1)
        got, want = gradients(out, [mean]), gradients(expected, [mean])
        return same_gradients(got, want, ["mean"], NO_GRAD, (out, expected))

    return [
        ("scalar", scalar),
        ("images (event_dims=3)", values(images, 3, "(T, B, C, H, W) frames as expected")),
        ("vectors (event_dims=1)", values(vectors, 1, "(T, B, X) vectors as expected")),
        ("rewards (event_dims=0)", values(rewards, 0, "(T, B) rewards as expected")),
        ("batch 1", values([x[:1, :1] for x in images], 3, "works for one frame")),
        ("gradient", grad),
    ]


# --- 02.1 contrastive_scores / 02.2 info_nce_loss -----------------------------------------------


def contrastive_scores_cases() -> list[Case]:
    from dreamer_lite.objectives import contrastive_scores as ref

    feat, _, mean, std = _gaussians(5, 3)  # (N, F)
    hint = (
        "entry [i, j] is the log-density of state i under observation j's Gaussian, summed over "
        "F: broadcast so that every i meets every j"
    )

    def shape(f):
        result(f(feat, mean, std), (5, 5), "(N, N)", dtype=F64, hint=hint)
        return "(N, N) as expected"

    def values(f):
        expected = ref(feat, mean, std)
        swapped = ((expected.T, "rows and columns are swapped: row i is state i"),)
        out = result(f(feat, mean, std), (5, 5), "(N, N)")
        close(out, expected, "the scores differ", hint, swapped)
        return "[i, j] = log N(feat_i; mean_j, std_j)"

    def leading(f):
        scale = torch.tensor([1.0, 0.5], dtype=F64).view(2, 1, 1)
        args = [x.expand(2, 5, 3) * scale for x in (feat, mean, std)]  # (T, N, F)
        hint = "index the candidate dims from the end (-2, -1), not from the front"
        close(result(f(*args), (2, 5, 5), "(T, N, N)"), ref(*args), "the scores differ", hint)
        return "leading dims (T, N, F) -> (T, N, N)"

    def one(f):
        args = (feat[:1], mean[:1], std[:1])
        close(result(f(*args), (1, 1), "(N, N)"), ref(*args), "the score differs for N = 1", hint)
        return "works for N = 1"

    def grad(f):
        args = [x.clone().requires_grad_(True) for x in (feat, mean, std)]
        w = torch.linspace(-1, 1, 25, dtype=F64).reshape(5, 5)
        out, expected = result(f(*args), (5, 5), "(N, N)") * w, ref(*args) * w
        got, want = gradients(out, args), gradients(expected, args)
        return same_gradients(got, want, ["feat", "mean", "std"], NO_GRAD, (out, expected))

    return [
        ("shape", shape),
        ("values", values),
        ("leading dims", leading),
        ("N = 1", one),
        ("gradient", grad),
    ]


def info_nce_loss_cases() -> list[Case]:
    from dreamer_lite.objectives import info_nce_loss as ref

    gen = torch.Generator().manual_seed(SEED)
    scores = torch.randn(5, 5, generator=gen, dtype=F64) * 2
    scores = scores + torch.linspace(0, 3, 5, dtype=F64)  # columns differ: not symmetric
    hint = (
        "for each row i: its diagonal score minus the log-sum-exp of row i over the observations "
        "j; average, and negate (a loss)"
    )
    stable = "use torch.logsumexp, which never overflows"

    def scalar(f):
        result(f(scores), (), dtype=F64, hint=hint)
        return "a scalar"

    def values(f):
        diag = torch.diagonal(scores)
        wrong_axis = -(diag - torch.logsumexp(scores, dim=0)).mean()
        wrong = (
            (wrong_axis, "the normaliser runs over the wrong axis: sum over j, the last dim"),
            (-diag.mean(), "the bound needs its normaliser over the negatives"),
        )
        close(result(f(scores), ()), ref(scores), "the loss differs", hint, wrong)
        return "the negative InfoNCE bound as expected"

    def uniform(f):
        flat = torch.zeros(4, 4, dtype=F64)
        close(result(f(flat), ()), ref(flat), "uninformative scores should give log N", hint)
        return "uninformative scores give log N"

    def leading(f):
        batch = torch.stack([scores, scores.T * 0.5])  # (T, N, N)
        hint = "take the diagonal and the normaliser over the last two dims, average the rest"
        close(result(f(batch), ()), ref(batch), "the loss differs for scores (T, N, N)", hint)
        return "scores (T, N, N) averaged over T as well"

    def one(f):
        single = scores[:1, :1]
        close(result(f(single), ()), ref(single), "N = 1 should give 0", hint)
        return "N = 1 gives 0"

    def large(f):
        big = scores * 400
        out = result(f(big), (), finite_hint=stable)
        close(out, ref(big), "the loss differs for large scores", hint)
        return "large scores stay finite"

    def grad(f):
        x = scores.clone().requires_grad_(True)
        out, expected = result(f(x), ()), ref(x)
        got, want = gradients(out, [x]), gradients(expected, [x])
        return same_gradients(got, want, ["scores"], NO_GRAD, (out, expected))

    return [
        ("scalar", scalar),
        ("values", values),
        ("uninformative", uniform),
        ("leading dims", leading),
        ("N = 1", one),
        ("large scores", large),
        ("gradient", grad),
    ]


# --- 03.1 imagine / 03.2 actor_loss / 03.3 straight_through_sample ------------------------------


def imagine_cases() -> list[Case]:
    from dreamer_lite.behavior import imagine as ref

    torch.manual_seed(SEED)
    rssm = RSSM(action_size=2, embed_size=6, deter_size=8, stoch_size=4, hidden_size=8)
    actor = Actor(12, 2, units=8, layers=1)
    gen = torch.Generator().manual_seed(SEED)
    leaves = [torch.randn(2, 3, n, generator=gen) for n in (8, 4, 4)]  # start (T, B, .)
    leaves.append(torch.rand(2, 3, 4, generator=gen) + 0.5)
    order = (
        "per step: action = actor(features).rsample(), then rssm.imagine_step(state, action) "
        "(the checker replays the random numbers in that order)"
    )

    def run(f, horizon=3, flat=False, grad=False):
        fields = [x.clone().requires_grad_(grad) for x in leaves]
        start = LatentState(*fields).flatten() if flat else LatentState(*fields)
        out = pair(seeded(f, rssm, actor, start, horizon), "a pair", "return (states, actions)")
        states = as_state(out[0], "your states")
        hint = "flatten the start to (N, .) and stack H+1 states, the start first"
        for name, x in zip(LatentState._fields, states):
            size = (horizon + 1, 6, 8 if name == "deter" else 4)
            result(x, size, "(H+1, N, size)", what=f"states.{name}", hint=hint)
        hint = "stack the H actions, action[t] taken in state t"
        actions = result(out[1], (horizon, 6, 2), "(H, N, A)", what="your actions", hint=hint)
        ref_states, ref_actions = seeded(ref, rssm, actor, LatentState(*fields), horizon)
        return fields, states, actions, ref_states, ref_actions

    def shapes(f):
        run(f)
        return "states (H+1, N, .) and actions (H, N, A)"

    def start(f):
        _, states, _, ref_states, _ = run(f)
        hint = "the trajectory begins with the start state itself"
        close(states.feat[0], ref_states.feat[0], "entry 0 is not the (flattened) start", hint)
        return "entry 0 is the start"

    def values(horizon, flat, label):
        def case(f):
            _, states, actions, ref_states, ref_actions = run(f, horizon, flat)
            close(actions, ref_actions, "the actions differ", order)
            close(states.feat, ref_states.feat, "the imagined states differ", order)
            return label

        return case

    def detached_start(f):
        fields, states, actions, _, _ = run(f, grad=True)
        if not no_gradient(states.feat.sum() + actions.sum(), fields):
            hint = "behaviour learning must not change the representation: detach the start"
            raise CaseFailure("gradient flows back into the start state", hint)
        return "no gradient reaches the start state"

    def through_dynamics(f):
        _, states, _, ref_states, _ = run(f)
        params = list(actor.parameters())
        got = gradients(states.feat[-1], params)
        if all((g == 0).all() for g in got):
            hint = "use rsample(), not sample() or .detach(), so the actions stay differentiable"
            raise CaseFailure("no gradient reaches the actor from the last imagined state", hint)
        close(states.feat, ref_states.feat, "cannot compare gradients: the states differ", order)
        hint = (
            "give the actor detached features: its gradient should come only through the actions "
            "it chose and the dynamics"
        )
        got, want = (
            torch.cat([g.flatten() for g in gs])
            for gs in (got, gradients(ref_states.feat[-1], params))
        )
        close(got, want, "the actor's gradient differs", hint, rtol=1e-4)
        return "the actor's gradient flows through the dynamics"

    same = "same trajectory as the package for the same seed"
    return [
        ("shapes", shapes),
        ("start", start),
        ("values (same seed)", values(3, False, same)),
        ("start detached", detached_start),
        ("actions reparameterised", through_dynamics),
        ("horizon 1", values(1, False, "works for H = 1")),
        ("flat start", values(2, True, "works for a start of shape (N, .)")),
    ]


def actor_loss_cases() -> list[Case]:
    from dreamer_lite.behavior import actor_loss as ref

    gen = torch.Generator().manual_seed(SEED)
    returns = torch.randn(5, 4, generator=gen, dtype=F64)
    weights = torch.rand(5, 4, generator=gen, dtype=F64).cumprod(0)
    weights[2, 1] = weights[4, 3] = 0.0
    hint = "average weights * returns over all H x N entries"
    sign = "the sign: the optimiser minimises the loss, and we want high returns"

    def scalar(f):
        result(f(returns, weights), (), dtype=F64, hint=hint)
        return "a scalar"

    def values(r, w, label):
        def case(f):
            close(result(f(r, w), ()), ref(r, w), "the loss differs", hint, ((-ref(r, w), sign),))
            return label

        return case

    def grad_of(f):
        x = returns.clone().requires_grad_(True)
        return gradients(result(f(x, weights), ()), [x])[0]

    def signs(f):
        if (grad_of(f)[weights > 0] >= 0).any():
            hint = "the optimiser minimises: the loss must fall when returns rise"
            raise CaseFailure("minimising your loss does not raise every weighted return", hint)
        return "minimising the loss raises the returns"

    def weighting(f):
        x = returns.clone().requires_grad_(True)
        out, expected = result(f(x, weights), ()), ref(x, weights)
        hint = "each return counts with its weight (a zero weight: no gradient)"
        got, want = gradients(out, [x]), gradients(expected, [x])
        return same_gradients(got, want, ["returns"], hint, (out, expected))

    single = values(returns[:1, :1], weights[:1, :1], "works for a single entry")
    return [
        ("scalar", scalar),
        ("values", values(returns, weights, "-mean(weights * returns)")),
        ("sign", signs),
        ("weights", weighting),
        ("horizon 1, batch 1", single),
    ]


def straight_through_sample_cases() -> list[Case]:
    from dreamer_lite.behavior import straight_through_sample as ref

    gen = torch.Generator().manual_seed(SEED)
    logits = torch.randn(6, 4, generator=gen)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    many = probs.log().expand(4000, 4).contiguous()

    def shapes(f):
        for shape in ((6, 4), (2, 3, 4), (4,)):
            x = logits.reshape(-1)[: torch.Size(shape).numel()].reshape(shape)
            hint = "one one-hot vector per row of logits, same shape"
            result(seeded(f, x), shape, "the logits' shape", dtype=torch.float32, hint=hint)
        return "same shape and dtype as the logits, also for (A,) and (B, T, A)"

    def one_hot(f):
        out = result(seeded(f, logits), logits.shape, "(B, A)").detach()
        if not (((out == 0) | (out == 1)).all() and (out.sum(-1) == 1).all()):
            hint = "the value must be the one-hot sample itself; only its gradient is the probs'"
            raise CaseFailure("the forward value is not exactly one-hot", hint)
        return "the forward value is exactly one-hot"

    def sampling(f):
        out = result(seeded(f, many), many.shape, "(B, A)").detach()
        if torch.equal(out, seeded(ref, many).detach()):
            return "same sample as the package for the same seed"
        if (out.mean(0) - probs).abs().max() > 0.03:
            hint = "draw the index from the categorical distribution, not the argmax"
            raise CaseFailure("the samples are not distributed as softmax(logits)", hint)
        return "samples follow softmax(logits) (drawn in another order: fine)"

    def backward(f):
        x = logits.clone().requires_grad_(True)
        w = torch.linspace(-2, 2, 24).reshape(6, 4)
        out = result(seeded(f, x), logits.shape, "(B, A)")
        expected = gradients(torch.softmax(x, -1) * w, [x])
        hint = "the gradient must be exactly that of softmax(logits), whatever the sample"
        same_gradients(gradients(out * w, [x]), expected, ["logits"], hint)
        return "backward equals d softmax(logits) / d logits"

    return [
        ("shapes", shapes),
        ("one-hot", one_hot),
        ("sampling", sampling),
        ("straight-through gradient", backward),
    ]


# --- 04.1 k_step_return / 04.2 lambda_return ----------------------------------------------------


def _returns_data(horizon: int, batch: int, seed: int = SEED) -> list[torch.Tensor]:
    """reward (H, N), value (H+1, N) and random discounts (H, N) in [0.5, 1], float64."""
    gen = torch.Generator().manual_seed(seed)
    reward = torch.randn(horizon, batch, generator=gen, dtype=F64)
    value = torch.randn(horizon + 1, batch, generator=gen, dtype=F64)
    discount = 0.5 + 0.5 * torch.rand(horizon, batch, generator=gen, dtype=F64)
    return [reward, value, discount]


def _return_cases(ref: Callable, general: float, specials: list) -> list[Case]:
    """Cases shared by the two estimators: shape and dtype, special values, H = 1, N = 1 and
    gradients. ``specials``: (name, parameter, label, hint, (H, N))."""
    data = _returns_data(5, 3)
    stack = "one estimate per imagined state s_0 .. s_{H-1}, stacked in time order"

    def shape(f):
        result(f(*data, general), (5, 3), "(H, N)", dtype=F64, hint=stack)
        return "(H, N) as expected, dtype kept"

    def special(arg, label, hint, size):
        def case(f):
            inputs = _returns_data(*size, seed=sum(size))
            out = result(f(*inputs, arg), size, "(H, N)", hint=stack)
            close(out, ref(*inputs, arg), f"differs from {label}", hint)
            return f"equals {label}"

        return case

    def grad(f):
        inputs = [x.clone().requires_grad_(True) for x in data]
        w = torch.linspace(-1, 2, 15, dtype=F64).reshape(5, 3)
        out = result(f(*inputs, general), (5, 3), "(H, N)", hint=stack) * w
        expected = ref(*inputs, general) * w
        got, want = gradients(out, inputs[:2]), gradients(expected, inputs[:2])
        return same_gradients(got, want, ["reward", "value"], NO_GRAD, (out, expected))

    cases = [("shape and dtype", shape)]
    cases += [(name, special(arg, label, hint, size)) for name, arg, label, hint, size in specials]
    return [*cases, ("gradient", grad)]


def k_step_return_cases() -> list[Case]:
    from dreamer_lite.returns import k_step_return as ref

    boot = "bootstrap from value[h] after the last reward you sum, with h = min(t + k, H)"
    fold = "sum k discounted rewards (discount[n] between s_n and s_{n+1}), then the bootstrap"
    truncate = "near the horizon fewer than k rewards exist: stop at H, bootstrap from value[H]"
    return _return_cases(ref, 2, [
        ("k=1", 1, "the one-step return r_t + d_t v_{t+1}", boot, (5, 3)),
        ("k=3, random discounts", 3, "the reference 3-step return", fold, (6, 3)),
        ("k=H", 5, "the H-step return bootstrapped at v_H", boot, (5, 3)),
        ("k>H", 8, "the H-step return (truncated at the horizon)", truncate, (5, 3)),
        ("horizon 1", 3, "r_0 + d_0 v_1", boot, (1, 3)),
        ("batch 1", 2, "the reference for N = 1", SIZES, (5, 1)),
    ])  # fmt: skip


def lambda_return_cases() -> list[Case]:
    from dreamer_lite.returns import lambda_return as ref

    zero = "with lambda = 0 only the one-step term is left: check which term (1 - lambda) weights"
    start = "the recursion starts from the bootstrap value"
    order = "apply the recursion backwards from t = H-1, and return the estimates in time order"
    return _return_cases(ref, 0.9, [
        ("lambda=0", 0.0, "the one-step return r_t + d_t v_{t+1}", zero, (5, 3)),
        ("lambda=1", 1.0, "the H-step return bootstrapped at v_H", start, (5, 3)),
        ("lambda=0.95, random discounts", 0.95, "the reference lambda-return", order, (6, 4)),
        ("horizon 1", 0.5, "r_0 + d_0 v_1", start, (1, 3)),
        ("batch 1", 0.7, "the reference for N = 1", SIZES, (5, 1)),
    ])  # fmt: skip


# --- 05.1 updates_due ---------------------------------------------------------------------------


def updates_due_cases() -> list[Case]:
    from dreamer_lite.schedule import updates_due as ref

    def ints(out) -> tuple[int, int]:
        out = pair(out, "a pair of ints", "return (updates, next_train)")
        if not all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in out):
            hint = "return plain Python ints (updates, next_train)"
            raise CaseFailure("your result should hold two ints", hint)
        return int(out[0]), int(out[1])

    def call(args, label, hint):
        def case(f):
            if ints(f(*args)) != ref(*args):
                problem = (
                    f"wrong result for (env_steps, next_train, train_every, train_steps) = {args}"
                )
                raise CaseFailure(problem, hint)
            return label

        return case

    def types(f):
        ints(f(0, 0, 1000, 100))
        return "a pair of ints (updates, next_train)"

    def run(f):
        state, ref_state, total, ref_total = 0, 0, 0, 0
        for env_steps in range(0, 10_000, 8):
            updates, state = ints(f(env_steps, state, 1000, 100))
            ref_updates, ref_state = ref(env_steps, ref_state, 1000, 100)
            total, ref_total = total + updates, ref_total + ref_updates
        if total != ref_total:
            problem = f"a run of 10k env steps (8 per call) got {total} updates, not {ref_total}"
            raise CaseFailure(problem, "after a phase, next_train moves forward")
        return f"a run of 10k env steps gets {ref_total} updates"

    due = "a phase is due once env_steps has reached next_train (>=)"
    return [
        ("types", types),
        ("not due yet", call((500, 1000, 1000, 100), "no updates before next_train", due)),
        ("due exactly", call((1000, 1000, 1000, 100), "due once env_steps reaches it", due)),
        ("late", call((1300, 1000, 1000, 100), "next phase counted from now",
                      "count the next phase from the current env_steps")),
        ("first call", call((0, 0, 500, 7), "trains at once, next after train_every",
                            "the first phase comes before any policy step")),
        ("whole run", run),
    ]  # fmt: skip


EXERCISES: dict[str, tuple[tuple[str, ...], Callable[[], list[Case]]]] = {
    "rollout_model": (("model", "state", "actions"), rollout_model_cases),
    "imagine_step": (("rssm", "prev_state", "prev_action"), imagine_step_cases),
    "observe_step": (("rssm", "prev_state", "prev_action", "embed"), observe_step_cases),
    "kl_loss": (("post_mean", "post_std", "prior_mean", "prior_std", "free_nats"), kl_loss_cases),
    "log_likelihood": (("mean", "target", "event_dims"), log_likelihood_cases),
    "contrastive_scores": (("feat", "mean", "std"), contrastive_scores_cases),
    "info_nce_loss": (("scores",), info_nce_loss_cases),
    "imagine": (("rssm", "actor", "start", "horizon"), imagine_cases),
    "actor_loss": (("returns", "weights"), actor_loss_cases),
    "straight_through_sample": (("logits",), straight_through_sample_cases),
    "k_step_return": (("reward", "value", "discount", "k"), k_step_return_cases),
    "lambda_return": (("reward", "value", "discount", "lambda_"), lambda_return_cases),
    "updates_due": (("env_steps", "next_train", "train_every", "train_steps"), updates_due_cases),
}
"""Exercise function name -> (its parameter names, the factory of its cases)."""
