"""Small helpers that describe values in error messages."""

from __future__ import annotations

import mmap
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
    """Validate an integer count ``1 <= k <= upper`` and return it as ``int``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputTypeError(f"{name} must be an int; got {describe(k)}.")
    k = int(k)
    if k < 1 or k > upper:
        raise InputValueError(
            f"{name} must be between 1 and the number of {what} ({upper}); got {k}. "
            f"Pass a {name} in that range."
        )
    return k


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
    """``torch.device(device)``; None means CUDA when available, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (TypeError, RuntimeError) as err:
        raise InputValueError(
            f"device must be None, 'cpu', 'cuda' or a torch.device; got {device!r}."
        ) from err
