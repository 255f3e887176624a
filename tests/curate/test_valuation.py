"""Tests for dataperf.curate.valuation: exact KNN-Shapley against brute force, axioms, planted
label errors, bad input, and the CPU/CUDA paths."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest
import torch

from dataperf.curate.valuation import METHODS, data_values
from dataperf.signals import Signals


def _utility(subset: frozenset[int], xt, yt, xv, yv, k: int) -> float:  # noqa: ANN001
    """Jia et al. (2019) KNN utility: mean over validation points of (1/K) * #correct among the
    min(K, |S|) nearest points of S; U(empty) = 0."""
    if not subset:
        return 0.0
    s = np.array(sorted(subset))
    total = 0.0
    for x, y in zip(xv, yv):
        d = ((xt[s] - x) ** 2).sum(1)
        nearest = s[np.argsort(d, kind="stable")][: min(k, len(s))]
        total += (yt[nearest] == y).sum() / k
    return total / len(xv)


def _brute_shapley(xt, yt, xv, yv, k: int) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """Exact Shapley values by averaging marginal contributions over ALL permutations."""
    n = len(xt)

    @cache
    def u(subset: frozenset[int]) -> float:
        return _utility(subset, xt, yt, xv, yv, k)

    phi = np.zeros(n)
    perms = list(itertools.permutations(range(n)))
    for perm in perms:
        seen: frozenset[int] = frozenset()
        for i in perm:
            grown = seen | {i}
            phi[i] += u(grown) - u(seen)
            seen = grown
    return phi / len(perms), u(frozenset(range(n)))


def _tiny(seed: int, n: int, m: int = 4, d: int = 3, classes: int = 2):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, d)),
        rng.integers(0, classes, n),
        rng.normal(size=(m, d)),
        rng.integers(0, classes, m),
    )


@pytest.mark.parametrize(
    ("seed", "n", "k"), [(0, 4, 1), (1, 5, 2), (2, 6, 3), (3, 7, 1), (4, 7, 2), (5, 7, 3)]
)
def test_knn_shapley_equals_brute_force_over_all_permutations(seed: int, n: int, k: int) -> None:
    xt, yt, xv, yv = _tiny(seed, n, classes=2 + seed % 2)
    expected, u_all = _brute_shapley(xt, yt, xv, yv, k)
    got = data_values((xt, yt), (xv, yv), k=k, device="cpu")
    assert got.shape == (n,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got.sum() == pytest.approx(u_all, abs=1e-12)  # efficiency: U(all) - U(empty)


def test_symmetry_and_null_player() -> None:
    rng = np.random.default_rng(7)
    xv = rng.normal(size=(3, 2))
    yv = np.array([0, 1, 0])
    base = rng.normal(size=(4, 2)) * 3
    # points 0 and 1 are duplicates with the same label: equal values (symmetry), and a point of
    # a label no validation point has, farther than everything: never helps (value 0)
    xt = np.vstack([base[0], base[0], base[1:], [[100.0, 100.0]]])
    yt = np.array([0, 0, 1, 0, 1, 5])
    got = data_values((xt, yt), (xv, yv), k=2, device="cpu")
    assert got[0] == pytest.approx(got[1], abs=1e-15)
    assert got[-1] == pytest.approx(0.0, abs=1e-15)
    expected, _ = _brute_shapley(xt, yt, xv, yv, 2)
    # duplicates are distance ties: both conventions give the same symmetric value
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_permutation_equivariance() -> None:
    rng = np.random.default_rng(3)
    xt, yt = rng.normal(size=(300, 8)), rng.integers(0, 3, 300)
    xv, yv = rng.normal(size=(40, 8)), rng.integers(0, 3, 40)
    values = data_values((xt, yt), (xv, yv), k=5, device="cpu")
    p = rng.permutation(300)
    q = rng.permutation(40)
    permuted = data_values((xt[p], yt[p]), (xv[q], yv[q]), k=5, device="cpu")
    np.testing.assert_allclose(permuted, values[p], atol=1e-12)


def _numpy_reference(xt, yt, xv, yv, k: int) -> np.ndarray:  # noqa: ANN001
    """Plain float64 NumPy, the paper's recursion written as a loop from the farthest point."""
    n = len(xt)
    out = np.zeros(n)
    for x, y in zip(xv, yv):
        order = np.argsort(((xt - x) ** 2).sum(1), kind="stable")
        match = (yt[order] == y).astype(np.float64)
        s = np.empty(n)
        s[n - 1] = match[n - 1] / n
        for i in range(n - 2, -1, -1):  # 0-based i is rank i + 1
            s[i] = s[i + 1] + (match[i] - match[i + 1]) / k * min(k, i + 1) / (i + 1)
        out[order] += s
    return out / len(xv)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_cpu_matches_float64_numpy_reference(batch_size: int | None) -> None:
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(4, 16)) * 2
    yt, yv = rng.integers(0, 4, 400), rng.integers(0, 4, 60)
    xt = (centres[yt] + rng.normal(size=(400, 16))).astype(np.float32)
    xv = (centres[yv] + rng.normal(size=(60, 16))).astype(np.float32)
    expected = _numpy_reference(xt.astype(np.float64), yt, xv.astype(np.float64), yv, 10)
    got = data_values((xt, yt), (xv, yv), k=10, batch_size=batch_size, device="cpu")
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_signals_input_and_planted_label_errors_rank_lowest() -> None:
    from dataperf.datasets import load_digits

    images, labels = load_digits()
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train_i, valid_i = order[:1200], order[1200:]
    noisy = labels[train_i].copy()
    flipped = rng.choice(len(train_i), 40, replace=False)
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, 40)) % 10

    def signals(idx: np.ndarray, y: np.ndarray) -> Signals:
        return Signals(probs=np.full((len(idx), 10), 0.1), embeddings=x[idx], labels=y)

    train = signals(train_i, noisy)
    valid = signals(valid_i, labels[valid_i])
    for method in METHODS:
        values = data_values(train, valid, method=method, k=5, device="cpu")
        bottom = set(np.argsort(values, kind="stable")[:40].tolist())
        precision = len(bottom & set(flipped.tolist())) / 40
        # the proxy's values are multiples of 1/k, so ties blur its bottom-40 a little
        assert precision >= (0.9 if method == "knn_shapley" else 0.75), (method, precision)
        assert values[flipped].mean() < 0 < np.delete(values, flipped).mean()


