"""The augmentation backends: how each kind of ``augment`` is recognised, seeded and called.

Every backend is one function ``apply(augment, x, targets, key, views)`` that returns
``views`` pairs ``(augmented_x, augmented_targets)``. ``targets`` holds the other parts of
the item the backend transforms together with ``x`` (masks, boxes, ...); ``key`` is the
item's ``(seed, epoch, index)``. The RNG contract of each backend, which the tests reproduce
by calling the wrapped library directly:

========================  ====================================================================
backend                   what is seeded for one item (restored afterwards where global)
========================  ====================================================================
``torchvision``           ``torch.default_generator.manual_seed(item_seed(*key))``
``albumentations``        ``augment.set_random_state(item_rng(*key),
                          random.Random(item_seed(*key)))`` (the pipeline's own generators)
``textattack``            ``random.seed(s)`` and ``np.random.seed(s % 2**32)`` with
                          ``s = item_seed(*key)``; one of several outputs is picked with
                          ``item_rng(*key)``
``text_op``               ``augment.apply(x, item_rng(*key))``
``callable`` with ``rng``  ``augment(x, rng=item_rng(*key))``
``callable``              torch's CPU generator, ``random`` and ``np.random`` seeded with
                          ``item_seed(*key)`` (``% 2**32`` for NumPy)
========================  ====================================================================

With ``views > 1`` the backend is seeded once and called ``views`` times in a row, so the
first view equals the ``views=1`` output and the others are further draws of that stream.
"""

from __future__ import annotations

import inspect
import random
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from dataperf._errors import InputTypeError, InputValueError
from dataperf._rng import item_rng, item_seed, shared_key
from dataperf._validate import describe

__all__ = ["BACKENDS", "resolve_backend", "target_names", "ACCEPTED"]

Key = tuple[int, int, int]
Result = list[tuple[Any, dict[Any, Any]]]

ACCEPTED = (
    "a torchvision.transforms.v2 transform (e.g. v2.Compose([...])), an albumentations "
    "transform or Compose, a TextAttack Augmenter, a dataperf.text op, or any callable "
    "(x) -> x or (x, *, rng) -> x"
)


# --------------------------------------------------------------------------- recognition
def _instance_of(obj: Any, module: str, name: str) -> bool:
    """isinstance against ``module.name`` without importing ``module`` (it is loaded if used)."""
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls is not None and isinstance(obj, cls)


def _is_torchvision(obj: Any) -> bool:
    return _instance_of(obj, "torchvision.transforms.v2", "Transform")


def _is_albumentations(obj: Any) -> bool:
    return _instance_of(obj, "albumentations.core.transforms_interface", "BasicTransform") or (
        _instance_of(obj, "albumentations.core.composition", "BaseCompose")
    )


def _is_textattack(obj: Any) -> bool:
    return _instance_of(obj, "textattack.augmentation.augmenter", "Augmenter")


def _is_text_op(obj: Any) -> bool:
    return _instance_of(obj, "dataperf.text", "TextOp")


def _takes_rng(fn: Callable[..., Any]) -> bool:
    try:
        return "rng" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def resolve_backend(augment: Any) -> str:
    """Name the backend that runs ``augment``; raise ``TypeError`` listing what is accepted."""
    if _is_torchvision(augment):
        return "torchvision"
    if _is_albumentations(augment):
        return "albumentations"
    if _is_textattack(augment):
        return "textattack"
    if _is_text_op(augment):
        return "text_op"
    if callable(augment):
        return "callable_rng" if _takes_rng(augment) else "callable"
    raise InputTypeError(f"augment must be {ACCEPTED}; got {describe(augment)}.")


def target_names(backend: str, augment: Any, item: Any, field: Any) -> list[Any]:
    """Keys/positions of ``item`` that ``backend`` transforms together with ``item[field]``."""
    if backend == "albumentations" and isinstance(item, Mapping):
        accepted = getattr(augment, "available_keys", ())
        return [n for n in item if n != field and n != "image" and n in accepted]
    if backend == "torchvision" and isinstance(item, (Mapping, tuple, list)):
        from torchvision import tv_tensors

        names = item if isinstance(item, Mapping) else range(len(item))
        return [n for n in names if n != field and isinstance(item[n], tv_tensors.TVTensor)]
    return []


# --------------------------------------------------------------------------- input checks
def _is_pil(x: Any) -> bool:
    return _instance_of(x, "PIL.Image", "Image")


def _is_image_like(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor)) or _is_pil(x)


_ALBUMENTATIONS_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))


def _check_albumentations_input(x: Any, index: int) -> None:
    if isinstance(x, np.ndarray) and x.ndim in (2, 3) and x.dtype in _ALBUMENTATIONS_DTYPES:
        return  # the common case, first: this runs once per item
    where = f"item {index}: albumentations works on NumPy images (H, W) or (H, W, C)"
    if isinstance(x, torch.Tensor):
        raise InputTypeError(
            f"{where}; got {describe(x)}. Fix: convert with x.permute(1, 2, 0).numpy() for a "
            "(C, H, W) tensor, or use a torchvision.transforms.v2 pipeline for tensors."
        )
    if _is_pil(x):
        raise InputTypeError(f"{where}; got {describe(x)}. Fix: convert with numpy.asarray(image).")
    if not isinstance(x, np.ndarray):
        raise InputTypeError(
            f"{where}; got {describe(x)}. Fix: pass a NumPy uint8 or float32 array."
        )
    if x.ndim not in (2, 3):
        raise InputValueError(
            f"{where}; got {describe(x)}. Fix: give one image per item "
            "(use images=... in a dict item for a stack)."
        )
    if x.dtype not in (np.uint8, np.float32):
        raise InputTypeError(
            f"{where} of dtype uint8 or float32; got {describe(x)}. Fix: convert with "
            "x.astype(np.float32) (values in [0, 1]) or x.astype(np.uint8) (values in [0, 255])."
        )


