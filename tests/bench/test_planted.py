"""Planted benchmark pools, baselines and the small CNN trainer (dataperf.bench)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataperf.bench import (
    BASELINES,
    KINDS,
    ImageArray,
    PlantedPool,
    SmallCNN,
    badge_embeddings,
    evaluate,
    format_table,
    make_planted_pool,
    precision_at_k,
    train_classifier,
    upscale,
    useful_mask,
)
from dataperf.datasets import load_digits
from dataperf.signals import Signals


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _pool(digits, seed=0, **kw):
    x, y = digits
    counts = dict(n_clean=60, n_blend=20, n_noise=15, n_ood=10, n_copy=25)
    counts.update(kw)
    ood = np.random.default_rng(9).integers(0, 256, size=(30, 8, 8), dtype=np.uint8)
    return make_planted_pool(
        x[:500], y[:500], x[1500:], test_labels=y[1500:], ood_images=ood, seed=seed, **counts
    )


# ------------------------------------------------------------------------------ pool content


def test_pool_composition_and_labels(digits):
    pool = _pool(digits)
    assert isinstance(pool, PlantedPool)
    assert len(pool) == 130
    assert pool.counts() == {
        "clean": 60, "blend": 20, "noise": 15, "ood": 10, "copy": 25, "mosaic": 0, "blur": 0,
        "crop": 0,
    }  # fmt: skip
    assert set(pool.kind) <= set(KINDS)
    assert pool.images.dtype == np.uint8 and pool.images.shape == (130, 8, 8)
    assert pool.labels.dtype == np.int64 and pool.source.dtype == np.int64
    unlabelable = np.isin(pool.kind, ["blend", "noise", "ood"])
    assert (pool.labels[unlabelable] == -1).all()
    assert (pool.labels[~unlabelable] >= 0).all()
    assert (pool.source[pool.kind == "noise"] == -1).all()
    x, y = digits
    clean = pool.kind == "clean"
    np.testing.assert_array_equal(pool.images[clean], x[:500][pool.source[clean]])
    np.testing.assert_array_equal(pool.labels[clean], y[:500][pool.source[clean]])
    assert len(np.unique(pool.source[clean])) == 60  # distinct clean items
    copy = pool.kind == "copy"
    np.testing.assert_array_equal(pool.labels[copy], y[1500:][pool.source[copy]])
    # shuffled: the kinds are not in blocks
    assert not (pool.kind[:60] == "clean").all()


def test_pool_is_deterministic_and_seed_dependent(digits):
    a, b, c = _pool(digits, seed=3), _pool(digits, seed=3), _pool(digits, seed=4)
    for field in ("images", "labels", "kind", "source"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.images, c.images)
    assert not np.array_equal(a.kind, c.kind)


def test_blends_mix_two_different_classes(digits):
    x, y = digits
    pool = make_planted_pool(
        x[:500], y[:500], x[1500:], n_clean=0, n_blend=40, n_noise=0, n_ood=0, n_copy=0, seed=1
    )
    xs, ys = x[:500].astype(np.float64), y[:500]
    for img, a in zip(pool.images.astype(np.float64), pool.source):
        # recover the partner: the item b of another class with img ~ alpha x_a + (1-alpha) x_b
        best = np.inf
        for b in np.flatnonzero(ys != ys[a]):
            d = img - xs[b]
            base = xs[a] - xs[b]
            alpha = float(np.clip((d * base).sum() / max((base * base).sum(), 1e-9), 0, 1))
            err = np.abs(d - alpha * base).max()
            if err < best:
                best, best_alpha = err, alpha
        assert best <= 1.0  # rounding only
        assert 0.35 - 0.02 <= best_alpha <= 0.65 + 0.02


_SHIFTS = [(0, 1), (0, -1), (1, 0), (-1, 0)]


def test_copies_are_close_to_their_test_item(digits):
    x, y = digits
    test = x[1500:]
    pool = make_planted_pool(
        x[:500], y[:500], test, n_clean=0, n_blend=0, n_noise=0, n_ood=0, n_copy=30, seed=2
    )
    assert (pool.labels == -1).all()  # no test_labels given
    residuals = []
    for img, j in zip(pool.images.astype(np.float64), pool.source):
        padded = np.pad(test[j].astype(np.float64), 1, mode="edge")
        shifted = [padded[1 + dy : 9 + dy, 1 + dx : 9 + dx] for dy, dx in _SHIFTS]
        residuals.append(min(np.abs(img - s).mean() for s in shifted))
    # a 1-pixel shift (edge filled) plus sigma-4 noise: mean |noise| ~ 3.2
    assert max(residuals) < 5.0


def test_noise_items_differ(digits):
    pool = _pool(digits, n_clean=0, n_blend=0, n_ood=0, n_copy=0, n_noise=20)
    flat = pool.images.reshape(20, -1).astype(np.float64)
    assert len(np.unique(flat, axis=0)) == 20
    assert flat.std(axis=1).min() > 1.0


def test_pool_argument_errors(digits):
    x, y = digits
    with pytest.raises(ValueError, match="ood_images"):
        make_planted_pool(x[:100], y[:100], x[1500:], n_clean=10, n_ood=5)
    with pytest.raises(ValueError, match="n_clean must be <="):
        make_planted_pool(x[:100], y[:100], x[1500:], n_clean=101, n_ood=0)
    with pytest.raises(TypeError, match="uint8"):
        make_planted_pool(x[:100] / 255.0, y[:100], x[1500:], n_ood=0)
    with pytest.raises(ValueError, match="same image size"):
        make_planted_pool(x[:100], y[:100], upscale(x[1500:1510], 16), n_ood=0, n_clean=10)
    with pytest.raises(ValueError, match="different classes"):
        make_planted_pool(x[:100], np.zeros(100, np.int64), x[1500:], n_ood=0, n_clean=10)


def test_upscale():
    img = np.arange(64, dtype=np.uint8).reshape(1, 8, 8) * 4
    out = upscale(img, 28)
    assert out.shape == (1, 28, 28) and out.dtype == np.uint8
    assert out.min() >= img.min() and out.max() <= img.max()
    raw = np.full((2, 8, 8), 16.0)
    assert (upscale(raw, 4) == 255).all()


# ------------------------------------------------------------------------------ metrics


def test_useful_mask_and_precision():
    pool = PlantedPool(
        images=np.zeros((5, 2, 2), np.uint8),
        labels=np.array([1, 2, -1, 3, 0]),
        kind=np.array(["clean", "clean", "blend", "copy", "clean"]),
        source=np.arange(5),
    )
    pred = np.array([0, 2, 1, 0, 1])
    np.testing.assert_array_equal(useful_mask(pool, pred), [True, False, False, False, True])
    useful = useful_mask(pool, pred)
    assert precision_at_k(np.array([0, 4]), useful) == 1.0
    assert precision_at_k(np.array([0, 1, 2, 3]), useful) == 0.25
    with pytest.raises(ValueError, match="distinct"):
        precision_at_k(np.array([0, 0]), useful)
    with pytest.raises(ValueError, match="one class per pool item"):
        useful_mask(pool, pred[:3])


# ------------------------------------------------------------------------------ baselines


def test_badge_embeddings_match_manual():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=6)
    emb = rng.normal(size=(6, 3)).astype(np.float32)
    g = badge_embeddings(probs, emb)
    assert g.shape == (6, 12) and g.dtype == np.float32
    for i in range(6):
        onehot = np.eye(4)[probs[i].argmax()]
        np.testing.assert_allclose(g[i], np.outer(probs[i] - onehot, emb[i]).ravel(), rtol=1e-5)


def _signals(n, k=5, d=6, t=3, seed=0, mc=True, labels=False):
    rng = np.random.default_rng(seed)
    return Signals(
        probs=rng.dirichlet(np.ones(k), size=n),
        embeddings=rng.normal(size=(n, d)).astype(np.float32),
        mc_probs=rng.dirichlet(np.ones(k), size=(n, t)) if mc else None,
        labels=rng.integers(0, k, n) if labels else None,
    )


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_return_k_distinct_indices(name):
    pool, test = _signals(80), _signals(30, seed=1, labels=True)
    idx = BASELINES[name](pool, test, None, 12, 0)
    assert isinstance(idx, np.ndarray) and idx.dtype == np.int64 and idx.shape == (12,)
    assert len(np.unique(idx)) == 12 and idx.min() >= 0 and idx.max() < 80


def test_bald_without_mc_probs_is_a_clear_error():
    with pytest.raises(ValueError, match="mc_samples"):
        BASELINES["bald"](_signals(20, mc=False), _signals(5, seed=1), None, 3, 0)


def test_evaluate_and_format_table():
    pool, test = _signals(50), _signals(10, seed=1)
    useful = np.zeros(50, bool)
    useful[:10] = True

    def first_ten(pool, test, train, k, seed):
        return np.arange(k, dtype=np.int64)

    res = evaluate(
        {"oracle": first_ten, "random": BASELINES["random"]}, pool, test, None, useful, 10
    )
    assert res["oracle"] == [1.0, 1.0, 1.0]
    assert len(res["random"]) == 3 and len(set(res["random"])) > 1
    table = format_table(res, k=10)
    assert "| oracle | 1.000 | 1.000 | 1.000 |" in table
    assert table.splitlines()[0].startswith("| method | mean precision@10")

    def bad(pool, test, train, k, seed):
        return np.zeros(k, dtype=np.int64)

    with pytest.raises(ValueError, match="distinct"):
        evaluate({"bad": bad}, pool, test, None, useful, 5)


# ------------------------------------------------------------------------------ model, training


@pytest.mark.parametrize("size", [8, 28])
def test_small_cnn_shapes(size):
    model = SmallCNN(num_classes=7, image_size=size, width=8)
    out = model(torch.zeros(3, 1, size, size))
    assert out.shape == (3, 7)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[-1].in_features == 128
    with pytest.raises(ValueError, match="image_size"):
        model(torch.zeros(3, 1, size + 1, size + 1))


def test_image_array():
    ds = ImageArray(np.full((4, 5, 6), 255, np.uint8), np.arange(4))
    x, y = ds[2]
    assert x.shape == (1, 5, 6) and x.dtype == torch.float32 and float(x.max()) == 1.0 and y == 2
    rgb = ImageArray(np.full((2, 5, 6, 3), 8.0), scale=16)
    assert rgb[0].shape == (3, 5, 6) and float(rgb[0].max()) == 0.5
    with pytest.raises(ValueError, match="explicit scale"):
        ImageArray(np.zeros((2, 4, 4)))


def test_train_classifier_deterministic_and_rng_neutral(digits):
    x, y = digits
    model = SmallCNN(image_size=8, width=8)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = train_classifier(model, x[:200], y[:200], epochs=1, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = train_classifier(SmallCNN(image_size=8, width=8), x[:200], y[:200], epochs=1, seed=5)
    c = train_classifier(SmallCNN(image_size=8, width=8), x[:200], y[:200], epochs=1, seed=6)
    assert not a.training
    for (_, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_trained_model_learns_digits(digits):
    x, y = digits
    model = train_classifier(SmallCNN(image_size=8, width=16), x[:1000], y[:1000], epochs=10)
    with torch.no_grad():
        pred = model(torch.from_numpy(x[1000:] / 255.0).float().unsqueeze(1)).argmax(1).numpy()
    assert (pred == y[1000:]).mean() > 0.8


def test_optional_unlabelable_kinds(digits):
    images, labels = digits
    pool = make_planted_pool(
        images[:300], labels[:300], images[300:400], n_clean=10, n_blend=0, n_noise=0, n_ood=0,
        n_copy=0, n_mosaic=5, n_blur=6, n_crop=7, seed=0,
    )  # fmt: skip
    assert pool.counts()["mosaic"] == 5 and pool.counts()["blur"] == 6
    assert pool.counts()["crop"] == 7
    assert (pool.labels[pool.kind != "clean"] == -1).all()
    src = images[:300]
    for i in np.flatnonzero(pool.kind == "mosaic"):  # top-left quadrant from the source item
        np.testing.assert_array_equal(pool.images[i][:4, :4], src[pool.source[i]][:4, :4])
    for i in np.flatnonzero(pool.kind == "blur"):  # blurring lowers the contrast
        assert pool.images[i].astype(float).std() < src[pool.source[i]].astype(float).std()
