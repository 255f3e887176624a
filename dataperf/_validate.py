"""The one validation policy: shared checks for arguments and arrays, and helpers that describe
values in error messages.

Wrong types raise :class:`~dataperf._errors.InputTypeError` (a ``TypeError``), wrong values
:class:`~dataperf._errors.InputValueError` (a ``ValueError``); each message names what was
expected, what came, and the fix. Bools are refused where numbers are meant, and NaN or infinite
numbers are refused unless a check is told to allow them.
"""

from __future__ import annotations

import math
import mmap
import numbers
import os
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError


def describe(x: Any) -> str:
    """A short description of a value for error messages: type, and shape/dtype for arrays."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    name = f"{type(x).__module__.split('.')[0]}.{type(x).__qualname__}"
    if name.startswith("builtins."):
        name = type(x).__qualname__
    if shape is not None and dtype is not None:
        return f"{name} of shape {tuple(shape)} and dtype {dtype}"
    if isinstance(x, str):
        return f"str {x[:40]!r}{'...' if len(x) > 40 else ''}"
    if isinstance(x, (list, tuple)):
        return f"{name} of length {len(x)}"
    if isinstance(x, dict):
        return f"dict with keys {list(x)[:10]}"
    size = getattr(x, "size", None)
    if size is not None and hasattr(x, "mode"):  # PIL image
        return f"PIL image of size {size} and mode {x.mode}"
    return name


# --- Scalars ---------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """``describe(value)``, followed by the value itself for scalars."""
    if isinstance(value, (str, list, tuple, dict)) or hasattr(value, "shape"):
        return describe(value)
    text = repr(value)
    return f"{describe(value)} {text[:40]}{'...' if len(text) > 40 else ''}"


def _one(name: str) -> str:
    """``"a k"`` for an argument name, ``"a value"`` for a phrase (``"each of seeds"``)."""
    return f"a {name}" if name.isidentifier() else "a value"


def _int_range(low: int | None, high: int | None, high_name: str | None) -> str:
    top = f"{high_name} ({high})" if high_name and high is not None else high
    if low is not None and high is not None:
        return f"an int between {low} and {top}"
    if low == 1:
        return "a positive int (>= 1)"
    if low == 0:
        return "a non-negative int (>= 0)"
    if low is not None:
        return f"an int >= {low}"
    return f"an int <= {top}" if high is not None else "an int"


def check_int(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
    high_name: str | None = None,
    none_means: str = "automatic",
) -> int | None:
    """``value`` as an ``int`` in ``[low, high]`` (either bound optional).

    ``TypeError`` for a bool, a float (even ``10.0``) or anything else that is not an integer;
    ``ValueError`` outside the range. ``None`` is returned as is when ``allow_none``.
    ``high_name`` says what ``high`` is in messages (e.g. ``"the number of items"``),
    ``none_means`` what ``None`` stands for.
    """
    if value is None and allow_none:
        return None
    what = _int_range(low, high, high_name) + (f" or None ({none_means})" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        example = low if low is not None and low > 0 else 10
        raise InputTypeError(
            f"{name} must be {what}; got {_shown(value)}. Pass a whole number such as "
            f"{name}={example}."
        )
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputValueError(
            f"{name} must be {what}; got {value}. Pass {_one(name)} in that range."
        )
    return value


def check_float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    finite: bool = True,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` (an int or a float, not a bool) as a ``float`` in ``[low, high]``.

    NaN is always refused; infinities are refused unless ``finite=False``. ``low_open`` makes
    the lower bound strict (``value > low``), ``high_open`` the upper one (``value < high``).
    """
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    what = ("a finite number" if finite else "a number") + (
        " " + " and ".join(parts) if parts else ""
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(
            f"{name} must be {what} (an int or float); got {_shown(value)}. Pass a number "
            f"such as {name}=1.0 (bools are not numbers here)."
        )
    out = float(value)
    bad = math.isnan(out) or (finite and math.isinf(out))
    bad |= low is not None and (out <= low if low_open else out < low)
    bad |= high is not None and (out >= high if high_open else out > high)
    if bad:
        raise InputValueError(f"{name} must be {what}; got {out}. Pass {_one(name)} in that range.")
    return out


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a ``bool``; only ``True``/``False`` (and NumPy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(
            f"{name} must be True or False; got {_shown(value)}. Pass {name}=True or {name}=False."
        )
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[str], *, fix: str = "") -> str:
    """``value`` if it is one of ``choices`` (strings), else an error listing them.

    ``fix`` replaces the generic "Pick one of them." at the end of the messages (e.g. where
    to get an optional choice).
    """
    choices = list(choices)
    fix = fix or "Pick one of them."
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be one of {choices} (a str); got {_shown(value)}. {fix}")
    if value not in choices:
        raise InputValueError(f"{name} must be one of {choices}; got {value!r}. {fix}")
    return value


def check_batch_size(
    value: Any, name: str = "batch_size", *, allow_none: bool = True
) -> int | None:
    """A positive int chunk size, or ``None`` (automatic) when ``allow_none``."""
    return check_int(value, name, low=1, allow_none=allow_none)


def check_weights(
    weights: Any, name: str, names: Collection[str], *, default: float = 1.0
) -> dict[str, float]:
    """A dict of component name -> finite number >= 0, completed with ``default``.

    ``weights`` may be None (all ``default``) or a mapping whose keys are among ``names``; bools,
    NaN, infinities and negative values are refused.
    """
    if weights is None:
        weights = {}
    if not isinstance(weights, Mapping):
        raise InputTypeError(
            f"{name} must be a dict of component name -> number, e.g. "
            f"{{{next(iter(names))!r}: 2.0}}; got {describe(weights)}."
        )
    unknown = [key for key in weights if key not in names]
    if unknown:
        raise InputValueError(
            f"{name} has unknown component(s) {unknown}; valid: {list(names)}. Fix the names."
        )
    checked = {key: check_float(w, f"{name}[{key!r}]", low=0.0) for key, w in weights.items()}
    return {key: checked.get(key, float(default)) for key in names}


def check_unique(values: Any, name: str) -> None:
    """Refuse a 1-D array (ids, indices) holding a value more than once, naming that value."""
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) < 2:
        return
    order = np.argsort(arr, kind="stable")
    ranked = arr[order]
    same = np.flatnonzero(ranked[1:] == ranked[:-1])
    if len(same):
        value = ranked[same[0]].tolist()
        hits = np.flatnonzero(arr == value)
        where = f"{hits[:5].tolist()}{' ...' if len(hits) > 5 else ''}"
        raise InputValueError(
            f"{name} must be unique (one per item); {value!r:.80} appears {len(hits)} times "
            f"(at positions {where}). Fix: "
            "drop or rename the duplicates so that each item has its own id."
        )


