"""Arena ratings: Bradley–Terry maximum likelihood on the Elo scale, with bootstrap confidence intervals.

This is the model LMSYS Chatbot Arena fits (FastChat ``elo_analysis.py`` / ``rating_systems.py``):
``P(a beats b) = 1 / (1 + 10 ** ((R_b - R_a) / scale))``, i.e. logistic regression of the outcome on
``θ_a − θ_b`` with ``R = base + scale / ln(10) · θ``. As there, a tie counts as half a win for each side
(a tie is an observation with label 0.5), and ``both_bad`` is a tie. Unlike a sequential Elo update the
result does not depend on the order of the votes.

Fitting: the log-likelihood only depends, per unordered pair of models, on the number of battles and
the (half-)wins of one side, so votes are aggregated first and the fit costs nothing per vote. We add a
tiny ridge penalty ``RIDGE/2 · Σθ²`` (a N(0, 1/RIDGE) prior: σ = 1,000 in θ, ≈ 174,000 Elo points):

* it makes the optimum unique: the likelihood is unchanged by shifting every θ of a connected group of
  models, and the penalty then puts each group's mean θ at 0 (so ratings from *disconnected* comparison
  graphs are each centred on ``base``; they are not comparable with each other, only within a group);
* it keeps the rating of a model that only won (or only lost) finite: the MLE is at infinity there, and
  the penalty stops it at roughly ``θ ≈ ln(n / RIDGE)`` above its opponents (about 2,000–3,000 Elo points
  for a handful of votes). Such a rating is highest (lowest) but not meaningful; its CI says so;
* its bias elsewhere is negligible: for two models the fitted difference is within 2e-4 Elo points of
  the closed form ``ln(w_a / w_b)`` with 4 votes, 1e-5 with 45, and it shrinks as votes grow.

The solver is a damped Newton method with the exact Hessian (the problem is strictly convex), written
in numpy over a batch of data sets at once, so the 1,000 bootstrap fits run as one vectorised loop
instead of 1,000 optimiser calls. It converges to ~1e-9 in θ, far tighter than the default tolerances of
an L-BFGS fit, and needs only numpy at run time; the tests cross-check it against an unpenalised
``scipy.optimize.minimize(method="L-BFGS-B")`` fit.

Bootstrap: resampling N battles with replacement is the same as drawing the counts of each distinct
(pair, outcome) from a multinomial(N, observed frequencies), which is what we draw (as FastChat does).
Percentile intervals; each round is centred (or anchored) like the point estimate. A model absent from
a resample gets θ = 0 there (the group-mean rule above), as in FastChat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from llmatlas.arena.store import WINNERS, VoteRecord
from llmatlas.core.errors import InputError

F64 = NDArray[np.float64]
VoteLike = VoteRecord | tuple[str, str, str]

RIDGE = 1e-6
"""L2 penalty on θ (natural-log units): identifiability and finite ratings for unbeaten models."""

_MAX_ITER = 200
_STEP_TOL = 1e-10


class Rating(BaseModel):
    """One leaderboard row: the BT rating, its bootstrap CI and the vote tallies behind it."""

    model: str
    rating: float
    ci_low: float
    ci_high: float
    votes: int
    wins: int
    losses: int
    ties: int


@dataclass(frozen=True)
class _Data:
    """Votes reduced to sufficient statistics.

    ``models`` are sorted (so results never depend on vote order); ``cat_i``/``cat_j`` index the pair
    (``i < j``) of each distinct category and ``cat_score`` is i's score in it (1, 0.5 or 0);
    ``cat_count`` is how many battles fell in it.
    """

    models: list[str]
    cat_i: NDArray[np.intp]
    cat_j: NDArray[np.intp]
    cat_score: F64
    cat_count: F64
    wins: dict[str, int]
    losses: dict[str, int]
    ties: dict[str, int]


def _as_triple(v: VoteLike) -> tuple[str, str, str]:
    if isinstance(v, VoteRecord):
        return v.model_a, v.model_b, v.winner
    a, b, w = v
    return a, b, w


def _prepare(votes: Iterable[VoteLike]) -> _Data:
    triples = [_as_triple(v) for v in votes]
    for a, b, w in triples:
        if w not in WINNERS:
            raise InputError(f"winner must be one of {', '.join(WINNERS)}, got {w!r}", field="winner")
        if a == b:
            raise InputError(f"a vote between '{a}' and itself cannot be rated", field="model")
    models = sorted({m for a, b, _ in triples for m in (a, b)})
    index = {m: k for k, m in enumerate(models)}
    wins = dict.fromkeys(models, 0)
    losses = dict.fromkeys(models, 0)
    ties = dict.fromkeys(models, 0)
    cats: dict[tuple[int, int, float], int] = {}
    for a, b, w in triples:
        if w == "a":
            wins[a] += 1
            losses[b] += 1
            score_a = 1.0
        elif w == "b":
            wins[b] += 1
            losses[a] += 1
            score_a = 0.0
        else:
            ties[a] += 1
            ties[b] += 1
            score_a = 0.5
        i, j = index[a], index[b]
        key = (i, j, score_a) if i < j else (j, i, 1.0 - score_a)
        cats[key] = cats.get(key, 0) + 1
    keys = sorted(cats)
    return _Data(
        models=models,
        cat_i=np.array([k[0] for k in keys], dtype=np.intp),
        cat_j=np.array([k[1] for k in keys], dtype=np.intp),
        cat_score=np.array([k[2] for k in keys], dtype=np.float64),
        cat_count=np.array([cats[k] for k in keys], dtype=np.float64),
        wins=wins,
        losses=losses,
        ties=ties,
    )


def _sigmoids(d: F64) -> tuple[F64, F64]:
    """σ(d) and σ(−d), each accurate even where the other is within rounding of 1."""
    e = np.exp(-np.abs(d))
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    pos = d >= 0
    return np.where(pos, big, small), np.where(pos, small, big)


def _fit(incidence: F64, w: F64, n: F64, ridge: float = RIDGE) -> F64:
    """Penalised BT fit of R data sets at once; returns θ with shape (R, K).

    ``incidence`` is (P, K) with +1 at pair p's first model and −1 at its second; ``w`` and ``n`` are
    (R, P): the first model's (half-)wins and the battles in each pair. Minimises, per row,
    ``Σ_p [n·log(1 + e^d) − w·d] + ridge/2·|θ|²`` with ``d = θ_i − θ_j`` by Newton steps with Armijo
    backtracking, vectorised over rows (converged rows take ~0 steps).
    """
    rows = w.shape[0]
    k = incidence.shape[1]
    eye = np.eye(k)
    centre = _component_means(incidence, n)
    theta = np.zeros((rows, k))

    def objective(t: F64) -> F64:
        d = t @ incidence.T
        return np.asarray((n * np.logaddexp(0.0, d) - w * d).sum(axis=1) + 0.5 * ridge * (t * t).sum(axis=1))

    f = objective(theta)
    for _ in range(_MAX_ITER):
        d = theta @ incidence.T
        s_pos, s_neg = _sigmoids(d)
        grad_d = (n - w) * s_pos - w * s_neg  # = n·σ(d) − w, without cancellation when w ≈ n
        grad = grad_d @ incidence + ridge * theta
        h = n * s_pos * s_neg
        hess = (incidence.T[None, :, :] * h[:, None, :]) @ incidence + ridge * eye  # Bᵀ·diag(h)·B, on BLAS
        step = -np.linalg.solve(hess, grad[..., None])[..., 0]
        # Shifting a connected group leaves the likelihood unchanged, so that direction is set by the tiny
        # ridge alone and its step is rounding noise / ridge: judge convergence without it.
        moving = step - np.einsum("rkl,rl->rk", centre, step)
        if float(np.abs(moving).max(initial=0.0)) < _STEP_TOL:
            theta += step
            break
        decrement = -(grad * step).sum(axis=1)  # ≥ 0: the step is a descent direction
        t = np.ones(rows)
        slack = 1e-12 * (np.abs(f) + 1.0)  # near the optimum f cannot resolve the decrease: accept
        for _ in range(60):
            trial = theta + t[:, None] * step
            f_trial = objective(trial)
            ok = f_trial <= f - 1e-4 * t * decrement + slack
            if ok.all():
                break
            t = np.where(ok, t, 0.5 * t)
        theta = trial
        f = f_trial
    # The ridge optimum has mean θ = 0 in every connected group; impose it exactly.
    return np.asarray(theta - np.einsum("rkl,rl->rk", centre, theta))


def _component_means(incidence: F64, n: F64) -> F64:
    """(R, K, K) matrices that map θ to the mean θ of each model's connected group of comparisons."""
    k = incidence.shape[1]
    link = np.abs(incidence)
    reach = ((link.T[None, :, :] * (n > 0)[:, None, :]) @ link + np.eye(k) > 0).astype(np.float64)
    for _ in range(max(1, math.ceil(math.log2(max(k, 2))))):  # paths double in length each squaring
        reach = (reach @ reach > 0).astype(np.float64)
    return np.asarray(reach / reach.sum(axis=2, keepdims=True))