def test_loss_proxy_definition() -> None:
    xt = np.array([[0.0], [10.0]])
    yt = np.array([0, 1])
    xv = np.array([[0.1], [0.2], [9.9], [30.0]])
    yv = np.array([0, 1, 1, 0])
    got = data_values((xt, yt), (xv, yv), method="loss_proxy", k=2)
    # point 0: nearest validation labels 0, 1 -> (1 - 1) / 2; point 1: 1 (9.9) and 1 (0.2)
    np.testing.assert_allclose(got, [0.0, 1.0])


def test_bad_input() -> None:
    rng = np.random.default_rng(0)
    xt, yt = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    xv, yv = rng.normal(size=(4, 3)), rng.integers(0, 2, 4)
    probs = np.full((10, 2), 0.5)
    with pytest.raises(ValueError, match="labels is None"):
        data_values(Signals(probs=probs, embeddings=xt), (xv, yv))
    with pytest.raises(ValueError, match="embeddings is None"):
        data_values(Signals(probs=probs, labels=yt), (xv, yv))
    with pytest.raises(ValueError, match="one entry per example"):
        data_values((xt, yt[:9]), (xv, yv))
    with pytest.raises(ValueError, match="D = 3"):
        data_values((xt, yt), (xv[:, :2], yv))
    with pytest.raises(TypeError, match="integer"):
        data_values((xt, yt.astype(float)), (xv, yv))
    with pytest.raises(TypeError, match="Signals"):
        data_values(xt, (xv, yv))
    for k in (0, 11):
        with pytest.raises(ValueError, match="between 1 and the number of training points"):
            data_values((xt, yt), (xv, yv), k=k)
    with pytest.raises(ValueError, match="validation points"):
        data_values((xt, yt), (xv, yv), method="loss_proxy", k=5)
    with pytest.raises(ValueError, match="knn_shapley"):
        data_values((xt, yt), (xv, yv), method="tmc_shapley")
    with pytest.raises(ValueError, match="batch_size"):
        data_values((xt, yt), (xv, yv), k=2, batch_size=0)
    with pytest.raises(ValueError, match="finite"):
        data_values((np.where(xt > 1, np.nan, xt), yt), (xv, yv), k=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(5, 32)) * 2
    yt, yv = rng.integers(0, 5, 3000), rng.integers(0, 5, 200)
    xt = (centres[yt] + rng.normal(size=(3000, 32))).astype(np.float32)
    xv = (centres[yv] + rng.normal(size=(200, 32))).astype(np.float32)
    cpu = data_values((xt, yt), (xv, yv), k=10, device="cpu")
    gpu = data_values((xt, yt), (xv, yv), k=10, device="cuda", batch_size=64)
    # float32 distances on the GPU may order near-ties differently: values agree closely
    assert np.corrcoef(cpu, gpu)[0, 1] > 0.9999
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)
    assert gpu.sum() == pytest.approx(cpu.sum(), abs=1e-9)
