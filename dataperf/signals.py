"""``Signals``: what one pass of a model over some data tells about each item.

Every algorithm after the model pass (scores, selectors, the hardness sampler, label-issue
finders) takes ``Signals`` or its arrays, so one expensive pass can feed all of them, and users
who already have model outputs can build ``Signals`` from arrays directly.

Files
-----
``Signals.save(folder)`` writes ``folder/signals.npz`` (the arrays) and ``folder/meta.json``
(format name and version, provenance, the names of the per-item columns). ``Signals.load``
reads them back with ``allow_pickle=False``: nothing is ever unpickled. Item ids are stored as
integers or as Unicode strings (e.g. file paths), never as objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._validate import check_embeddings, check_labels, check_probs, describe

__all__ = ["Signals", "FORMAT", "VERSION"]

FORMAT = "dataperf-signals"
VERSION = 1
_ARRAYS = ("probs", "embeddings", "labels", "mc_probs", "ids")


def _check_ids(ids: Any, n: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"ids must have shape ({n},) (one per item); got shape {ids.shape}.")
    if ids.dtype.kind in "iu":
        return ids.astype(np.int64)
    if ids.dtype.kind in "OSU":
        return ids.astype(str)
    raise TypeError(f"ids must be integers or strings (e.g. file paths); got dtype {ids.dtype}.")


def _check_columns(columns: Any, n: int) -> dict[str, np.ndarray]:
    if not isinstance(columns, Mapping):
        raise TypeError(
            f"meta['columns'] must be a dict of name -> (N,) array; got {describe(columns)}."
        )
    out = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if values.shape[:1] != (n,):
            raise ValueError(
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
        layer).
    labels : (N,) int array, optional
        Known labels in ``[0, K)``; None for an unlabelled pool.
    mc_probs : (N, T, K) float array, optional
        Probabilities from T stochastic (MC-dropout) passes.
    ids : (N,) int or str array, optional
        Item identifiers; dataset positions ``0..N-1`` by default, file paths for image folders.
    meta : dict, optional
        Provenance (e.g. ``model``, ``layer``, ``out_of_sample``: whether the probs come from a
        model that did not train on these items) as JSON-serialisable values, and optional
        per-item metadata columns under ``meta["columns"]`` (name -> (N,) array).

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
    ids: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        probs = check_probs(self.probs, "probs")
        n, k = probs.shape
        set_ = object.__setattr__
        set_(self, "probs", probs)
        if self.embeddings is not None:
            embeddings = check_embeddings(self.embeddings, "embeddings")
            if len(embeddings) != n:
                raise ValueError(
                    f"embeddings must have one row per item: probs has {n} rows, embeddings "
                    f"{len(embeddings)}."
                )
            set_(self, "embeddings", embeddings)
        if self.labels is not None:
            set_(self, "labels", check_labels(self.labels, n, k))
        if self.mc_probs is not None:
            mc = np.asarray(self.mc_probs)
            if mc.ndim != 3 or mc.shape[0] != n or mc.shape[2] != k:
                raise ValueError(
                    f"mc_probs must have shape (N, T, K) = ({n}, T, {k}); got {mc.shape}."
                )
            set_(self, "mc_probs", check_probs(mc, "mc_probs", ndim=3))
        ids = np.arange(n, dtype=np.int64) if self.ids is None else _check_ids(self.ids, n)
        set_(self, "ids", ids)
        if not isinstance(self.meta, Mapping):
            raise TypeError(f"meta must be a dict; got {describe(self.meta)}.")
        meta = dict(self.meta)
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
        """The items at ``index`` (an index array, a boolean mask or a slice) as new Signals."""
        if isinstance(index, (int, np.integer)):
            raise TypeError(
                "Signals are indexed by an index array, a boolean mask or a slice; for one item "
                f"use signals[[{int(index)}]]."
            )
        rows = np.arange(len(self))[index]

        def take(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[rows]

        meta = dict(self.meta)
        if "columns" in meta:
            meta["columns"] = {name: values[rows] for name, values in meta["columns"].items()}
        return replace(
            self,
            probs=self.probs[rows],
            embeddings=take(self.embeddings),
            labels=take(self.labels),
            mc_probs=take(self.mc_probs),
            ids=self.ids[rows],
            meta=meta,
        )

    @classmethod
    def concat(cls, parts: Sequence[Signals]) -> Signals:
        """Concatenate Signals of the same classes and embedding size, in order.

        An array present in only some parts is an error; provenance comes from the first part,
        except ``out_of_sample``, which holds only if it holds for every part.
        """
        parts = list(parts)
        if not parts or not all(isinstance(p, Signals) for p in parts):
            raise TypeError("concat needs a non-empty sequence of Signals")

        def joined(name: str) -> np.ndarray | None:
            arrays = [getattr(p, name) for p in parts]
            present = [a is not None for a in arrays]
            if not any(present):
                return None
            if not all(present):
                missing = [i for i, here in enumerate(present) if not here]
                raise ValueError(
                    f"cannot concatenate: {name} is missing in part(s) {missing} and present in "
                    "the others. Drop it everywhere or provide it everywhere."
                )
            shapes = {a.shape[1:] for a in arrays}
            if len(shapes) > 1:
                raise ValueError(f"cannot concatenate {name} of different shapes {sorted(shapes)}")
            return np.concatenate(arrays)

        ids = [p.ids for p in parts]
        if len({i.dtype.kind for i in ids}) > 1:
            raise ValueError("cannot concatenate integer ids with string ids")
        meta = dict(parts[0].meta)
        if any("out_of_sample" in p.meta for p in parts):
            meta["out_of_sample"] = all(bool(p.meta.get("out_of_sample")) for p in parts)
        names = [set(p.meta.get("columns", {})) for p in parts]
        if any(n != names[0] for n in names):
            raise ValueError(f"cannot concatenate: meta columns differ between parts: {names}")
        if names[0]:
            meta["columns"] = {
                c: np.concatenate([p.meta["columns"][c] for p in parts]) for c in names[0]
            }
        return cls(
            probs=joined("probs"),
            embeddings=joined("embeddings"),
            labels=joined("labels"),
            mc_probs=joined("mc_probs"),
            ids=np.concatenate(ids),
            meta=meta,
        )

    # ----------------------------------------------------------------- files
    def save(self, folder: str | Path) -> Path:
        """Write ``folder/signals.npz`` and ``folder/meta.json``; return the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {k: v for k, v in self.meta.items() if k != "columns"}
        columns = self.meta.get("columns", {})
        try:
            header = json.dumps(
                {"format": FORMAT, "version": VERSION, "meta": meta, "columns": sorted(columns)},
                indent=2,
            )
        except TypeError as err:
            raise TypeError(
                f"Signals.meta must hold JSON-serialisable values to be saved ({err}); put "
                "per-item arrays under meta['columns'] instead."
            ) from err
        arrays = {n: getattr(self, n) for n in _ARRAYS if getattr(self, n) is not None}
        arrays.update({f"column:{name}": values for name, values in columns.items()})
        np.savez(folder / "signals.npz", **arrays)
        (folder / "meta.json").write_text(header + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Signals:
        """Read Signals written by :meth:`save` (never unpickles)."""
        folder = Path(folder)
        header_path, arrays_path = folder / "meta.json", folder / "signals.npz"
        if not header_path.is_file() or not arrays_path.is_file():
            raise FileNotFoundError(
                f"{folder} is not a saved Signals folder: expected meta.json and signals.npz in "
                "it (written by Signals.save or `dataperf probe --out`)."
            )
        header = json.loads(header_path.read_text())
        if header.get("format") != FORMAT:
            raise ValueError(
                f"{header_path} is not a {FORMAT} file (format={header.get('format')!r})"
            )
        if header.get("version") != VERSION:
            raise ValueError(
                f"{folder} holds Signals format version {header.get('version')}; this dataperf "
                f"reads version {VERSION}. Re-create it with this version of dataperf."
            )
        with np.load(arrays_path, allow_pickle=False) as data:
            arrays = {n: data[n] for n in _ARRAYS if n in data.files}
            columns = {name: data[f"column:{name}"] for name in header.get("columns", [])}
        meta = dict(header.get("meta", {}))
        if columns:
            meta["columns"] = columns
        return cls(**arrays, meta=meta)

    def __repr__(self) -> str:
        parts = [f"N={len(self)}", f"K={self.num_classes}"]
        if self.embeddings is not None:
            parts.append(f"D={self.embeddings.shape[1]}")
        if self.mc_probs is not None:
            parts.append(f"T={self.mc_probs.shape[1]}")
        parts.append("labelled" if self.labels is not None else "unlabelled")
        return f"Signals({', '.join(parts)})"