def _to_elo(theta: F64, models: Sequence[str], scale: float, base: float, anchor: str | None) -> F64:
    """Natural-log strengths → Elo points, centred at ``base`` (or with ``anchor`` at ``base``)."""
    ratings = theta * (scale / math.log(10.0))
    if anchor is not None:
        if anchor not in models:
            raise InputError(f"anchor model '{anchor}' has no votes", field="anchor")
        ref = ratings[..., [list(models).index(anchor)]]
    else:
        ref = ratings.mean(axis=-1, keepdims=True)
    return np.asarray(ratings - ref + base)


def _pair_stats(data: _Data, counts: F64) -> tuple[F64, F64, F64]:
    """Per-pair incidence, (half-)wins and totals from category counts of shape (R, C)."""
    pairs, pair_of_cat = np.unique(np.stack([data.cat_i, data.cat_j], axis=1), axis=0, return_inverse=True)
    pair_of_cat = pair_of_cat.reshape(-1)
    n_pairs = pairs.shape[0]
    collect = np.zeros((data.cat_i.shape[0], n_pairs))
    collect[np.arange(data.cat_i.shape[0]), pair_of_cat] = 1.0
    w = (counts * data.cat_score) @ collect
    n = counts @ collect
    incidence = np.zeros((n_pairs, len(data.models)))
    incidence[np.arange(n_pairs), pairs[:, 0]] = 1.0
    incidence[np.arange(n_pairs), pairs[:, 1]] = -1.0
    return incidence, w, n


