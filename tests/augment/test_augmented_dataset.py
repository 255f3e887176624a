"""AugmentedDataset: equality with the wrapped libraries, determinism, item kinds, workers.

Every "matches library" test calls the wrapped library directly under the RNG state that
``dataperf/augment/backends.py`` documents for its backend, and asks for exact equality.
"""

from __future__ import annotations

import collections
import itertools
import pickle
import random

import _spawn_helpers as helpers
import albumentations as A
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info
from torchvision import tv_tensors
from torchvision.transforms import v2

from dataperf import AugmentedDataset, item_rng, item_seed

N = 8
SIZE = 32
BACKENDS = ["torchvision", "albumentations", "callable", "callable_rng"]


# --------------------------------------------------------------------------- helpers
def same(a, b) -> bool:
    """Exact, type-aware equality of nested outputs (tensors, arrays, PIL images, containers)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        if isinstance(a, tv_tensors.BoundingBoxes) and (
            a.format != b.format or tuple(a.canvas_size) != tuple(b.canvas_size)
        ):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, Image.Image):
        return (
            a.size == b.size and a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b))
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def assert_same(a, b) -> None:
    assert same(a, b), f"outputs differ:\n{a!r}\n!=\n{b!r}"


def identity(batch):
    return batch


class ListDataset(Dataset):
    """A map-style dataset over a list; extra keyword arguments become attributes."""

    def __init__(self, items, **attrs) -> None:
        self.items = list(items)
        self.__dict__.update(attrs)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


class ConstantDataset(Dataset):
    """``length`` items that are all the same ``(image, 0)``: only the index tells them apart."""

    def __init__(self, image, length: int = N) -> None:
        self.image = image
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.image, 0


def np_images(n: int = N, size: int = SIZE, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def tensor_images(n: int = N, size: int = SIZE, seed: int = 0) -> list[torch.Tensor]:
    return [torch.from_numpy(x).permute(2, 0, 1).contiguous() for x in np_images(n, size, seed)]


def albu_pipeline():
    return A.Compose(
        [
            A.RandomResizedCrop(size=(24, 24), scale=(0.3, 1.0)),
            A.HorizontalFlip(p=0.5),
            A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=1.0),
        ]
    )


def albu_targets_pipeline():
    return A.Compose(
        [
            A.RandomResizedCrop(size=(24, 24), scale=(0.5, 1.0)),
            A.HorizontalFlip(p=0.5),
            A.Affine(rotate=(-30, 30), p=1.0),
        ],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
    )


def tv_pipeline():
    return v2.Compose(
        [
            v2.RandomResizedCrop(24, scale=(0.3, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
        ]
    )


def tv_geometric_pipeline():
    return v2.Compose(
        [
            v2.RandomResizedCrop(24, scale=(0.5, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=25),
            v2.ColorJitter(brightness=0.3),
        ]
    )


def rng_noise(x, rng):
    """A callable that takes ``rng``: adds Gaussian noise drawn from it."""
    return np.asarray(x, dtype=np.float32) + rng.normal(size=np.shape(x)).astype(np.float32)


class KeywordOnlyRngNoise:
    """A callable object whose ``rng`` is keyword-only."""

    def __call__(self, x, *, rng):
        return x + float(rng.random())


# The documented RNG state of each backend, set up by hand around a direct library call.
def ref_torchvision(augment, key, *inputs, views: int = 1) -> list:
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(item_seed(*key))
        return [augment(*inputs) for _ in range(views)]


def ref_albumentations(augment, key, views: int = 1, **data) -> list[dict]:
    augment.set_random_state(item_rng(*key), random.Random(item_seed(*key)))
    return [augment(**data) for _ in range(views)]


def ref_callable(fn, key, x, views: int = 1) -> list:
    seed = item_seed(*key)
    saved = torch.get_rng_state(), random.getstate(), np.random.get_state()  # noqa: NPY002
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        return [fn(x) for _ in range(views)]
    finally:
        torch.set_rng_state(saved[0])
        random.setstate(saved[1])
        np.random.set_state(saved[2])  # noqa: NPY002


def ref_callable_rng(fn, key, x, views: int = 1) -> list:
    rng = item_rng(*key)
    return [fn(x, rng=rng) for _ in range(views)]


def make_augment(backend: str):
    return {
        "torchvision": tv_pipeline,
        "albumentations": albu_pipeline,
        "callable": lambda: helpers.global_rng_noise,
        "callable_rng": lambda: rng_noise,
    }[backend]()


def images_for(backend: str, n: int = N, seed: int = 0) -> list:
    if backend in ("torchvision", "callable"):
        return tensor_images(n, seed=seed)
    return np_images(n, seed=seed)


def make_dataset(backend: str, n: int = N, *, constant: bool = False, **kwargs):
    """``AugmentedDataset`` over items ``(image, index)`` for ``backend``."""
    images = images_for(backend, n)
    data = ConstantDataset(images[0], n) if constant else ListDataset(zip(images, range(n)))
    ds = AugmentedDataset(data, make_augment(backend), **kwargs)
    assert ds.backend == backend
    return ds


def reference(backend: str, augment, key, x, views: int = 1) -> list:
    if backend == "torchvision":
        return ref_torchvision(augment, key, x, views=views)
    if backend == "albumentations":
        return [out["image"] for out in ref_albumentations(augment, key, views, image=x)]
    if backend == "callable":
        return ref_callable(augment, key, x, views)
    return ref_callable_rng(augment, key, x, views)


def global_states():
    return torch.get_rng_state(), np.random.get_state(), random.getstate()  # noqa: NPY002


def assert_global_states_equal(before, after) -> None:
    assert torch.equal(before[0], after[0]), "torch's global RNG state changed"
    np_before, np_after = before[1], after[1]
    assert np_before[0] == np_after[0] and np_before[2:] == np_after[2:]
    assert np.array_equal(np_before[1], np_after[1]), "NumPy's global RNG state changed"
    assert before[2] == after[2], "random's global state changed"


# --------------------------------------------------------------------------- vs the libraries
@pytest.mark.parametrize(("seed", "epoch"), [(0, 0), (5, 3)])
def test_albumentations_matches_library(seed, epoch):
    images = np_images()
    ds = AugmentedDataset(ListDataset(zip(images, range(N))), albu_pipeline(), seed=seed)
    ds.set_epoch(epoch)
    ref = albu_pipeline()
    for i in range(N):
        image, label = ds[i]
        expected = ref_albumentations(ref, (seed, epoch, i), image=images[i])[0]["image"]
        assert_same(image, expected)
        assert image.shape == (24, 24, 3) and image.dtype == np.uint8
        assert label == i


def targets_item(i: int) -> dict:
    rng = np.random.default_rng(100 + i)
    return {
        "image": rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
        "mask": (rng.random((SIZE, SIZE)) > 0.5).astype(np.uint8),
        "bboxes": np.array([[2, 3, 20, 25], [8, 6, 30, 30]], dtype=np.float32),
        "labels": [1, 2],
        "keypoints": np.array([[4.0, 5.0], [20.0, 10.0]], dtype=np.float32),
        "id": i,
    }


TARGET_KEYS = ("image", "mask", "bboxes", "labels", "keypoints")


def test_albumentations_co_transforms_dict_targets():
    items = [targets_item(i) for i in range(4)]
    ds = AugmentedDataset(ListDataset(items), albu_targets_pipeline(), field="image", seed=3)
    ref = albu_targets_pipeline()
    for i, item in enumerate(items):
        out = ds[i]
        data = {k: item[k] for k in TARGET_KEYS}
        expected = ref_albumentations(ref, (3, 0, i), **data)[0]
        assert list(out) == list(item)
        for k in TARGET_KEYS:
            assert_same(out[k], expected[k])
        assert out["id"] == i
        assert out["mask"].shape == (24, 24)  # the mask went through the crop
        assert len(out["keypoints"]) == 2
        assert len(out["bboxes"]) == len(out["labels"])


def test_albumentations_dict_item_with_another_field_name():
    rng = np.random.default_rng(0)
    items = [
        {"img": x, "mask": rng.integers(0, 2, (SIZE, SIZE), dtype=np.uint8), "y": i}
        for i, x in enumerate(np_images(3))
    ]
    ds = AugmentedDataset(ListDataset(items), albu_pipeline(), field="img")
    ref = albu_pipeline()
    for i, item in enumerate(items):
        expected = ref_albumentations(ref, (0, 0, i), image=item["img"], mask=item["mask"])[0]
        out = ds[i]
        assert_same(out["img"], expected["image"])
        assert_same(out["mask"], expected["mask"])
        assert out["mask"].shape == (24, 24)
        assert out["y"] == i


@pytest.mark.parametrize(("seed", "epoch"), [(0, 0), (11, 2)])
def test_torchvision_tensor_matches_library(seed, epoch):
    images = tensor_images()
    ds = AugmentedDataset(ListDataset(zip(images, range(N))), tv_pipeline(), seed=seed)
    ds.set_epoch(epoch)
    for i in range(N):
        image, label = ds[i]
        assert_same(image, ref_torchvision(tv_pipeline(), (seed, epoch, i), images[i])[0])
        assert image.shape == (3, 24, 24) and label == i


def test_torchvision_pil_matches_library():
    images = [Image.fromarray(x) for x in np_images()]
    ds = AugmentedDataset(ListDataset(images), tv_pipeline(), seed=2)  # bare items
    for i in range(N):
        out = ds[i]
        assert isinstance(out, Image.Image) and out.size == (24, 24)
        assert_same(out, ref_torchvision(tv_pipeline(), (2, 0, i), images[i])[0])


def tv_targets(i: int) -> tuple[tv_tensors.BoundingBoxes, tv_tensors.Mask]:
    boxes = tv_tensors.BoundingBoxes(
        [[2, 3, 20, 25], [8, 6, 30, 30]], format="XYXY", canvas_size=(SIZE, SIZE)
    )
    gen = torch.Generator().manual_seed(i)
    mask = tv_tensors.Mask(torch.randint(0, 2, (SIZE, SIZE), dtype=torch.uint8, generator=gen))
    return boxes, mask


def test_torchvision_tuple_item_co_transforms_tv_tensors():
    images = tensor_images()
    items = [(img, *tv_targets(i), i) for i, img in enumerate(images)]
    ds = AugmentedDataset(ListDataset(items), tv_geometric_pipeline(), seed=4)
    for i, (img, boxes, mask, label) in enumerate(items):
        out = ds[i]
        assert type(out) is tuple and len(out) == 4
        expected = ref_torchvision(tv_geometric_pipeline(), (4, 0, i), img, boxes, mask)[0]
        assert_same(out[:3], tuple(expected))
        assert isinstance(out[1], tv_tensors.BoundingBoxes)
        assert tuple(out[1].canvas_size) == (24, 24)
        assert isinstance(out[2], tv_tensors.Mask) and out[2].shape == (24, 24)
        assert out[3] == label


def test_torchvision_dict_item_co_transforms_tv_tensors():
    images = tensor_images(4)
    items = []
    for i, img in enumerate(images):
        boxes, mask = tv_targets(i)
        items.append({"name": f"x{i}", "image": tv_tensors.Image(img), "boxes": boxes,
                      "mask": mask, "label": i})  # fmt: skip
    ds = AugmentedDataset(ListDataset(items), tv_geometric_pipeline(), field="image")
    for i, item in enumerate(items):
        out = ds[i]
        expected = ref_torchvision(
            tv_geometric_pipeline(), (0, 0, i), item["image"], item["boxes"], item["mask"]
        )[0]
        assert list(out) == list(item)
        assert_same([out["image"], out["boxes"], out["mask"]], list(expected))
        assert isinstance(out["image"], tv_tensors.Image) and out["image"].shape == (3, 24, 24)
        assert out["name"] == f"x{i}" and out["label"] == i


def test_callable_without_rng_matches_seeded_global_generators():
    images = tensor_images()
    ds = AugmentedDataset(ListDataset(zip(images, range(N))), helpers.global_rng_noise, seed=9)
    assert ds.backend == "callable"
    for i in range(N):
        expected = ref_callable(helpers.global_rng_noise, (9, 0, i), images[i])[0]
        assert_same(ds[i][0], expected)


@pytest.mark.parametrize("fn", [rng_noise, KeywordOnlyRngNoise()], ids=["function", "object"])
def test_callable_with_rng_gets_the_item_generator(fn):
    images = np_images()
    ds = AugmentedDataset(ListDataset(images), fn, seed=1)
    ds.set_epoch(6)
    assert ds.backend == "callable_rng"
    for i in range(N):
        assert_same(ds[i], fn(images[i], rng=item_rng(1, 6, i)))


def test_text_op_gets_the_item_generator(text_op_class):
    class ShuffleWords(text_op_class):
        def apply(self, text, rng):
            words = text.split()
            return " ".join(words[j] for j in rng.permutation(len(words)))

    texts = [f"the quick brown fox number {i} jumps over the lazy dog" for i in range(N)]
    op = ShuffleWords()
    ds = AugmentedDataset(ListDataset(zip(texts, range(N))), op, seed=2, views=2)
    assert ds.backend == "text_op"
    for i in range(N):
        rng = item_rng(2, 0, i)
        assert ds[i] == ([op.apply(texts[i], rng), op.apply(texts[i], rng)], i)


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_instances_give_the_same_outputs_in_any_order(backend):
    first = make_dataset(backend, seed=3)
    second = make_dataset(backend, seed=3)
    forward = [first[i] for i in range(N)]
    backward = [second[i] for i in reversed(range(N))][::-1]
    assert_same(forward, backward)
    # Re-reading an item gives it again (no hidden state advances between calls).
    assert_same(first[2], forward[2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_match_reference_for_every_backend(backend):
    ds = make_dataset(backend, seed=8)
    ds.set_epoch(1)
    images = images_for(backend)
    augment = make_augment(backend)
    for i in range(N):
        assert_same(ds[i][0], reference(backend, augment, (8, 1, i), images[i])[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_changes_every_item(backend):
    a, b = make_dataset(backend, seed=0), make_dataset(backend, seed=1)
    for i in range(N):
        assert not same(a[i][0], b[i][0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_do_not_depend_on_global_rng_state(backend):
    ds = make_dataset(backend)
    outs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)  # noqa: NPY002
        random.seed(global_seed)
        outs.append([ds[i] for i in range(3)])
    assert_same(outs[0], outs[1])


@pytest.mark.parametrize("views", [1, 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_global_rng_state_is_unchanged(backend, views):
    ds = make_dataset(backend, views=views)
    torch.manual_seed(123)
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    before = global_states()
    for i in (0, 5):
        ds[i]
    assert_global_states_equal(before, global_states())


def test_global_rng_state_is_unchanged_with_targets():
    items = [targets_item(i) for i in range(2)]
    before = global_states()
    AugmentedDataset(ListDataset(items), albu_targets_pipeline(), field="image", views=2)[1]
    tv_items = [(img, *tv_targets(i), i) for i, img in enumerate(tensor_images(2))]
    AugmentedDataset(ListDataset(tv_items), tv_geometric_pipeline(), views=2)[1]
    assert_global_states_equal(before, global_states())


def test_global_rng_state_is_restored_when_augment_raises():
    def failing(x):
        torch.rand(3)
        random.random()
        np.random.rand()  # noqa: NPY002
        raise RuntimeError("boom")

    ds = AugmentedDataset(ListDataset(tensor_images(2)), failing)
    before = global_states()
    with pytest.raises(RuntimeError, match="boom"):
        ds[0]
    assert_global_states_equal(before, global_states())


def collect(loader) -> tuple[dict, list]:
    """Outputs by item index, and the order in which the indices arrived."""
    outputs, order = {}, []
    for batch in loader:
        for image, index in batch:
            outputs[int(index)] = image
            order.append(int(index))
    return outputs, order


@pytest.mark.parametrize("backend", ["torchvision", "albumentations", "callable"])
def test_same_outputs_with_0_1_or_2_workers_in_any_order(backend):
    n = 12
    ds = make_dataset(backend, n, seed=5)
    ds.set_epoch(1)
    direct = {i: ds[i][0] for i in range(n)}
    sequential, order = collect(DataLoader(ds, batch_size=3, collate_fn=identity))
    assert order == list(range(n))
    assert_same(sequential, direct)
    for workers in (1, 2):
        shuffled, order = collect(
            DataLoader(ds, batch_size=3, shuffle=True, num_workers=workers, collate_fn=identity,
                       generator=torch.Generator().manual_seed(workers))
        )  # fmt: skip
        assert sorted(order) == list(range(n)) and order != list(range(n))
        assert_same(shuffled, direct)


# --------------------------------------------------------------------------- independence
@pytest.mark.parametrize("backend", BACKENDS)
def test_indices_draw_independently(backend):
    ds = make_dataset(backend, constant=True)  # the same input at every index
    outs = [ds[i][0] for i in range(N)]
    for a, b in itertools.combinations(range(N), 2):
        assert not same(outs[a], outs[b]), f"items {a} and {b} got the same augmentation"


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_epoch_changes_draws_and_returning_reproduces(backend):
    ds = make_dataset(backend)
    assert ds.epoch == 0
    epoch0 = [ds[i][0] for i in range(N)]
    ds.set_epoch(1)
    assert ds.epoch == 1
    epoch1 = [ds[i][0] for i in range(N)]
    for i in range(N):
        assert not same(epoch0[i], epoch1[i])
    ds.set_epoch(0)
    assert_same([ds[i][0] for i in range(N)], epoch0)


# --------------------------------------------------------------------------- views
@pytest.mark.parametrize("backend", BACKENDS)
def test_views(backend):
    single = make_dataset(backend, seed=2)
    multi = make_dataset(backend, seed=2, views=3)
    images = images_for(backend)
    augment = make_augment(backend)
    for i in range(3):
        out = multi[i]
        assert type(out) is tuple and out[1] == i
        assert isinstance(out[0], list) and len(out[0]) == 3
        assert_same(out[0][0], single[i][0])
        for a, b in itertools.combinations(range(3), 2):
            assert not same(out[0][a], out[0][b]), f"views {a} and {b} are equal"
        # Seeded once, called three times in a row.
        assert_same(out[0], reference(backend, augment, (2, 0, i), images[i], views=3))


def test_views_make_albumentations_targets_lists():
    items = [targets_item(i) for i in range(3)]
    single = AugmentedDataset(ListDataset(items), albu_targets_pipeline(), field="image")
    multi = AugmentedDataset(ListDataset(items), albu_targets_pipeline(), field="image", views=3)
    ref = albu_targets_pipeline()
    for i, item in enumerate(items):
        out = multi[i]
        expected = ref_albumentations(ref, (0, 0, i), 3, **{k: item[k] for k in TARGET_KEYS})
        for k in TARGET_KEYS:
            assert isinstance(out[k], list) and len(out[k]) == 3, k
            assert_same(out[k], [e[k] for e in expected])
            assert_same(out[k][0], single[i][k])
        assert out["id"] == i  # not a target: unchanged
        assert not same(out["mask"][0], out["mask"][1])


def test_views_make_torchvision_targets_lists():
    items = [(img, *tv_targets(i), i) for i, img in enumerate(tensor_images(3))]
    single = AugmentedDataset(ListDataset(items), tv_geometric_pipeline())
    multi = AugmentedDataset(ListDataset(items), tv_geometric_pipeline(), views=3)
    for i, (img, boxes, mask, label) in enumerate(items):
        out = multi[i]
        expected = ref_torchvision(tv_geometric_pipeline(), (0, 0, i), img, boxes, mask, views=3)
        for position in range(3):
            assert isinstance(out[position], list) and len(out[position]) == 3
            assert_same(out[position], [e[position] for e in expected])
            assert_same(out[position][0], single[i][position])
        assert out[3] == label
        assert not same(out[1][0], out[1][1]) or not same(out[2][0], out[2][1])


# --------------------------------------------------------------------------- indexing
@pytest.mark.parametrize("backend", ["torchvision", "callable_rng"])
def test_negative_index_is_counted_from_the_end(backend):
    ds = make_dataset(backend)
    assert_same(ds[-1], ds[N - 1])
    assert_same(ds[-N], ds[0])


@pytest.mark.parametrize(
    "index", [np.int64(3), np.int32(3), np.uint8(3), torch.tensor(3)], ids=repr
)
def test_numpy_and_tensor_integer_indices(index):
    ds = make_dataset("torchvision")
    assert_same(ds[index], ds[3])


class DictBacked(Dataset):
    """A dataset whose items live in a dict keyed by int, as many file/database-backed ones do:
    it accepts exactly the indices 0 .. len-1 (no negative indices, no tensor keys)."""

    def __init__(self, items) -> None:
        self.table = dict(enumerate(items))

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index):
        return self.table[index]


@pytest.mark.parametrize("index", [-1, torch.tensor(N - 1)], ids=["negative", "tensor"])
def test_wrapped_dataset_receives_the_normalised_int_index(index):
    ds = AugmentedDataset(DictBacked(zip(tensor_images(), range(N))), tv_pipeline())
    assert_same(ds[index], ds[N - 1])


def test_subset_with_getitems_is_still_augmented_in_a_dataloader():
    # torch's Subset has __getitems__, which DataLoader prefers; it must not bypass augmentation.
    base = list(zip(tensor_images(), range(N)))
    ds = AugmentedDataset(torch.utils.data.Subset(base, list(range(N))), tv_pipeline())
    images, labels = next(iter(DataLoader(ds, batch_size=4)))
    assert labels.tolist() == [0, 1, 2, 3]
    assert torch.equal(images, torch.stack([ds[i][0] for i in range(4)]))


# --------------------------------------------------------------------------- item kinds
Sample = collections.namedtuple("Sample", ["image", "label"])


def test_namedtuple_items_keep_their_type():
    images = tensor_images()
    ds = AugmentedDataset(ListDataset(Sample(x, i) for i, x in enumerate(images)), tv_pipeline())
    plain = AugmentedDataset(ListDataset(zip(images, range(N))), tv_pipeline())
    out = ds[2]
    assert type(out) is Sample and out.label == 2
    assert_same(out.image, plain[2][0])


def test_list_items_keep_their_type():
    images = tensor_images()
    ds = AugmentedDataset(ListDataset([x, i] for i, x in enumerate(images)), tv_pipeline())
    plain = AugmentedDataset(ListDataset(zip(images, range(N))), tv_pipeline())
    out = ds[5]
    assert type(out) is list and out[1] == 5
    assert_same(out[0], plain[5][0])


@pytest.mark.parametrize("field", [1, -1])
def test_field_position(field):
    images = tensor_images()
    ds = AugmentedDataset(ListDataset(("label", x) for x in images), tv_pipeline(), field=field)
    plain = AugmentedDataset(ListDataset(images), tv_pipeline())
    out = ds[4]
    assert out[0] == "label"
    assert_same(out[1], plain[4])


def test_dict_item_with_callable_only_changes_the_field():
    images = tensor_images()
    items = [{"x": x, "y": i, "extra": "keep"} for i, x in enumerate(images)]
    ds = AugmentedDataset(ListDataset(items), helpers.global_rng_noise, field="x")
    out = ds[1]
    assert list(out) == ["x", "y", "extra"] and out["y"] == 1 and out["extra"] == "keep"
    assert_same(out["x"], ref_callable(helpers.global_rng_noise, (0, 0, 1), images[1])[0])
    assert items[1]["x"] is images[1]  # the wrapped item is not modified


def test_bare_items():
    images = tensor_images()
    ds = AugmentedDataset(ListDataset(images), tv_pipeline())
    out = ds[0]
    assert isinstance(out, torch.Tensor) and out.shape == (3, 24, 24)


# --------------------------------------------------------------------------- the wrapper
def test_attributes_of_the_wrapped_dataset_are_forwarded():
    base = ListDataset(tensor_images(), classes=["cat", "dog"], class_to_idx={"cat": 0, "dog": 1})
    ds = AugmentedDataset(base, tv_pipeline())
    assert ds.classes == ["cat", "dog"]
    assert ds.class_to_idx == {"cat": 0, "dog": 1}
    assert ds.dataset is base
    assert len(ds) == N
    with pytest.raises(AttributeError):
        ds.no_such_attribute  # noqa: B018


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_round_trip(backend):
    ds = make_dataset(backend, seed=4, views=2)
    ds.set_epoch(3)
    clone = pickle.loads(pickle.dumps(ds))
    assert type(clone) is type(ds)
    assert (clone.seed, clone.epoch, clone.views, clone.backend) == (4, 3, 2, backend)
    assert_same([clone[i] for i in range(N)], [ds[i] for i in range(N)])
    assert repr(clone) == repr(ds)


def test_repr_names_the_backend_and_settings():
    text = repr(make_dataset("albumentations", seed=7, views=2))
    for part in ("AugmentedDataset", "ListDataset", "albumentations", "seed=7", "views=2"):
        assert part in text


# --------------------------------------------------------------------------- IterableDataset
class Stream(IterableDataset):
    """Yields ``(image, index)``; with ``shard=True`` worker ``w`` of ``W`` yields ``w::W``."""

    def __init__(self, images, *, shard: bool = False, tag_worker: bool = False) -> None:
        self.images = images
        self.shard = shard
        self.tag_worker = tag_worker

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        indices = range(len(self.images))
        if self.shard:
            indices = indices[worker::workers]
        for i in indices:
            yield (self.images[i], i, worker) if self.tag_worker else (self.images[i], i)


def test_iterable_index_is_the_stream_position():
    images = tensor_images()
    stream = AugmentedDataset(Stream(images), tv_pipeline(), seed=6)
    assert isinstance(stream, IterableDataset) and isinstance(stream, AugmentedDataset)
    mapped = AugmentedDataset(ListDataset(zip(images, range(N))), tv_pipeline(), seed=6)
    assert_same(list(stream), [mapped[i] for i in range(N)])
    stream.set_epoch(2)
    mapped.set_epoch(2)
    assert_same(list(stream), [mapped[i] for i in range(N)])


def test_iterable_with_two_workers_and_round_robin_sharding_matches_one_process():
    images = tensor_images(10)
    stream = AugmentedDataset(Stream(images, shard=True), tv_pipeline(), seed=1)
    one, order_one = collect(DataLoader(stream, batch_size=None, collate_fn=lambda x: [x]))
    two, order_two = collect(
        DataLoader(stream, batch_size=None, num_workers=2, collate_fn=lambda x: [x])
    )
    assert order_one == order_two == list(range(10))
    assert_same(two, one)
    mapped = AugmentedDataset(ListDataset(zip(images, range(10))), tv_pipeline(), seed=1)
    assert_same(one, {i: mapped[i][0] for i in range(10)})


def test_iterable_without_sharding_gives_every_copy_a_distinct_key():
    images = np_images(6)
    stream = AugmentedDataset(Stream(images, tag_worker=True), rng_noise, seed=2)
    loader = DataLoader(stream, batch_size=None, num_workers=2, collate_fn=identity)
    outs = list(loader)
    assert len(outs) == 12  # each worker iterates its own full copy
    assert sorted((worker, i) for _, i, worker in outs) == [(w, i) for w in (0, 1) for i in
                                                           range(6)]  # fmt: skip
    for out, position, worker in outs:
        # The documented index of the p-th item of worker w among W workers: p * W + w.
        expected = rng_noise(images[position], rng=item_rng(2, 0, position * 2 + worker))
        assert_same(out, expected)
    for a, b in itertools.combinations([o for o, _, _ in outs], 2):
        assert not same(a, b)
    # Deterministic for a fixed num_workers.
    again = sorted(list(loader), key=lambda o: (o[2], o[1]))
    assert_same([o[0] for o in again], [o[0] for o in sorted(outs, key=lambda o: (o[2], o[1]))])


# --------------------------------------------------------------------------- spawn
def test_spawned_persistent_workers_match_one_process_and_see_set_epoch():
    # The children import the pipeline and dataset by name (tests/_spawn_helpers.py), and get
    # the epoch counter through shared memory, so set_epoch reaches the persistent workers.
    ds = AugmentedDataset(helpers.TensorImages(8), helpers.TV_PIPELINE, seed=7)
    loader = DataLoader(
        ds, batch_size=4, num_workers=2, multiprocessing_context="spawn", persistent_workers=True
    )
    try:
        for epoch in (2, 3):
            ds.set_epoch(epoch)
            batches = list(loader)
            labels = torch.cat([labels for _, labels in batches])
            assert labels.tolist() == list(range(8))
            spawned = torch.cat([images for images, _ in batches])
            direct = torch.stack([ds[i][0] for i in range(8)])
            assert torch.equal(spawned, direct), f"epoch {epoch}"
    finally:
        del loader


# --------------------------------------------------------------------------- properties
TINY = [torch.from_numpy(x).permute(2, 0, 1).contiguous() for x in np_images(1, 8, seed=3)][0]
TINY_TV = v2.Compose([v2.RandomCrop(6), v2.RandomHorizontalFlip(), v2.ColorJitter(0.5)])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 2**63 - 1),
    index=st.integers(0, 10**12 - 1),
    global_seed=st.integers(0, 2**32 - 1),
    backend=st.sampled_from(["torchvision", "callable", "callable_rng"]),
)
def test_property_determinism_and_rng_restoration(seed, epoch, index, global_seed, backend):
    augment = {
        "torchvision": TINY_TV,
        "callable": helpers.global_rng_noise,
        "callable_rng": rng_noise,
    }[backend]
    ds = AugmentedDataset(ConstantDataset(TINY, 10**12), augment, seed=seed)
    ds.set_epoch(epoch)
    torch.manual_seed(global_seed)
    np.random.seed(global_seed)  # noqa: NPY002
    random.seed(global_seed)
    before = global_states()
    first = ds[index]
    assert_global_states_equal(before, global_states())
    again = AugmentedDataset(ConstantDataset(TINY, 10**12), augment, seed=seed)
    again.set_epoch(epoch)
    assert_same(again[index], first)
    assert_same(first[0], reference(backend, augment, (seed, epoch, index), TINY)[0])
    assert_global_states_equal(before, global_states())
