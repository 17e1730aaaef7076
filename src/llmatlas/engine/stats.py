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


Z95 = 1.959963984540054  # two-sided 95% normal quantile
PROPORTIONS = ("acc", "exact_match", "pass@")  # metrics that are a share of items


def interval95(name: str, m: Metric) -> tuple[float, float] | None:
    """A metric's 95% interval: its own (a bootstrap's) where it has one, else value ± 1.96 stderr,
    kept inside [0, 1] for a share of items (an accuracy of 0.25 on 4 items is not −0.24 to 0.74)."""
    if m.ci95 is not None:
        return m.ci95
    if m.stderr is None or not np.isfinite(m.stderr):
        return None
    lo, hi = m.value - Z95 * m.stderr, m.value + Z95 * m.stderr
    if name.startswith(PROPORTIONS):
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return (lo, hi)


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
