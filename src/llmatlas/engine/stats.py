"""Statistics on per-sample metrics: means with standard errors, paired bootstrap comparisons."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmatlas.engine.results import Metric, PairedComparison


def mean_stderr(values: Sequence[float]) -> Metric:
    """Mean and its standard error (sample std with ddof=1 over sqrt(n)), as lm-eval reports."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("no values")
    se = float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else None
    return Metric(value=float(x.mean()), stderr=se, stderr_method="sample" if se is not None else None)


def pooled_stderr(parts: Sequence[tuple[float | None, int]]) -> float | None:
    """lm-evaluation-harness's ``pooled_sample_stderr`` over (stderr, size) of a group's parts.

    sqrt(Σ (nᵢ − 1) · seᵢ² · nᵢ / (N − k) / N): the pooled within-part variance over N. A part of one
    sample adds nothing (its nᵢ − 1 is 0); None when no part has two samples.
    """
    sizes = [n for _, n in parts]
    total, k = sum(sizes), len(sizes)
    if total - k <= 0 or any(se is None and n > 1 for se, n in parts):
        return None
    var = sum((n - 1) * (se or 0.0) ** 2 * n for se, n in parts) / (total - k)
    return float(np.sqrt(var / total))


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], metric: str = "acc", resamples: int = 10_000, seed: int = 0
) -> PairedComparison:
    """Bootstrap the mean difference over the *same* items: says whether b really differs from a."""
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    if xa.shape != xb.shape or len(xa) == 0:
        raise ValueError("paired samples must be non-empty and of equal length")
    d = xb - xa
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(resamples, len(d)))
    boots = d[idx].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    # two-sided p: how often the bootstrap distribution, centred at 0, is as extreme as the observed diff
    centred = boots - d.mean()
    p = float((np.abs(centred) >= abs(d.mean())).mean())
    return PairedComparison(
        metric=metric,
        n=len(d),
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        diff=float(d.mean()),
        ci95=(float(lo), float(hi)),
        p_value=p,
        resamples=resamples,
        significant=bool(lo > 0 or hi < 0),
        wins_a=int((d < 0).sum()),
        wins_b=int((d > 0).sum()),
    )
