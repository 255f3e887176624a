"""``Signals``: what one pass of a model over some data tells about each item.

Every algorithm after the model pass (scores, selectors, the hardness sampler, label-issue
finders) takes ``Signals`` or its arrays, so one expensive pass can feed all of them, and users
who already have model outputs can build ``Signals`` from arrays directly.

Files
-----
``Signals.save(folder)`` writes one ``.npy`` file per array and ``meta.json`` (format name and
version, provenance, column names) into a sibling folder, then swaps it in: a kill at any
moment leaves the old complete folder or the new one. ``Signals.load(folder)`` opens the arrays
memory-mapped (``mmap=True``), so N x D never has to fit in RAM, and never unpickles. Item ids
are integers, or strings (e.g. file paths) stored compactly as a folder table plus names. The
layout and its guarantees are described in ``dataperf._store``; folders written by format
version 1 (``signals.npz`` + ``meta.json``) still load. :func:`check_output_dir` checks an
output folder before any expensive work.

Memory
------
Memory-mapped arrays are validated in chunks of rows read from their files, so memory stays
bounded, and they stay mapped (their dtype kept: float16 embeddings stay float16);
``signals[rows]`` copies only those rows into RAM. String ids loaded from a folder stay encoded
until ``signals.ids`` is first read, which decodes all N of them; ``signals[rows].ids``
decodes only those rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._store import (
    FORMAT,
    VERSION,
    PathIds,
    check_output_dir,
    ids_files,
    make_header,
    read_folder,
    write_folder,
)
from dataperf._validate import (
    check_embeddings,
    check_labels,
    check_probs,
    check_unique,
    describe,
    read_rows,
)

__all__ = ["Signals", "FORMAT", "VERSION", "check_output_dir"]

#: The per-item arrays of Signals other than ids, in file order.
ARRAYS = ("probs", "embeddings", "labels", "mc_probs", "fingerprints", "index")
_CHUNK_BYTES = 32 << 20  # rows of memory-mapped arrays are validated this many bytes at a time


def _check_ids(ids: Any, n: int) -> np.ndarray | PathIds:
    if isinstance(ids, PathIds):
        if len(ids) != n:
            raise InputValueError(f"ids must have {n} entries (one per item); got {len(ids)}.")
        _check_unique_path_ids(ids)
        return ids
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise InputValueError(f"ids must have shape ({n},) (one per item); got shape {ids.shape}.")
    if ids.dtype.kind in "iu":
        out = ids.astype(np.int64, copy=False)
    elif ids.dtype.kind in "OSU":
        out = ids.astype(str, copy=False)
    else:
        raise InputTypeError(
            f"ids must be integers or strings (e.g. file paths); got dtype {ids.dtype}."
        )
    check_unique(out, "ids")
    return out


def _check_unique_path_ids(ids: PathIds) -> None:
    """Refuse encoded string ids that repeat (checked without decoding all of them)."""
    folders = np.asarray(ids.folders)
    check_unique(folders, "the folder table of the string ids (ids_folders.npy)")
    folder, name = np.asarray(ids.folder), np.asarray(ids.name)
    if len(folder) and (folder.min() < 0 or folder.max() >= len(folders)):
        raise InputValueError(
            f"string ids refer to folder codes outside [0, {len(folders)}); the saved ids are "
            "damaged. Fix: re-save the Signals."
        )
    if len(folder) < 2:
        return
    order = np.lexsort((name, folder))
    same = (folder[order][1:] == folder[order][:-1]) & (name[order][1:] == name[order][:-1])
    if same.any():
        row = int(order[np.flatnonzero(same)[0]])
        hits = np.flatnonzero((folder == folder[row]) & (name == name[row]))
        value = str(ids.take(np.array([row])).decode()[0])
        raise InputValueError(
            f"ids must be unique (one per item); {value!r:.80} appears {len(hits)} times (at "
            f"positions {hits[:5].tolist()}{' ...' if len(hits) > 5 else ''}). Fix: drop or "
            "rename the duplicates so that each item has its own id."
        )


def _check_index(index: Any, n: int) -> np.ndarray:
    arr = np.asarray(index)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
        raise InputTypeError(
            f"index must be an (N,) int array of dataset positions; got {describe(index)}."
        )
    if arr.shape != (n,):
        raise InputValueError(
            f"index must have shape ({n},) (one per item); got shape {arr.shape}."
        )
    if n and arr.min() < 0:
        raise InputValueError(f"index holds dataset positions, so >= 0; got {int(arr.min())}.")
    return arr.astype(np.int64, copy=False)


def _checked(array: Any, n: int, check: Callable[[Any, int], np.ndarray]) -> np.ndarray:
    """``check(array, n)`` (``n``: the rows expected); a memory-mapped array is checked in
    chunks of rows and kept mapped, unless the check changes its values or dtype (then it is
    checked, converted, in RAM)."""
    if not isinstance(array, np.memmap) or array.ndim == 0 or len(array) != n or n == 0:
        return check(array, n)
    row_bytes = max(1, array.itemsize * int(np.prod(array.shape[1:], dtype=np.int64)))
    step = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, len(array), step):
        chunk = read_rows(array, start, min(start + step, len(array)))
        checked = check(chunk, len(chunk))
        changed = checked is not chunk and (
            checked.dtype != chunk.dtype or not np.array_equal(checked, chunk)
        )
        del chunk, checked  # before the next chunk is read: one chunk in RAM at a time
        if changed:
            return check(np.array(array), n)
    return array


def _rows(array: np.ndarray, n: int, name: str) -> np.ndarray:
    if len(array) != n:
        raise InputValueError(
            f"{name} must have one row per item: probs has {n} rows, {name} {len(array)}."
        )
    return array


class _IdsField:
    """The ``ids`` field: string ids loaded from a folder stay encoded (:class:`PathIds`) until
    ``ids`` is first read, which decodes them once."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None  # the dataclass default
        raw = obj.__dict__["_ids"]
        if isinstance(raw, PathIds):
            if "_ids_decoded" not in obj.__dict__:
                obj.__dict__["_ids_decoded"] = raw.decode()
            return obj.__dict__["_ids_decoded"]
        return raw

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["_ids"] = value


