"""Confidence intervals shared by the reports: a proportion (Wilson) and a mean (normal)."""

from __future__ import annotations

import numpy as np

__all__ = ["Z95", "mean_interval", "wilson_interval"]

Z95 = 1.959964
"""The two-sided 95% normal quantile."""


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``successes / n`` (``n >= 1``): unlike the
    normal interval it stays inside [0, 1] and is honest for small ``n`` and proportions
    near 0 or 1."""
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(x: np.ndarray, z: float = Z95) -> tuple[float, float]:
    """The normal interval of the mean of ``x`` (sample standard deviation), clipped at 0 below
    (for non-negative quantities such as a loss)."""
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    half = z * sd / np.sqrt(len(x))
    return max(0.0, mean - half), mean + half
