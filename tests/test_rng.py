"""Item-keyed randomness: ``item_rng``, ``item_seed``, the per-item key helper, ``check_seed``."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from dataperf._rng import check_seed, item_rng, item_seed

KEYS = [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0), (7, 3, 11), (2**40, 2**33, 10**9)]


def draws(rng: np.random.Generator, n: int = 8) -> np.ndarray:
    return rng.integers(0, 2**62, size=n)


def numpy_state_equal(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("key", KEYS)
def test_item_rng_is_deterministic_and_fresh(key):
    first, second = item_rng(*key), item_rng(*key)
    assert first is not second
    np.testing.assert_array_equal(draws(first), draws(second))
    # Drawing from one generator does not advance a later one for the same key.
    np.testing.assert_array_equal(draws(item_rng(*key), 16)[:8], draws(item_rng(*key)))


@pytest.mark.parametrize("key", KEYS)
def test_item_seed_is_deterministic_63_bit_int(key):
    seed = item_seed(*key)
    assert type(seed) is int
    assert 0 <= seed < 2**63
    assert item_seed(*key) == seed


def test_item_seed_accepts_every_api_that_takes_a_seed():
    import torch

    seed = max(item_seed(0, 0, i) for i in range(64))  # one with a high top bit, likely
    torch.Generator().manual_seed(seed)
    random.Random(seed)
    np.random.RandomState(seed % 2**32)


def test_keys_are_distinct_across_seed_epoch_and_index():
    keys = list(itertools.product(range(6), range(6), range(6)))
    assert len({item_seed(*k) for k in keys}) == len(keys)
    assert len({tuple(draws(item_rng(*k), 2)) for k in keys}) == len(keys)


def test_many_indices_give_distinct_seeds():
    assert len({item_seed(0, 0, i) for i in range(20_000)}) == 20_000


@pytest.mark.parametrize(
    ("a", "b"),
    [((0, 0, 0), (1, 0, 0)), ((0, 0, 0), (0, 1, 0)), ((0, 0, 0), (0, 0, 1))],
    ids=["seed", "epoch", "index"],
)
def test_each_component_changes_the_draws(a, b):
    assert item_seed(*a) != item_seed(*b)
    assert not np.array_equal(draws(item_rng(*a)), draws(item_rng(*b)))


def test_components_are_not_interchangeable():
    # (seed, epoch, index) is an ordered key: moving a value to another part gives other draws.
    assert item_seed(1, 2, 3) != item_seed(3, 2, 1)
    assert item_seed(1, 2, 3) != item_seed(2, 1, 3)
    assert item_seed(0, 0, 5) != item_seed(0, 5, 0)
    assert item_seed(0, 5, 0) != item_seed(5, 0, 0)


def test_item_rng_draws_look_uniform():
    # A weak sanity check of the generator expansion: nearby keys give unrelated, uniform draws.
    firsts = np.array([item_rng(0, 0, i).random() for i in range(2000)])
    assert 0.45 < firsts.mean() < 0.55
    assert abs(np.corrcoef(firsts[:-1], firsts[1:])[0, 1]) < 0.1


@pytest.mark.parametrize("key", KEYS)
def test_shared_key_matches_item_rng_and_item_seed(key):
    from dataperf._rng import shared_key  # the hot-path helper of the backends

    rng, py_random, seed = shared_key(*key)
    assert seed == item_seed(*key)
    np.testing.assert_array_equal(draws(rng), draws(item_rng(*key)))
    assert [py_random.random() for _ in range(4)] == _python_draws(item_seed(*key))


def _python_draws(seed: int, n: int = 4) -> list[float]:
    ref = random.Random(seed)
    return [ref.random() for _ in range(n)]


def test_shared_key_is_reseeded_on_every_call():
    from dataperf._rng import shared_key

    rng, _, _ = shared_key(3, 1, 4)
    draws(rng, 5)  # consume part of the stream
    rng, py_random, seed = shared_key(3, 1, 4)
    np.testing.assert_array_equal(draws(rng), draws(item_rng(3, 1, 4)))
    assert py_random.random() == _python_draws(seed)[0]


def test_rng_helpers_do_not_touch_global_state():
    from dataperf._rng import shared_key

    np_before, py_before = np.random.get_state(), random.getstate()  # noqa: NPY002
    draws(item_rng(0, 0, 0))
    item_seed(0, 0, 0)
    rng, py_random, _ = shared_key(0, 0, 0)
    draws(rng)
    py_random.random()
    assert numpy_state_equal(np_before, np.random.get_state())  # noqa: NPY002
    assert random.getstate() == py_before


@pytest.mark.parametrize("value", [0, 1, 2**63, 2**64 - 1, np.int64(5), np.uint8(3)])
def test_check_seed_accepts_non_negative_integers(value):
    out = check_seed(value)
    assert type(out) is int
    assert out == int(value)


@pytest.mark.parametrize("value", [-1, -(2**70)])
def test_check_seed_rejects_negative(value):
    with pytest.raises(ValueError, match=rf"seed must be .*got {value}\b.*non-negative"):
        check_seed(value)


def test_check_seed_rejects_too_large():
    with pytest.raises(
        ValueError, match=r"seed must be in \[0, 2\*\*64\); got 18446744073709551616"
    ):
        check_seed(2**64)


def test_check_seed_uses_the_given_name():
    with pytest.raises(ValueError, match=r"^epoch must be .*got -3"):
        check_seed(-3, "epoch")
    with pytest.raises(TypeError, match=r"^epoch must be a non-negative int.*epoch=0"):
        check_seed(1.0, "epoch")


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "bool True"), (False, "bool False"), (1.5, "float 1.5"), (2.0, "float 2.0"),
     ("3", "str '3'"), (None, "NoneType None"), (np.float64(1.0), "float64")],
)  # fmt: skip
def test_check_seed_rejects_non_integers(value, shown):
    with pytest.raises(TypeError, match=rf"^seed must be a non-negative int; got {shown}.*seed=0"):
        check_seed(value)