def bradley_terry(
    votes: Iterable[VoteLike],
    *,
    scale: float = 400.0,
    base: float = 1000.0,
    anchor: str | None = None,
) -> dict[str, float]:
    """Maximum-likelihood Bradley–Terry ratings on the Elo scale, ``{model: rating}``.

    ``votes`` are ``VoteRecord``s or ``(model_a, model_b, winner)`` tuples with winner in
    ``a``/``b``/``tie``/``both_bad``. Ratings average ``base`` unless ``anchor`` names a model to pin at
    ``base``. No votes → ``{}``. See the module docstring for ties, unbeaten models and disconnected graphs.
    """
    data = _prepare(votes)
    if not data.models:
        return {}
    incidence, w, n = _pair_stats(data, data.cat_count[None, :])
    theta = _fit(incidence, w, n)
    ratings = _to_elo(theta, data.models, scale, base, anchor)[0]
    return {m: float(r) for m, r in zip(data.models, ratings, strict=True)}


def ratings_with_ci(
    votes: Iterable[VoteLike],
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    *,
    scale: float = 400.0,
    base: float = 1000.0,
    anchor: str | None = None,
) -> list[Rating]:
    """Leaderboard rows: BT point estimates with percentile bootstrap CIs, best first.

    Battles are resampled with replacement ``rounds`` times (``numpy.random.default_rng(seed)``, so the
    same votes and seed give the same intervals, whatever the order of the votes). Measured on a 2-core
    machine: 1,000 rounds over 5,000 votes among 10 models take about 0.05 s, over 50,000 votes among 40
    models about 2.5 s (all rounds are fitted together; see ``_fit``). ``rounds=0`` gives intervals equal
    to the point estimate.
    """
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be between 0 and 1, got {level}", field="level")
    if rounds < 0:
        raise InputError(f"rounds must be ≥ 0, got {rounds}", field="rounds")
    data = _prepare(votes)
    if not data.models:
        return []
    incidence, w, n = _pair_stats(data, data.cat_count[None, :])
    point = _to_elo(_fit(incidence, w, n), data.models, scale, base, anchor)[0]
    low = high = point
    if rounds > 0:
        total = int(data.cat_count.sum())
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(total, data.cat_count / total, size=rounds).astype(np.float64)
        _, w_boot, n_boot = _pair_stats(data, counts)
        boot = _to_elo(_fit(incidence, w_boot, n_boot), data.models, scale, base, anchor)
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
    rows = [
        Rating(
            model=m,
            rating=float(point[k]),
            ci_low=float(low[k]),
            ci_high=float(high[k]),
            votes=data.wins[m] + data.losses[m] + data.ties[m],
            wins=data.wins[m],
            losses=data.losses[m],
            ties=data.ties[m],
        )
        for k, m in enumerate(data.models)
    ]
    rows.sort(key=lambda r: (-r.rating, r.model))
    return rows