def check_same_classes(
    shape_a: tuple[int, ...], shape_b: tuple[int, ...], what_a: str, what_b: str
) -> None:
    """Refuse two arrays whose last axes (their class counts K) differ, naming both shapes
    (e.g. the probs of pool and test Signals, or probs and the classes of labels)."""
    if shape_a[-1] != shape_b[-1]:
        raise InputValueError(
            f"{what_a} has K={shape_a[-1]} classes but {what_b} has K={shape_b[-1]} (shapes "
            f"{tuple(shape_a)} and {tuple(shape_b)}); both must come from the same model, with "
            "the same classes in the same order. Fix: probe both with the same model."
        )


def pow2_scale(max_abs: float) -> float:
    """A power of two ``s`` with ``max_abs * s`` near 1 (exact scaling: no rounding), so that
    squares and products of scaled values neither overflow nor underflow in float32."""
    if not max_abs > 0 or not math.isfinite(max_abs):
        return 1.0
    return math.ldexp(1.0, -math.frexp(max_abs)[1])


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a 2-D float array, as float64, computed on rows scaled by
    their largest absolute value, so that neither huge (1e200) nor tiny (1e-200) magnitudes
    overflow or underflow when squared.

    Parameters
    ----------
    x : (N, D) float array

    Returns
    -------
    (N,) float64 array
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return np.zeros(len(x))
    top = np.abs(x).max(axis=1)
    safe = np.where(top > 0, top, 1.0)
    scaled = x / safe[:, None]
    return top * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))


