"""One contract that every augmentation backend and every dataperf text op must meet.

Each case gives an augment and one input; the dataset repeats that input at every index, so
any difference between items comes from the per-item randomness alone.
"""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from dataperf import AugmentedDataset
from dataperf import text as T

SENTENCE = (
    "The quiet river carried small boats past the old stone bridge while children watched "
    "from the grassy bank near the village market."
)
N = 8


def _image_array() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)


def _albumentations():
    import albumentations as A

    return A.Compose(
        [A.RandomResizedCrop((32, 32), scale=(0.3, 1.0)), A.HorizontalFlip(), A.ColorJitter()]
    )


def _albumentations_single():
    import albumentations as A

    return A.Affine(rotate=(-30, 30), translate_percent=(-0.2, 0.2), p=1.0)


def _torchvision():
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomResizedCrop(24, scale=(0.3, 1.0)), v2.RandomHorizontalFlip()])


def _pil_image():
    from PIL import Image

    return Image.fromarray(_image_array())


def _textattack():
    return T.recipe("charswap", pct_words_to_swap=0.3, transformations_per_example=2)


def noise_with_rng(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return x + torch.from_numpy(rng.normal(size=tuple(x.shape)).astype(np.float32))


def noise_from_globals(x: torch.Tensor) -> torch.Tensor:
    return x + torch.randn(x.shape) + float(np.random.rand()) + random.random()


CASES = {
    "albumentations-compose": (_albumentations, _image_array),
    "albumentations-transform": (_albumentations_single, _image_array),
    "torchvision-tensor": (_torchvision, lambda: torch.from_numpy(_image_array()).permute(2, 0, 1)),
    "torchvision-pil": (_torchvision, _pil_image),
    "textattack-charswap": (_textattack, lambda: SENTENCE),
    "callable-rng": (lambda: noise_with_rng, lambda: torch.zeros(3, 4, 4)),
    "callable-globals": (lambda: noise_from_globals, lambda: torch.zeros(3, 4, 4)),
    "text-CharSwap": (lambda: T.CharSwap(rate=0.3), lambda: SENTENCE),
    "text-CharInsert": (lambda: T.CharInsert(rate=0.3), lambda: SENTENCE),
    "text-CharDelete": (lambda: T.CharDelete(rate=0.3), lambda: SENTENCE),
    "text-KeyboardTypo": (lambda: T.KeyboardTypo(rate=0.3), lambda: SENTENCE),
    "text-WordDelete": (lambda: T.WordDelete(rate=0.3), lambda: SENTENCE),
    "text-WordSwap": (lambda: T.WordSwap(rate=0.3), lambda: SENTENCE),
    "text-SynonymReplace": (lambda: T.SynonymReplace(rate=0.5), lambda: SENTENCE),
    "text-Compose": (
        lambda: T.Compose([T.WordSwap(rate=0.2), T.KeyboardTypo(rate=0.2)]),
        lambda: SENTENCE,
    ),
    "text-OneOf": (
        lambda: T.OneOf([T.CharSwap(rate=0.3), T.WordDelete(rate=0.3)]),
        lambda: SENTENCE,
    ),
}


def _same(a, b) -> bool:
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if hasattr(a, "mode"):  # PIL
        return _same(np.asarray(a), np.asarray(b))
    return a == b


def _kind(x) -> type:
    return str if isinstance(x, str) else type(x).__mro__[-2] if hasattr(x, "mode") else type(x)


@pytest.fixture(params=sorted(CASES), ids=sorted(CASES))
def case(request):
    make_augment, make_input = CASES[request.param]
    x = make_input()
    return make_augment(), x, [(x, i) for i in range(N)]


def test_deterministic_and_seed_keyed(case):
    augment, _, items = case
    a = AugmentedDataset(items, augment, seed=3)
    b = AugmentedDataset(items, augment, seed=3)
    assert all(_same(a[i][0], b[i][0]) for i in range(N))
    assert all(_same(a[i][0], a[i][0]) for i in reversed(range(N)))
    other_seed = AugmentedDataset(items, augment, seed=4)
    assert not all(_same(a[i][0], other_seed[i][0]) for i in range(N))


def test_indices_and_epochs_draw_independently(case):
    augment, _, items = case
    ds = AugmentedDataset(items, augment, seed=0)
    first = [ds[i][0] for i in range(N)]
    distinct = sum(not _same(first[0], out) for out in first[1:])
    assert distinct >= N // 2, f"only {distinct} of {N - 1} items differ from item 0"
    ds.set_epoch(1)
    assert sum(not _same(x, ds[i][0]) for i, x in enumerate(first)) >= N // 2


def test_global_rng_state_untouched(case):
    augment, _, items = case
    ds = AugmentedDataset(items, augment, seed=0, views=2)
    torch_state, np_state, py_state = (
        torch.get_rng_state(),
        np.random.get_state(),
        random.getstate(),
    )
    for i in range(3):
        ds[i]
    assert torch.equal(torch_state, torch.get_rng_state())
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert np.array_equal(np_state[1], after[1]) and np_state[2:] == after[2:]


def test_views_extend_the_single_view(case):
    augment, x, items = case
    single = AugmentedDataset(items, augment, seed=5)
    multi = AugmentedDataset(items, augment, seed=5, views=3)
    item = multi[2]
    assert item[1] == 2 and isinstance(item[0], list) and len(item[0]) == 3
    assert _same(item[0][0], single[2][0])
    assert all(_kind(v) is _kind(x) for v in item[0])


def test_output_kind_and_pickle_round_trip(case):
    augment, x, items = case
    ds = AugmentedDataset(items, augment, seed=1)
    assert _kind(ds[0][0]) is _kind(x)
    clone = pickle.loads(pickle.dumps(ds))
    assert _same(clone[1][0], ds[1][0])
