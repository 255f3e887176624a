"""AugmentedDataset on bad input: clear errors naming what was expected, what came, and the fix."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch
from _spawn_helpers import ListDataset
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

from dataperf import AugmentedDataset

SIZE = 32


def hwc_uint8(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(n)]


def chw_uint8(n: int = 2) -> list[torch.Tensor]:
    return [torch.from_numpy(x).permute(2, 0, 1).contiguous() for x in hwc_uint8(n)]


def flip_tv():
    return v2.RandomHorizontalFlip()


def flip_albu():
    return A.Compose([A.HorizontalFlip()])


def albu_none(image, **params):
    return None


def albu_list(image, **params):
    return image.tolist()


# --------------------------------------------------------------------------- augment
@pytest.mark.parametrize(
    "augment",
    [42, "hflip", None, [v2.RandomHorizontalFlip()], {"p": 0.5}],
    ids=["int", "str", "None", "list-of-transforms", "dict"],
)
def test_non_callable_augment_lists_what_is_accepted(augment):
    with pytest.raises(
        TypeError,
        match=r"augment must be a torchvision\.transforms\.v2 transform .*albumentations "
        r"transform or Compose, a TextAttack Augmenter, a dataperf\.text op, or any callable.*"
        r"; got ",
    ):
        AugmentedDataset(ListDataset(chw_uint8()), augment)


def test_non_callable_augment_names_what_it_got():
    with pytest.raises(TypeError, match=r"; got list of length 1\.$"):
        AugmentedDataset(ListDataset(chw_uint8()), [v2.RandomHorizontalFlip()])


@pytest.mark.parametrize(
    ("augment", "image", "what"),
    [
        (lambda x: None, chw_uint8()[0], r"returned None \(did it modify its input in place"),
        (lambda x: "flipped", chw_uint8()[0], r"returned str 'flipped' for an image input"),
        (lambda x: x.tolist(), hwc_uint8()[0], r"returned list of length 32 for an image input"),
        (lambda x, rng: None, hwc_uint8()[0], r"returned None"),
        (lambda x: 3, "some text", r"returned int for a text input"),
        (A.Lambda(image=albu_none), hwc_uint8()[0], r"returned None"),
        (A.Lambda(image=albu_list), hwc_uint8()[0], r"returned list of length 32 for an image"),
    ],
    ids=[
        "None",
        "image-to-str",
        "image-to-list",
        "rng-None",
        "text-to-int",
        "albu-None",
        "albu-to-list",
    ],  # fmt: skip
)
def test_augment_returning_the_wrong_kind(augment, image, what):
    ds = AugmentedDataset(ListDataset([image, image]), augment)
    with pytest.raises(TypeError, match=rf"^item 1: augment \w+ {what}.*same kind"):
        ds[1]


def test_wrong_kind_is_caught_in_every_view():
    calls = []

    def second_view_breaks(x):
        calls.append(1)
        return x if len(calls) % 2 else None

    ds = AugmentedDataset(ListDataset(chw_uint8()), second_view_breaks, views=2)
    with pytest.raises(TypeError, match=r"returned None"):
        ds[0]


# --------------------------------------------------------------------------- item structure
def test_missing_tuple_position():
    ds = AugmentedDataset(ListDataset((x, 0) for x in chw_uint8()), flip_tv(), field=2)
    with pytest.raises(
        ValueError, match=r"item 0 is a tuple of length 2; field=2 is not a position in it.*0 to 1"
    ):
        ds[0]


def test_string_field_for_a_tuple_item():
    ds = AugmentedDataset(ListDataset((x, 0) for x in chw_uint8()), flip_tv(), field="image")
    with pytest.raises(ValueError, match=r"tuple of length 2; field='image' is not a position"):
        ds[0]


def test_missing_dict_key():
    items = [{"img": x, "label": 0} for x in chw_uint8()]
    ds = AugmentedDataset(ListDataset(items), flip_tv(), field="image")
    with pytest.raises(
        ValueError,
        match=r"item 1 is a dict with keys \['img', 'label'\]; field='image' is not one of them",
    ):
        ds[1]


def test_default_field_for_a_dict_item_names_the_keys():
    items = [{"image": x} for x in chw_uint8()]
    ds = AugmentedDataset(ListDataset(items), flip_tv())
    with pytest.raises(ValueError, match=r"field=0 is not one of them.*field='image'"):
        ds[0]


@pytest.mark.parametrize("field", [1, "image"])
def test_field_for_a_bare_item(field):
    ds = AugmentedDataset(ListDataset(chw_uint8()), flip_tv(), field=field)
    with pytest.raises(ValueError, match=rf"item 0 is a bare .*field={field!r}.*does not apply"):
        ds[0]


@pytest.mark.parametrize("field", [1.0, None, True, ("a",)])
def test_field_of_the_wrong_type(field):
    with pytest.raises(TypeError, match=r"field must be an int .* or a str .*; got "):
        AugmentedDataset(ListDataset(chw_uint8()), flip_tv(), field=field)


# --------------------------------------------------------------------------- image checks
def test_float64_image_into_albumentations():
    images = [x.astype(np.float64) / 255 for x in hwc_uint8()]
    ds = AugmentedDataset(ListDataset(images), flip_albu())
    with pytest.raises(
        TypeError, match=r"dtype uint8 or float32; got numpy\.ndarray .*float64.*astype"
    ):
        ds[0]


def test_chw_tensor_into_albumentations():
    ds = AugmentedDataset(ListDataset(chw_uint8()), flip_albu())
    with pytest.raises(
        TypeError, match=r"albumentations works on NumPy images.*got torch\.Tensor.*permute"
    ):
        ds[0]


def test_pil_image_into_albumentations():
    ds = AugmentedDataset(ListDataset(Image.fromarray(x) for x in hwc_uint8()), flip_albu())
    with pytest.raises(TypeError, match=r"albumentations works on NumPy.*numpy\.asarray\(image\)"):
        ds[0]


def test_image_stack_into_albumentations():
    ds = AugmentedDataset(ListDataset([np.zeros((2, SIZE, SIZE, 3), np.uint8)]), flip_albu())
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\).*one image per item"):
        ds[0]


def test_hwc_tensor_into_torchvision():
    images = [torch.from_numpy(x) for x in hwc_uint8()]
    ds = AugmentedDataset(ListDataset(images), flip_tv())
    with pytest.raises(ValueError, match=r"looks channels-last \(H, W, C\).*permute\(2, 0, 1\)"):
        ds[0]


def test_numpy_array_into_torchvision():
    ds = AugmentedDataset(ListDataset(hwc_uint8()), flip_tv())
    with pytest.raises(
        TypeError, match=r"v2 transforms work on tensors .*got numpy\.ndarray.*torch\.from_numpy"
    ):
        ds[0]


def test_numpy_array_into_torchvision_pipeline_that_starts_with_to_image():
    pipeline = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip()])
    ds = AugmentedDataset(ListDataset(hwc_uint8()), pipeline)
    out = ds[0]
    assert isinstance(out, tv_tensors.Image) and out.shape == (3, SIZE, SIZE)


def test_non_image_into_torchvision():
    ds = AugmentedDataset(ListDataset(["not an image", "x"]), flip_tv())
    with pytest.raises(TypeError, match=r"got str 'not an image'\. Fix: pass a tensor or a PIL"):
        ds[0]


def test_text_backend_fed_an_image(text_op_class):
    class Upper(text_op_class):
        def apply(self, text, rng):
            return text.upper()

    ds = AugmentedDataset(ListDataset(hwc_uint8()), Upper())
    assert ds.backend == "text_op"
    with pytest.raises(
        TypeError, match=r"item 0: the dataperf\.text augmenter works on text; got numpy\.ndarray"
    ):
        ds[0]


# --------------------------------------------------------------------------- dataset
@pytest.mark.parametrize("empty", [[], ListDataset([])], ids=["list", "Dataset"])
def test_empty_dataset(empty):
    with pytest.raises(ValueError, match=r"dataset is empty \(len 0\)"):
        AugmentedDataset(empty, flip_tv())


@pytest.mark.parametrize("not_a_dataset", [object(), 42, iter([1, 2]), None])
def test_non_dataset_object(not_a_dataset):
    with pytest.raises(
        TypeError, match=r"dataset must be a map-style torch Dataset .* or an IterableDataset; got"
    ):
        AugmentedDataset(not_a_dataset, flip_tv())


def test_dataloader_given_as_dataset_points_to_augment_loader():
    loader = DataLoader(ListDataset(chw_uint8()), batch_size=2)
    with pytest.raises(TypeError, match=r"use dataperf\.augment_loader\(loader, augment\)"):
        AugmentedDataset(loader, flip_tv())


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("views", [0, -2])
def test_views_below_one(views):
    with pytest.raises(ValueError, match=rf"views must be (an int )?>= 1; got {views}\b"):
        AugmentedDataset(ListDataset(chw_uint8()), flip_tv(), views=views)


@pytest.mark.parametrize("views", [1.5, "2", True, None])
def test_views_not_an_int(views):
    with pytest.raises(TypeError, match=r"views must be an int >= 1; got "):
        AugmentedDataset(ListDataset(chw_uint8()), flip_tv(), views=views)


def test_negative_seed():
    with pytest.raises(ValueError, match=r"^seed must be .*got -1\b"):
        AugmentedDataset(ListDataset(chw_uint8()), flip_tv(), seed=-1)


@pytest.mark.parametrize("seed", [1.0, "0", True, None])
def test_seed_of_the_wrong_type(seed):
    with pytest.raises(TypeError, match=r"^seed must be a non-negative int; got .*seed=0"):
        AugmentedDataset(ListDataset(chw_uint8()), flip_tv(), seed=seed)


@pytest.mark.parametrize(("epoch", "error"), [(-1, ValueError), (0.5, TypeError)])
def test_bad_epoch(epoch, error):
    ds = AugmentedDataset(ListDataset(chw_uint8()), flip_tv())
    with pytest.raises(error, match=r"^epoch must be "):
        ds.set_epoch(epoch)
    assert ds.epoch == 0


def test_epoch_too_large_for_the_shared_counter_is_a_clear_error():
    ds = AugmentedDataset(ListDataset(chw_uint8()), flip_tv())
    ds.set_epoch(2**63 - 1)  # the largest epoch the shared int64 counter holds
    assert ds.epoch == 2**63 - 1
    with pytest.raises(ValueError, match=r"^epoch must be .*got 9223372036854775808"):
        ds.set_epoch(2**63)
    assert ds.epoch == 2**63 - 1


@pytest.mark.parametrize("index", ["0", 1.0, None, slice(0, 2), np.float32(1.0), (0,)], ids=repr)
def test_non_int_index(index):
    ds = AugmentedDataset(ListDataset(chw_uint8()), flip_tv())
    with pytest.raises(TypeError, match=r"keys its randomness by integer index; got index "):
        ds[index]


def test_out_of_range_index_is_an_index_error():
    ds = AugmentedDataset(ListDataset(chw_uint8()), flip_tv())
    with pytest.raises(IndexError):
        ds[2]
    with pytest.raises(IndexError):
        ds[-3]


def test_iterable_form_has_no_random_access():
    from torch.utils.data import IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            yield from chw_uint8()

    ds = AugmentedDataset(Stream(), flip_tv())
    with pytest.raises(TypeError, match=r"wraps an IterableDataset, which has no random access"):
        ds[0]
    with pytest.raises(TypeError, match=r"the wrapped Stream has no len\(\)"):
        len(ds)