def _check_columns(columns: Any, n: int) -> dict[str, np.ndarray]:
    if not isinstance(columns, Mapping):
        raise InputTypeError(
            f"meta['columns'] must be a dict of name -> (N,) array; got {describe(columns)}."
        )
    out = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if values.shape[:1] != (n,):
            raise InputValueError(
                f"meta column {name!r} must have one value per item ({n}); "
                f"got shape {values.shape}."
            )
        if values.dtype.kind == "O":
            values = values.astype(str)
        out[str(name)] = values
    return out


@dataclass(frozen=True, eq=False)
class Signals:
    """Per-item model outputs for N items.

    Parameters
    ----------
    probs : (N, K) float array
        Softmax probabilities; rows sum to 1.
    embeddings : (N, D) float array, optional
        Features of each item (by default ``probe`` takes the input of the model's last linear
        layer). Its float dtype is kept (float16 embeddings stay float16).
    labels : (N,) int array, optional
        Known labels in ``[0, K)``; None for an unlabelled pool.
    mc_probs : (N, T, K) float array, optional
        Probabilities from T stochastic (MC-dropout) passes.
    ids : (N,) int or str array, optional
        Item identifiers: file paths for image folders; by default ``index``.
    meta : dict, optional
        Provenance (e.g. ``model``, ``layer``, ``out_of_sample``: whether the probs come from a
        model that did not train on these items) as JSON-serialisable values, and optional
        per-item metadata columns under ``meta["columns"]`` (name -> (N,) array). A 2-D
        ``meta["columns"]["fingerprint"]`` (where older versions kept it) moves to
        ``fingerprints``.
    fingerprints : (N, F) float array, optional
        Model-independent image fingerprints (see ``dataperf.probing.image_fingerprint``);
        the sampler uses them to spot near-copies.
    index : (N,) int array, optional
        Each item's position in the underlying Dataset (what the DataLoader's sampler gave);
        ``0..N-1`` by default.

    Arrays may be memory-mapped (``Signals.load``); they are then validated in chunks and
    stay mapped.

    Examples
    --------
    >>> signals = Signals(probs=softmax_outputs, embeddings=features, labels=y)
    >>> hard = signals[np.argsort(-entropy(signals.probs))[:100]]
    >>> signals.save("runs/signals"); same = Signals.load("runs/signals")
    """

    probs: np.ndarray
    embeddings: np.ndarray | None = None
    labels: np.ndarray | None = None
    mc_probs: np.ndarray | None = None
    ids: np.ndarray | None = _IdsField()  # type: ignore[assignment]
    meta: dict[str, Any] = field(default_factory=dict)
    fingerprints: np.ndarray | None = None
    index: np.ndarray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        probs = np.shape(self.probs)
        n = probs[0] if len(probs) == 2 else -1  # check_probs says what is wrong otherwise
        probs = _checked(self.probs, n, lambda a, rows: check_probs(a, "probs"))
        n, k = probs.shape
        set_(self, "probs", probs)
        if not isinstance(self.meta, Mapping):
            raise InputTypeError(f"meta must be a dict; got {describe(self.meta)}.")
        meta = dict(self.meta)
        fingerprints = self.fingerprints
        columns = meta.get("columns")
        if fingerprints is None and isinstance(columns, Mapping):
            if np.ndim(columns.get("fingerprint")) == 2:  # where older versions kept it
                columns = dict(columns)
                fingerprints = columns.pop("fingerprint")
                meta["columns"] = columns
                if not columns:
                    del meta["columns"]
        for name, value in (("embeddings", self.embeddings), ("fingerprints", fingerprints)):
            if value is not None:
                value = _checked(value, n, lambda a, rows, name=name: check_embeddings(a, name))
                set_(self, name, _rows(value, n, name))
        if self.labels is not None:
            set_(self, "labels", _checked(self.labels, n, lambda a, rows: check_labels(a, rows, k)))
        if self.mc_probs is not None:
            shape = np.shape(self.mc_probs)
            if len(shape) != 3 or shape[0] != n or shape[2] != k:
                raise InputValueError(
                    f"mc_probs must have shape (N, T, K) = ({n}, T, {k}); got {shape}."
                )
            set_(
                self,
                "mc_probs",
                _checked(self.mc_probs, n, lambda a, rows: check_probs(a, "mc_probs", ndim=3)),
            )
        index = np.arange(n, dtype=np.int64) if self.index is None else self.index
        set_(self, "index", _checked(index, n, _check_index))
        raw = self.__dict__["_ids"]
        set_(self, "ids", np.array(index) if raw is None else _check_ids(raw, n))
        if "columns" in meta:
            meta["columns"] = _check_columns(meta["columns"], n)
        set_(self, "meta", meta)

    # ----------------------------------------------------------------- container
    def __len__(self) -> int:
        return len(self.probs)

    @property
    def num_classes(self) -> int:
        """K, the number of classes."""
        return self.probs.shape[1]

    def __getitem__(self, index: Any) -> Signals:
        """The items at ``index`` (an index array, a boolean mask or a slice) as new Signals,
        copied into RAM (only those rows are read from memory-mapped arrays)."""
        if isinstance(index, (int, np.integer)):
            raise InputTypeError(
                "Signals are indexed by an index array, a boolean mask or a slice; for one item "
                f"use signals[[{int(index)}]]."
            )
        rows = np.arange(len(self))[index]

        def take(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else np.asarray(array[rows])

        raw = self.__dict__["_ids"]
        meta = dict(self.meta)
        if "columns" in meta:
            meta["columns"] = {name: take(values) for name, values in meta["columns"].items()}
        return replace(
            self,
            probs=take(self.probs),
            embeddings=take(self.embeddings),
            labels=take(self.labels),
            mc_probs=take(self.mc_probs),
            ids=raw.take(rows) if isinstance(raw, PathIds) else take(raw),
            meta=meta,
            fingerprints=take(self.fingerprints),
            index=take(self.index),
        )

    @classmethod
    def concat(cls, parts: Sequence[Signals]) -> Signals:
        """Concatenate Signals of the same classes and embedding size, in order.

        An array present in only some parts is an error; provenance comes from the first part,
        except ``out_of_sample``, which holds only if it holds for every part.
        """
        parts = list(parts)
        if not parts or not all(isinstance(p, Signals) for p in parts):
            raise InputTypeError("concat needs a non-empty sequence of Signals")

        def joined(name: str) -> np.ndarray | None:
            arrays = [getattr(p, name) for p in parts]
            present = [a is not None for a in arrays]
            if not any(present):
                return None
            if not all(present):
                missing = [i for i, here in enumerate(present) if not here]
                raise InputValueError(
                    f"cannot concatenate: {name} is missing in part(s) {missing} and present in "
                    "the others. Drop it everywhere or provide it everywhere."
                )
            shapes = {a.shape[1:] for a in arrays}
            if len(shapes) > 1:
                raise InputValueError(
                    f"cannot concatenate {name} of different shapes {sorted(shapes)}"
                )
            return np.concatenate(arrays)

        raw = [p.__dict__["_ids"] for p in parts]
        kinds = {"U" if isinstance(i, PathIds) else i.dtype.kind for i in raw}
        if len(kinds) > 1:
            raise InputValueError("cannot concatenate integer ids with string ids")
        if any(isinstance(i, PathIds) for i in raw):
            ids: Any = PathIds.concat(
                [PathIds.encode(i) if isinstance(i, np.ndarray) else i for i in raw]
            )
        else:
            ids = np.concatenate(raw)
        meta = dict(parts[0].meta)
        if any("out_of_sample" in p.meta for p in parts):
            meta["out_of_sample"] = all(bool(p.meta.get("out_of_sample")) for p in parts)
        names = [set(p.meta.get("columns", {})) for p in parts]
        if any(n != names[0] for n in names):
            raise InputValueError(f"cannot concatenate: meta columns differ between parts: {names}")
        if names[0]:
            meta["columns"] = {
                c: np.concatenate([p.meta["columns"][c] for p in parts]) for c in names[0]
            }
        return cls(**{name: joined(name) for name in ARRAYS}, ids=ids, meta=meta)

    # ----------------------------------------------------------------- files
    def save(self, folder: str | Path) -> Path:
        """Write the Signals to ``folder`` atomically (format: ``dataperf._store``).

        The folder may be missing, empty or an earlier Signals folder, which is replaced: a
        kill at any moment leaves the old complete folder or the new one. A non-empty folder
        that holds no Signals is refused (``ValueError``), as is an unwritable place
        (``PermissionError``); both are checked before anything is written.

        Returns
        -------
        Path
            ``folder``.
        """
        meta = {k: v for k, v in self.meta.items() if k != "columns"}
        columns = self.meta.get("columns", {})
        present = [name for name in ARRAYS if getattr(self, name) is not None]
        kind, id_arrays = ids_files(self.__dict__["_ids"])
        header = make_header(present, kind, list(columns), meta)
        arrays = {name: getattr(self, name) for name in present}
        arrays.update(id_arrays)
        arrays.update({f"column_{i}": values for i, values in enumerate(columns.values())})
        return write_folder(folder, arrays, header)

    @classmethod
    def load(cls, folder: str | Path, *, mmap: bool = True) -> Signals:
        """Read Signals written by :meth:`save` or ``probe(out=...)`` (never unpickles).

        Parameters
        ----------
        folder : str or Path
            A Signals folder (format version 1 or 2).
        mmap : bool
            Open the arrays memory-mapped, read-only (format version 2), so that they need
            not fit in RAM; False reads them into RAM.
        """
        arrays, header = read_folder(folder, mmap=mmap)
        unknown = {k for k in arrays if ":" not in k} - {*ARRAYS, "ids"}
        if unknown:
            raise InputValueError(
                f"{folder} is damaged: its meta.json lists unknown arrays {unknown}"
            )
        meta = dict(header.get("meta", {}))
        columns = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("column:")}
        if columns:
            meta["columns"] = columns
        return cls(**{k: v for k, v in arrays.items() if ":" not in k}, meta=meta)

    def __repr__(self) -> str:
        parts = [f"N={len(self)}", f"K={self.num_classes}"]
        if self.embeddings is not None:
            parts.append(f"D={self.embeddings.shape[1]}")
        if self.mc_probs is not None:
            parts.append(f"T={self.mc_probs.shape[1]}")
        parts.append("labelled" if self.labels is not None else "unlabelled")
        return f"Signals({', '.join(parts)})"