def _converts_arrays(augment: Any) -> bool:
    """True when the v2 pipeline starts with a transform that turns NumPy images into tensors."""
    from torchvision.transforms import v2

    while isinstance(augment, v2.Compose) and augment.transforms:
        augment = augment.transforms[0]
    return isinstance(augment, (v2.ToImage, v2.ToTensor))


def _check_torchvision_input(x: Any, index: int, augment: Any) -> None:
    where = f"item {index}: torchvision v2 transforms work on tensors (..., C, H, W) and PIL images"
    if isinstance(x, np.ndarray) and not _converts_arrays(augment):
        raise InputTypeError(
            f"{where}; got {describe(x)}, which v2 transforms would return unchanged. Fix: "
            "convert with torch.from_numpy(x).permute(2, 0, 1) (or v2.ToImage() first in the "
            "pipeline), or use an albumentations pipeline for NumPy images."
        )
    if isinstance(x, torch.Tensor):
        if x.ndim < 2:
            raise InputValueError(
                f"{where}; got {describe(x)}. Fix: give an image tensor (C, H, W)."
            )
        if x.ndim == 3 and x.shape[-1] in (1, 3, 4) and x.shape[0] not in (1, 3, 4):
            raise InputValueError(
                f"{where}; got {describe(x)}, which looks channels-last (H, W, C). "
                "Fix: x.permute(2, 0, 1)."
            )
    elif not (_is_pil(x) or isinstance(x, np.ndarray)):
        raise InputTypeError(f"{where}; got {describe(x)}. Fix: pass a tensor or a PIL image.")


def _check_text_input(x: Any, index: int, backend: str) -> None:
    if not isinstance(x, str):
        raise InputTypeError(
            f"item {index}: the {backend} augmenter works on text; got {describe(x)}. Fix: "
            "point field= at the item's text, or decode it to str first."
        )


def check_output(out: Any, x: Any, index: int, augment: Any) -> Any:
    """Reject outputs of the wrong kind: None, non-text for text, non-image for an image."""
    if type(out) is type(x):  # the common case
        return out
    problem = None
    if out is None:
        problem = "returned None (did it modify its input in place and return nothing?)"
    elif isinstance(x, str) and not isinstance(out, str):
        problem = f"returned {describe(out)} for a text input"
    elif _is_image_like(x) and not _is_image_like(out):
        problem = f"returned {describe(out)} for an image input"
    if problem:
        raise InputTypeError(
            f"item {index}: augment {type(augment).__name__} {problem}. An augment must return "
            "the augmented input, of the same kind (image -> image, text -> str)."
        )
    return out


# --------------------------------------------------------------------------- backends
def _torchvision(augment: Any, x: Any, targets: dict, key: Key, views: int) -> Result:
    _check_torchvision_input(x, key[2], augment)
    names = list(targets)
    gen = torch.default_generator
    state = gen.get_state()
    gen.manual_seed(item_seed(*key))
    try:
        outs = [augment(x, *targets.values()) if names else augment(x) for _ in range(views)]
    finally:
        gen.set_state(state)
    if not names:
        return [(check_output(out, x, key[2], augment), {}) for out in outs]
    return [(check_output(o[0], x, key[2], augment), dict(zip(names, o[1:]))) for o in outs]


def _albumentations(augment: Any, x: Any, targets: dict, key: Key, views: int) -> Result:
    _check_albumentations_input(x, key[2])
    rng, py_random, _ = shared_key(*key)
    augment.set_random_state(rng, py_random)
    results = []
    for _ in range(views):
        out = augment(image=x, **targets)
        image = check_output(out.get("image"), x, key[2], augment)
        results.append((image, {name: out[name] for name in targets}))
    return results


def _textattack(augment: Any, x: Any, targets: dict, key: Key, views: int) -> Result:
    from dataperf.augment.textattack_adapter import textattack_views

    _check_text_input(x, key[2], "TextAttack")
    rng, _, seed = shared_key(*key)
    return [(out, {}) for out in textattack_views(augment, x, views, seed=seed, rng=rng)]


def _text_op(augment: Any, x: Any, targets: dict, key: Key, views: int) -> Result:
    _check_text_input(x, key[2], "dataperf.text")
    rng = shared_key(*key)[0]
    return [(check_output(augment.apply(x, rng), x, key[2], augment), {}) for _ in range(views)]


def _callable_rng(augment: Any, x: Any, targets: dict, key: Key, views: int) -> Result:
    rng = item_rng(*key)  # a new one: user code may keep it
    return [(check_output(augment(x, rng=rng), x, key[2], augment), {}) for _ in range(views)]


def _callable(augment: Any, x: Any, targets: dict, key: Key, views: int) -> Result:
    seed = item_seed(*key)
    gen = torch.default_generator
    states = gen.get_state(), random.getstate(), np.random.get_state()  # noqa: NPY002
    gen.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        outs = [augment(x) for _ in range(views)]
    finally:
        gen.set_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])  # noqa: NPY002
    return [(check_output(out, x, key[2], augment), {}) for out in outs]


BACKENDS: dict[str, Callable[[Any, Any, dict, Key, int], Result]] = {
    "torchvision": _torchvision,
    "albumentations": _albumentations,
    "textattack": _textattack,
    "text_op": _text_op,
    "callable_rng": _callable_rng,
    "callable": _callable,
}
