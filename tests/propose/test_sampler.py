"""HardnessSampler and Proposal: components, invariants, outputs and bad input."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from dataperf import HardnessSampler, Proposal, Signals
from dataperf.propose.hard import error_probability, fit_temperature
from dataperf.propose.sampler import diverse_greedy

K, D = 4, 8


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def world(seed=0, n_pool=300, n_test=200, n_train=600):
    """Four overlapping Gaussian classes; the model's logits follow the class means (so it errs
    near the boundaries). The pool adds far-away outliers (unlabelable) and near-copies of test
    items."""
    rng = np.random.default_rng(seed)
    means = 4 + rng.normal(size=(K, D)) * 1.5  # a cone, like ReLU features

    def draw(n):
        y = rng.integers(0, K, n)
        x = means[y] + rng.normal(size=(n, D))
        logits = -((x[:, None, :] - means[None]) ** 2).sum(-1) / 2
        return x, y, _softmax(logits)

    xt, yt, pt = draw(n_test)
    xr, yr, pr = draw(n_train)
    xp, _, pp = draw(n_pool)
    kind = np.array(["clean"] * n_pool, dtype=object)
    # 20 outliers far from all data in random directions, with flat (maximally uncertain) outputs
    out = rng.normal(size=(20, D))
    xp[:20] = 40 * out / np.linalg.norm(out, axis=1, keepdims=True)
    pp[:20] = _softmax(rng.normal(size=(20, K)) * 0.01)
    kind[:20] = "outlier"
    # 20 near-copies of uncertain test items
    hard_test = np.argsort(pt.max(axis=1))[:20]
    xp[20:40] = xt[hard_test] + rng.normal(size=(20, D)) * 1e-3
    pp[20:40] = pt[hard_test]
    kind[20:40] = "copy"
    return (
        Signals(probs=pp, embeddings=xp),
        Signals(probs=pt, embeddings=xt, labels=yt),
        Signals(probs=pr, embeddings=xr, labels=yr),
        kind,
    )


@pytest.fixture(scope="module")
def signals():
    return world()


def test_proposal_avoids_outliers_and_near_copies(signals):
    pool, test, train, kind = signals
    proposal = HardnessSampler(20).propose(pool, test=test, train=train)
    assert len(proposal) == 20 and proposal.indices.dtype == np.int64
    assert len(set(proposal.indices.tolist())) == 20
    assert (kind[proposal.indices] == "clean").all()
    scores = proposal.scores
    assert scores["labelable"][kind == "outlier"].max() < 0.1
    assert np.median(scores["labelable"][kind == "clean"]) == 1.0
    assert scores["novel"][kind == "copy"].max() < 0.1
    assert np.median(scores["novel"][kind == "clean"]) == 1.0
    # entropy alone picks the outliers first (the failure mode the sampler exists to avoid)
    entropy = -(pool.probs * np.log(pool.probs)).sum(axis=1)
    assert (kind[np.argsort(-entropy)[:20]] != "clean").all()


def test_components_are_probabilities_and_total_is_their_product(signals):
    pool, test, train, _ = signals
    proposal = HardnessSampler(10, weights={"hard": 2.0, "novel": 0.0}).propose(
        pool, test=test, train=train
    )
    s = proposal.scores
    for name in ("hard", "labelable", "novel", "total"):
        assert s[name].shape == (len(pool),)
        assert ((s[name] >= 0) & (s[name] <= 1)).all()
    np.testing.assert_allclose(s["total"], s["hard"] ** 2 * s["labelable"])
    np.testing.assert_array_equal(proposal.hard, s["hard"][proposal.indices])
    np.testing.assert_array_equal(proposal.total, s["total"][proposal.indices])


def test_scores_are_permutation_equivariant_and_selection_follows(signals):
    pool, test, train, _ = signals
    perm = np.random.default_rng(1).permutation(len(pool))
    a = HardnessSampler(15).propose(pool, test=test, train=train)
    b = HardnessSampler(15).propose(pool[perm], test=test, train=train)
    for name in a.scores:
        np.testing.assert_allclose(b.scores[name], a.scores[name][perm], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(perm[b.indices], a.indices)
    np.testing.assert_array_equal(b.ids, a.ids)


def test_deterministic_for_a_seed(signals):
    pool, test, train, _ = signals
    a = HardnessSampler(15, seed=3).propose(pool, test=test, train=train)
    b = HardnessSampler(15, seed=3).propose(pool, test=test, train=train)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores["total"], b.scores["total"])


def test_diversity_zero_is_top_k_and_diversity_drops_duplicates(signals):
    pool, test, train, _ = signals
    plain = HardnessSampler(20, diversity=0).propose(pool, test=test, train=train)
    order = np.lexsort((np.arange(len(pool)), -plain.scores["total"]))
    np.testing.assert_array_equal(plain.indices, order[:20])
    # append an exact duplicate of each of the 10 best candidates
    top = plain.indices[:10]
    copies = dataclasses.replace(pool[top], ids=np.arange(len(pool), len(pool) + 10))
    doubled = Signals.concat([pool, copies])
    plain2 = HardnessSampler(20, diversity=0).propose(doubled, test=test, train=train)
    assert len(set(plain2.indices) & set(range(len(pool), len(pool) + 10))) == 10
    spread = HardnessSampler(20).propose(doubled, test=test, train=train)
    emb = doubled.embeddings[spread.indices]
    assert len(np.unique(emb, axis=0)) == 20  # no two proposals are the same point


def brute_force_diverse_greedy(x, value, k, radius):
    picked = []
    factor = np.ones(len(value))
    for _ in range(k):
        score = value * factor
        score[picked] = -1
        i = int(np.argmax(score))  # lowest index among ties
        picked.append(i)
        dist = np.sqrt(((x - x[i]) ** 2).sum(axis=1))
        factor = np.minimum(factor, dist / radius)
    return np.array(picked)


@pytest.mark.parametrize("seed", range(5))
def test_lazy_diverse_greedy_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 5))
    value = rng.random(200)
    for radius in (0.5, 2.0, 10.0):
        np.testing.assert_array_equal(
            diverse_greedy(x.__getitem__, value, 30, radius),
            brute_force_diverse_greedy(x, value, 30, radius),
        )


def test_temperature_scaling_and_error_probability():
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, 2000)
    logits = rng.normal(size=(2000, K))
    logits[np.arange(2000), y] += 1.0
    calibrated = _softmax(logits)
    over_confident = _softmax(logits * 3)
    t = fit_temperature(over_confident, y)
    assert 2.4 < t < 3.6  # undoes the factor of 3
    np.testing.assert_allclose(
        error_probability(over_confident, temperature=t), 1 - _softmax(logits * 3 / t).max(1)
    )
    np.testing.assert_allclose(
        error_probability(calibrated, labels=y), 1 - calibrated[range(2000), y]
    )


def test_pool_labels_make_hardness_label_based(signals):
    pool, test, train, _ = signals
    y = np.random.default_rng(0).integers(0, K, len(pool))
    labelled = Signals(probs=pool.probs, embeddings=pool.embeddings, labels=y)
    p = HardnessSampler(5).propose(labelled, test=test, train=train)
    t = p.settings["temperature"]
    z = np.log(np.clip(pool.probs, 1e-12, 1)) / t
    expected = 1 - _softmax(z)[np.arange(len(pool)), y]
    np.testing.assert_allclose(p.scores["hard"], expected)
    assert p.settings["used"]["pool_labels"]


def test_mc_dropout_ambiguity_lowers_labelability(signals):
    pool, test, train, _ = signals
    n = len(pool)
    rng = np.random.default_rng(0)
    # samples that disagree (epistemic) for most items; that agree on a flat output for 30
    mc = _softmax(rng.normal(size=(n, 6, K)) * 2)
    mc[40:70] = 1.0 / K
    with_mc = Signals(probs=pool.probs, embeddings=pool.embeddings, mc_probs=mc)
    p = HardnessSampler(10).propose(with_mc, test=test, train=train)
    assert p.details["unambiguous"][40:70].max() < 0.05
    assert np.median(p.details["unambiguous"][70:]) == 1.0


def test_works_without_test_or_train(signals):
    pool, test, _, kind = signals
    alone = HardnessSampler(10).propose(pool)  # typicality judged within the pool
    assert "test_distance" not in alone.details and (alone.scores["novel"] == 1).all()
    only_test = HardnessSampler(10).propose(pool, test=test)
    assert (kind[only_test.indices] == "clean").all()


def test_tiny_inputs_work():
    one = Signals(probs=np.array([[0.6, 0.4]]), embeddings=np.array([[1.0, 2.0]]), labels=[0])
    two = Signals(probs=np.array([[0.6, 0.4], [0.5, 0.5]]), embeddings=np.eye(2) + 1)
    for pool, test, train in [
        (one, None, None),
        (two, one, None),
        (two, None, one),
        (one, one, one),
    ]:
        proposal = HardnessSampler(1).propose(pool, test=test, train=train)
        assert len(proposal) == 1 and np.isfinite(proposal.scores["total"]).all()
        assert proposal.explain(0).endswith(".")


def test_user_labelability_array_and_callable(signals):
    pool, test, train, _ = signals
    cost = np.ones(len(pool))
    cost[100:] = 0.0  # only the first 100 are affordable to label
    p = HardnessSampler(10, labelability=cost).propose(pool, test=test, train=train)
    assert (p.indices < 100).all() and p.settings["used"]["user_labelability"]
    seen = {}

    def mine(pool_, *, test, train):
        seen.update(test=test, train=train)
        return cost

    q = HardnessSampler(10, labelability=mine).propose(pool, test=test, train=train)
    np.testing.assert_array_equal(p.indices, q.indices)
    assert seen["test"] is test and seen["train"] is train


def test_explain_records_files_and_contact_sheet(signals, tmp_path):
    pool, test, train, _ = signals
    named = Signals(
        probs=pool.probs,
        embeddings=pool.embeddings,
        ids=np.array([f"img/{i}.png" for i in range(len(pool))]),
        meta={"classes": ["cat", "dog", "bird", "fish"]},
    )
    p = HardnessSampler(12).propose(named, test=test, train=train)
    sentence = p.explain(0)
    assert sentence.startswith("#1 (pool item img/") and sentence.endswith(".")
    assert "chance it is wrong" in sentence
    assert any(f"predicts '{c}'" in sentence for c in ("cat", "dog", "bird", "fish"))
    assert p.explain(-1).startswith("#12 ")
    with pytest.raises(IndexError, match=r"rank must be an int in \[0, 12\)"):
        p.explain(12)
    rows = [json.loads(line) for line in p.to_jsonl(tmp_path / "p.jsonl").open()]
    assert [r["rank"] for r in rows] == list(range(1, 13))
    assert rows[0]["id"] == str(p.ids[0]) and rows[0]["index"] == int(p.indices[0])
    assert rows[0]["prediction"] in ("cat", "dog", "bird", "fish")
    with p.to_csv(tmp_path / "p.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 12 and float(table[0]["total"]) == pytest.approx(rows[0]["total"])
    images = np.random.default_rng(0).integers(0, 255, (len(pool), 28, 28), dtype=np.uint8)
    from PIL import Image

    with Image.open(p.contact_sheet(images, tmp_path / "sheet.png", columns=5)) as sheet:
        assert sheet.size[0] > sheet.size[1]  # 3 rows of 5
    path = tmp_path / "one.png"
    Image.fromarray(images[0]).save(path)
    items = [(str(path), 0)] * len(pool)
    assert p.contact_sheet(items, tmp_path / "sheet2.png").is_file()


def bad(pool, test, train):
    two = Signals(probs=np.full((5, 2), 0.5), embeddings=np.ones((5, D)))
    wide = Signals(probs=test.probs, embeddings=np.ones((len(test), D + 1)))
    no_emb = Signals(probs=test.probs, labels=test.labels)
    return [
        (dict(k=0), {}, ValueError, "k must be a positive int"),
        (dict(k=1000), {}, ValueError, r"number of pool items \(300\); got 1000"),
        (dict(k=5, weights={"hardness": 1}), {}, ValueError, "unknown component"),
        (dict(k=5, weights={"hard": -1}), {}, ValueError, "finite number >= 0"),
        (dict(k=5, diversity=-1), {}, ValueError, "diversity must be a finite number >= 0"),
        (dict(k=5, metric="manhattan"), {}, ValueError, "metric must be"),
        (dict(k=5), dict(pool=pool.probs), TypeError, "pool must be a dataperf Signals"),
        (dict(k=5), dict(test=two), ValueError, "test has K=2 classes but the pool has K=4"),
        (dict(k=5), dict(train=wide), ValueError, "train embeddings have D=9"),
        (dict(k=5), dict(test=no_emb), ValueError, "test has no embeddings"),
        (dict(k=5, labelability=np.ones(3)), {}, ValueError, r"\(N,\) = \(300,\) array"),
        (dict(k=5, labelability=np.full(300, 2.0)), {}, ValueError, r"must lie in \[0, 1\]"),
    ]


def test_bad_input_is_a_clear_error(signals):
    pool, test, train, _ = signals
    for init, override, error, match in bad(pool, test, train):
        args = {"pool": pool, "test": test, "train": train, **override}
        with pytest.raises(error, match=match):
            HardnessSampler(**init).propose(args.pop("pool"), **args)


def test_empty_pool_and_bad_probs_are_rejected_by_signals():
    with pytest.raises(ValueError, match="empty"):
        HardnessSampler(1).propose(Signals(probs=np.zeros((0, 3)), embeddings=np.zeros((0, 2))))
    with pytest.raises(ValueError, match="sum to 1"):
        Signals(probs=np.full((3, 2), 0.7), embeddings=np.ones((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        Signals(probs=np.array([[np.nan, 1.0]]), embeddings=np.ones((1, 2)))


def test_proposal_is_exported():
    assert Proposal.__module__ == "dataperf.propose.proposal"