# --- Reading arrays that may be memory-mapped -------------------------------------------------


def read_rows(array: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of an array as an in-RAM copy. A memory-mapped array is read from
    its file when possible, so the mapping's pages are not touched and do not count as
    resident memory (a pass over a file larger than RAM stays within one chunk)."""
    if not isinstance(array, np.memmap):
        return np.asarray(array[start:stop])
    row = int(np.prod(array.shape[1:], dtype=np.int64))
    whole = isinstance(array.base, mmap.mmap) and array.flags.c_contiguous and array.filename
    if not whole:  # a view of a mapping: read through the map
        return np.array(array[start:stop])
    offset = array.offset + start * row * array.dtype.itemsize
    flat = np.fromfile(array.filename, dtype=array.dtype, count=(stop - start) * row, offset=offset)
    return flat.reshape((stop - start, *array.shape[1:]))


def release_pages(array: Any) -> None:
    """Drop the pages of a memory-mapped array from this process's resident memory (they stay
    in the page cache and are read back on the next access); anything else: nothing."""
    base = getattr(array, "base", None)
    if isinstance(array, np.memmap) and isinstance(base, mmap.mmap) and hasattr(base, "madvise"):
        try:
            base.madvise(mmap.MADV_DONTNEED)
        except (AttributeError, OSError, ValueError):  # not on this platform: keep the pages
            pass


def first_nonfinite(arr: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN or infinite value of a float array, or None; checked in chunks of
    rows read with :func:`read_rows`, so a memory-mapped array stays on disk."""
    if arr.ndim == 0:
        return None if np.isfinite(arr) else ()
    step = max(1, 2**22 // max(1, int(np.prod(arr.shape[1:], dtype=np.int64))))
    for start in range(0, len(arr), step):
        block = read_rows(arr, start, min(start + step, len(arr)))
        bad = np.argwhere(~np.isfinite(block))
        if len(bad):
            return (int(bad[0][0]) + start, *(int(i) for i in bad[0][1:]))
    return None


# --- Array checks shared by scores, selectors and samplers -------------------------------------

_SUM_TOL = 1e-3  # tolerance on probability rows summing to 1
_RANGE_TOL = 1e-6  # float32 softmax may round a probability a hair above 1


def _as_real_array(x: Any, name: str) -> np.ndarray:
    """``np.asarray(x)`` of a real (integer or floating) dtype, else ``TypeError``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = x if isinstance(x, np.memmap) else np.asarray(x)  # a memory map stays one
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise InputTypeError(
            f"{name} must be a numeric array; got {describe(x)} that NumPy cannot convert "
            f"({err}). Pass a rectangular float array."
        ) from err
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise InputTypeError(
            f"{name} must be a real-valued (float) array; got {describe(x)}. "
            f"Convert it with np.asarray({name}, dtype=np.float64)."
        )
    return arr


def check_probs(probs: Any, name: str = "probs", *, ndim: int = 2) -> np.ndarray:
    """Validate probabilities and return them as a float64 array.

    Parameters
    ----------
    probs : (N, K) array, or (N, T, K) with ``ndim=3``
        Softmax outputs: finite, in [0, 1], each last-axis row summing to 1 within 1e-3.
    name : str
        Name used in error messages.
    ndim : int
        Expected number of dimensions (2 for ``probs``, 3 for MC samples).

    Returns
    -------
    (N, K) or (N, T, K) float64 array, clipped to [0, 1].
    """
    arr = _as_real_array(probs, name)
    shape_txt = "(N, K)" if ndim == 2 else "(N, T, K)"
    if arr.ndim != ndim:
        raise InputValueError(
            f"{name} must have shape {shape_txt}; got {arr.ndim}-D array of shape {arr.shape}."
            + (" For one sample, pass probs[None]." if arr.ndim == ndim - 1 else "")
        )
    if arr.size == 0:
        raise InputValueError(
            f"{name} is empty (shape {arr.shape}); every axis of {shape_txt} must be >= 1. "
            "Pass at least one example with at least one class."
        )
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise InputValueError(
            f"{name} must be finite; got {arr[bad]} at index {bad}. "
            "Remove or fix NaN/inf model outputs before scoring."
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
        raise InputValueError(
            f"{name} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]. "
            "These look like logits: apply softmax first."
        )
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > _SUM_TOL
    if off.any():
        bad = tuple(int(i) for i in np.argwhere(off)[0])
        where = f"row {bad[0]}" if len(bad) == 1 else f"row {bad}"
        raise InputValueError(
            f"{name} rows must sum to 1 (softmax outputs); {where} sums to {sums[bad]:.4g}. "
            "Apply softmax to logits first."
        )
    return np.clip(arr, 0.0, 1.0)


def check_labels(labels: Any, n: int, k: int | None, name: str = "labels") -> np.ndarray:
    """Validate integer class labels and return them as an (n,) int64 array.

    Parameters
    ----------
    labels : (n,) int array
        Class indices in ``[0, k)``.
    n : int
        Required length (number of examples).
    k : int or None
        Number of classes; None checks only that the indices are ``>= 0``.
    name : str
        Name used in error messages.
    """
    if hasattr(labels, "detach") and hasattr(labels, "cpu"):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InputTypeError(
            f"{name} must be an integer array of class indices; got {describe(labels)}. "
            f"Convert with np.asarray({name}).astype(np.int64) (one-hot labels: .argmax(1))."
        )
    if arr.ndim != 1:
        raise InputValueError(
            f"{name} must have shape (N,); got shape {arr.shape}. "
            "Pass one class index per example (one-hot labels: .argmax(1))."
        )
    if len(arr) != n:
        raise InputValueError(
            f"{name} must have one entry per example: expected {n}, got {len(arr)}. "
            "Check that labels and scores come from the same examples."
        )
    upper = np.inf if k is None else k
    if n and (arr.min() < 0 or arr.max() >= upper):
        bad = int(np.argmax((arr < 0) | (arr >= upper)))
        allowed = ">= 0" if k is None else f"in [0, {k})"
        raise InputValueError(
            f"{name} must be class indices {allowed}; got {int(arr[bad])} at position {bad}. "
            "Check that labels use the same class numbering as the model outputs."
        )
    return arr.astype(np.int64, copy=False)


def check_embeddings(x: Any, name: str = "embeddings", dim: int | None = None) -> np.ndarray:
    """Validate an (N, D) embedding matrix: 2-D, non-empty, finite, D == ``dim`` if given.

    Returns a floating array (float32/float64 kept, integers converted to float64); it is not
    copied when already floating.
    """
    arr = _as_real_array(x, name)
    if arr.ndim != 2:
        raise InputValueError(
            f"{name} must have shape (N, D); got {arr.ndim}-D array of shape {arr.shape}. "
            + ("Use x.reshape(len(x), -1) to flatten." if arr.ndim > 2 else "Use x[None].")
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputValueError(
            f"{name} is empty (shape {arr.shape}); need N >= 1 rows of D >= 1 features."
        )
    if dim is not None and arr.shape[1] != dim:
        raise InputValueError(
            f"{name} must have D = {dim} features to match the other embeddings; "
            f"got shape {arr.shape}. Take both from the same model layer."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    bad = first_nonfinite(arr)
    if bad is not None:
        raise InputValueError(
            f"{name} must be finite; got {arr[bad]} at index {bad}. "
            "Remove or fix rows with NaN/inf embeddings."
        )
    return arr


def check_count(k: Any, upper: int, name: str = "k", *, what: str = "reference points") -> int:
    """Validate an integer count ``1 <= k <= upper`` and return it as ``int``.

    ``TypeError`` for a bool, a float or anything else that is not an integer; ``ValueError``
    outside ``[1, upper]``, and when there is nothing to count from (``upper == 0``).
    """
    k = check_int(k, name)
    if upper < 1:
        raise InputValueError(
            f"there are no {what} (N=0), so {name}={k} cannot be met; {name} must be between 1 "
            f"and the number of {what}. Pass at least one."
        )
    if k < 1 or k > upper:
        raise InputValueError(
            f"{name} must be between 1 and the number of {what} ({upper}); got {k}. "
            f"Pass a {name} in that range (at most {upper})."
        )
    return k


def check_position(i: Any, n: int, name: str) -> int:
    """A position into ``n`` items, ``-n <= i < n`` (negative counts from the end), as
    ``0 <= i < n``. ``TypeError`` for a non-integer (or a bool), ``IndexError`` outside."""
    i = check_int(i, name)
    if not -n <= i < n:
        raise IndexError(f"{name} must be an int in [0, {n}) (or -{n} to -1); got {i}.")
    return i % n


def check_signals(value: Any, name: str = "signals", *, fix: str = "") -> Any:
    """``value`` if it is a :class:`~dataperf.signals.Signals`, else ``TypeError`` naming what
    came; ``fix`` says how to get one (default: build one with ``Signals(...)``)."""
    from dataperf.signals import Signals  # signals imports this module

    if not isinstance(value, Signals):
        fix = fix or "Build one with Signals(probs=..., embeddings=..., labels=...)."
        raise InputTypeError(f"{name} must be a dataperf Signals; got {describe(value)}. {fix}")
    return value


def check_indices(idx: Any, k: int, n: int, name: str) -> np.ndarray:
    """Validate what a selection method ``name`` returned: ``k`` distinct ints in ``[0, n)``."""
    arr = np.asarray(idx)
    if (
        arr.shape != (k,)
        or arr.dtype.kind not in "iu"
        or len(np.unique(arr)) != k
        or (k and (arr.min() < 0 or arr.max() >= n))
    ):
        raise InputValueError(
            f"method {name!r} must return {k} distinct int indices in [0, {n}); got "
            f"{describe(idx)}. Fix: return a ({k},) int array of distinct positions."
        )
    return arr.astype(np.int64)


def resolve_device(device: Any) -> Any:
    """``torch.device(device)``, checked to exist on this machine; None means CUDA when
    available, else the CPU. Every API that takes ``device=`` resolves it here.

    Raises
    ------
    InputTypeError
        ``device`` is not None, a str or a torch.device.
    InputValueError
        An unknown device string, or a device this machine does not have (e.g. ``"cuda"``
        without a CUDA GPU, or ``"cuda:3"`` on a machine with two GPUs).
    """
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)) or isinstance(device, bool):
        raise InputTypeError(
            f"device must be None, a str such as 'cpu' or 'cuda', or a torch.device; got "
            f"{describe(device)}."
        )
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError, ValueError) as err:
        raise InputValueError(
            f"device must be None, 'cpu', 'cuda', 'cuda:<index>' or a torch.device; got {device!r}."
        ) from err
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputValueError(
                f"device={device!r} was asked for, but this machine has no usable CUDA GPU "
                "(no NVIDIA driver, or torch built without CUDA). Fix: pass device='cpu', or "
                "device=None to use a GPU only when there is one."
            )
        if dev.index is not None and dev.index >= count:
            raise InputValueError(
                f"device={device!r} was asked for, but this machine has {count} CUDA GPU(s) "
                f"(cuda:0 to cuda:{count - 1}). Fix: pass one of those, or device=None."
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputValueError(
            f"device={device!r} was asked for, but Apple MPS is not available here. Fix: pass "
            "device='cpu' or device=None."
        )
    return dev


check_device = resolve_device


# --- Sizes of arrays read from files ----------------------------------------------------------

#: Environment variable: the most bytes one array read from a file may take (default 16 GiB).
MAX_ARRAY_BYTES_ENV = "DATAPERF_MAX_ARRAY_BYTES"
_DEFAULT_MAX_ARRAY_BYTES = 16 << 30


def max_array_bytes() -> int:
    """The cap on one array read from a file: ``$DATAPERF_MAX_ARRAY_BYTES`` or 16 GiB."""
    raw = os.environ.get(MAX_ARRAY_BYTES_ENV)
    if raw is None or not raw.strip():
        return _DEFAULT_MAX_ARRAY_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        value = -1
    if value < 1:
        raise InputValueError(
            f"${MAX_ARRAY_BYTES_ENV} must be a positive number of bytes; got {raw!r}. Fix: set "
            f"it to e.g. {_DEFAULT_MAX_ARRAY_BYTES} or unset it."
        )
    return value
