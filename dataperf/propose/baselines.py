"""The baselines a test-data proposer is compared against (benchmarks, the demo).

A *method* is a callable ``(pool, test, train, k, seed) -> (k,) int64 indices`` into the pool,
where ``pool``, ``test`` and ``train`` are :class:`dataperf.signals.Signals` (``train`` may be
None). :data:`BASELINES` holds the built-in ones by name: random picks, top-k by an
uncertainty score of :mod:`dataperf.scores`, k-center away from the test set, and BADGE.
``dataperf.bench`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._validate import check_embeddings, check_probs
from dataperf.scores import bald, entropy, least_confidence, margin
from dataperf.select import badge, kcenter_greedy, random, top_k
from dataperf.signals import Signals

__all__ = ["BASELINES", "Method", "badge_embeddings"]

Method = Callable[[Signals, Signals, "Signals | None", int, int], np.ndarray]


def badge_embeddings(probs: Any, embeddings: Any) -> np.ndarray:
    """BADGE gradient embeddings: ``(probs - onehot(argmax probs))`` outer ``embeddings``.

    The gradient of the cross-entropy at the predicted label with respect to the last
    Linear layer's weights (Ash et al. 2020), flattened class-major.

    Parameters
    ----------
    probs : (N, K) float array
    embeddings : (N, D) float array
        The input of the last Linear layer.

    Returns
    -------
    (N, K * D) float32 array
        Row ``i`` is ``np.outer(probs[i] - onehot_i, embeddings[i]).ravel()``.
    """
    p = check_probs(probs, "probs")
    e = check_embeddings(embeddings, "embeddings")
    if len(p) != len(e):
        raise InputValueError(
            f"probs and embeddings must have one row per item; got {len(p)} and {len(e)} rows."
        )
    g = p.astype(np.float32).copy()
    g[np.arange(len(g)), p.argmax(1)] -= 1.0
    out = g[:, :, None] * e.astype(np.float32)[:, None, :]
    return out.reshape(len(g), -1)


def _random(pool: Signals, test: Signals, train: Signals | None, k: int, seed: int) -> np.ndarray:
    return random(len(pool), k, seed=seed)


def _scored(score: Callable[[np.ndarray], np.ndarray]) -> Method:
    name = score.__name__

    def method(pool: Signals, test: Signals, train: Signals | None, k: int, seed: int) -> Any:
        return top_k(score(pool.probs), k)

    method.__name__ = name
    method.__doc__ = f"Top-k pool items by ``dataperf.scores.{name}`` of their probs."
    return method


def _bald(pool: Signals, test: Signals, train: Signals | None, k: int, seed: int) -> np.ndarray:
    if pool.mc_probs is None:
        raise InputValueError(
            "the 'bald' baseline needs pool.mc_probs (N, T, K); got pool Signals without them. "
            "Fix: probe the pool with dataperf.probe(model, data, mc_samples=8) (the model "
            "needs dropout)."
        )
    return top_k(bald(pool.mc_probs), k)


def _needs_embeddings(signals: Signals, name: str, method: str) -> np.ndarray:
    if signals.embeddings is None:
        raise InputValueError(
            f"the {method!r} baseline needs {name}.embeddings; got Signals without them. Fix: "
            "probe with dataperf.probe (it records embeddings by default)."
        )
    return signals.embeddings


def _kcenter(pool: Signals, test: Signals, train: Signals | None, k: int, seed: int) -> np.ndarray:
    emb = _needs_embeddings(pool, "pool", "kcenter")
    ref = _needs_embeddings(test, "test", "kcenter")
    return kcenter_greedy(emb, k, reference=ref, device="cpu")


def _badge(pool: Signals, test: Signals, train: Signals | None, k: int, seed: int) -> np.ndarray:
    emb = _needs_embeddings(pool, "pool", "badge")
    return badge(badge_embeddings(pool.probs, emb), k, seed=seed)


BASELINES: dict[str, Method] = {
    "random": _random,
    "entropy": _scored(entropy),
    "margin": _scored(margin),
    "least_confidence": _scored(least_confidence),
    "bald": _bald,
    "kcenter": _kcenter,
    "badge": _badge,
}
"""Built-in baselines by name: each ``(pool, test, train, k, seed) -> (k,) indices``."""
