"""Signals folders on disk: the format, atomic replacement, compact string ids (private).

``Signals.save`` / ``Signals.load`` and ``probe(out=...)`` use this module; users call
:func:`check_output_dir` (re-exported by ``dataperf.signals``).

Format, version 2 (written by this version)
-------------------------------------------
One ``.npy`` file per array, and ``meta.json``::

    probs.npy         (N, K) float64
    embeddings.npy    (N, D) float16, float32 or float64     optional
    labels.npy        (N,) int64                              optional
    mc_probs.npy      (N, T, K) float64                       optional
    fingerprints.npy  (N, F) float                            optional
    index.npy         (N,) int64, each item's dataset index
    ids.npy           (N,) int64                              integer ids, or string ids as:
    ids_folder.npy    (N,) int32, the code of each id's folder (its text up to the last "/")
    ids_folders.npy   (P,) str, the distinct folders
    ids_name.npy      (N,) bytes, the rest of each id, UTF-8 (fixed width: the longest name)
    column_<i>.npy    (N, ...) per-item metadata column i (its name is in meta.json)
    meta.json         format, version, the arrays present, provenance, column names

``meta.json`` is written last and marks the folder complete. Arrays open memory-mapped, so an
N x D matrix never has to fit in RAM; nothing is ever unpickled. Ten million file paths such
as ``/data/train/n01440764/n01440764_10026.JPEG`` take ~250 MB this way instead of ~1.7 GB as
a NumPy string array (measured: encoding takes ~0.5 s and decoding ~1 s per million ids).
Version 1 folders (``signals.npz`` + ``meta.json``) still load.

Atomic replacement
------------------
A folder is written aside (``.<name>.tmp-<pid>-<random>``, files fsynced, ``meta.json`` last)
and swapped in: the old folder is renamed to ``.<name>.old-<pid>-<random>``, the new one to
``<name>``, then the old one is deleted. A kill at any moment leaves the old complete folder or
the new complete one. In the one window between the two renames ``<name>`` is missing: the
next ``load`` finds the complete ``.old-*`` sibling, renames it back and warns. A ``.tmp-*``
sibling left by a killed save is incomplete or unused and may be deleted.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError, OutputPathError
from dataperf._files import atomic_write_text, fsync_dir
from dataperf._validate import MAX_ARRAY_BYTES_ENV, max_array_bytes

__all__ = [
    "FORMAT",
    "VERSION",
    "PathIds",
    "check_output_dir",
    "ids_files",
    "is_signals_dir",
    "make_header",
    "load_npz",
    "read_folder",
    "read_npy",
    "write_array",
    "write_folder",
    "write_header",
]

FORMAT = "dataperf-signals"
VERSION = 2
HEADER = "meta.json"
V1_ARRAYS = "signals.npz"
RUN_FILE = ".probe-run.json"  # a folder that `probe(out=...)` is writing (see dataperf._shards)
_MAX_INFLATION = 200  # refuse compressed .npz members that inflate more than this


# --------------------------------------------------------------------------- string ids
@dataclass(frozen=True)
class PathIds:
    """String ids held compactly: a table of folders, a folder code and a UTF-8 name per item.

    Parameters
    ----------
    folders : (P,) str array
        The distinct folders (each id's text up to and including its last ``"/"``).
    folder : (N,) int32 array
        The position of each id's folder in ``folders``.
    name : (N,) bytes array
        The rest of each id, UTF-8 encoded.
    """

    folders: np.ndarray
    folder: np.ndarray
    name: np.ndarray

    @classmethod
    def encode(cls, ids: Sequence[str] | np.ndarray) -> PathIds:
        """Encode (N,) string ids; folders are numbered in order of first appearance."""
        table: dict[str, int] = {}
        codes, names = [], []
        for text in np.asarray(ids).tolist():
            head, sep, tail = text.rpartition("/")
            codes.append(table.setdefault(head + sep, len(table)))
            names.append(tail.encode("utf-8"))
        return cls(
            folders=np.array(list(table), dtype=str),
            folder=np.array(codes, dtype=np.int32),
            name=np.array(names, dtype=bytes),
        )

    def __len__(self) -> int:
        return len(self.folder)

    def take(self, rows: np.ndarray) -> PathIds:
        """The ids at ``rows`` (an int array), still encoded."""
        return PathIds(self.folders, np.asarray(self.folder[rows]), np.asarray(self.name[rows]))

    def decode(self) -> np.ndarray:
        """The (N,) str array of the ids."""
        if not len(self):
            return np.array([], dtype=str)
        names = np.char.decode(np.asarray(self.name), "utf-8")
        return np.char.add(self.folders[np.asarray(self.folder)], names)

    @staticmethod
    def concat(parts: Sequence[PathIds]) -> PathIds:
        """One PathIds of the parts in order (their folder tables merged)."""
        table: dict[str, int] = {}
        codes = []
        for part in parts:
            remap = np.array([table.setdefault(f, len(table)) for f in part.folders.tolist()])
            codes.append(remap[np.asarray(part.folder)].astype(np.int32) if len(part) else [])
        return PathIds(
            folders=np.array(list(table), dtype=str),
            folder=np.concatenate(codes).astype(np.int32),
            name=np.concatenate([np.asarray(p.name) for p in parts]).astype(bytes),
        )


def ids_files(ids: np.ndarray | PathIds) -> tuple[str, dict[str, np.ndarray]]:
    """``(kind, files)``: how (N,) ids are stored, ``"int"`` or ``"paths"``, and the arrays."""
    if not isinstance(ids, PathIds) and ids.dtype.kind in "iu":
        return "int", {"ids": ids}
    ids = ids if isinstance(ids, PathIds) else PathIds.encode(ids)
    return "paths", {"ids_folders": ids.folders, "ids_folder": ids.folder, "ids_name": ids.name}


def make_header(
    arrays: Sequence[str], ids: str, columns: Sequence[str], meta: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``meta.json`` content; ``TypeError`` when ``meta`` is not JSON-serialisable."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "arrays": list(arrays),
        "ids": ids,
        "columns": list(columns),
        "meta": dict(meta),
    }
    try:
        json.dumps(header)
    except (TypeError, ValueError) as err:
        raise InputTypeError(
            f"Signals.meta must hold JSON-serialisable values to be saved ({err}); put "
            "per-item arrays under meta['columns'] instead."
        ) from err
    return header


# --------------------------------------------------------------------------- output paths
def _describe_folder(folder: Path) -> str:
    entries = sorted(p.name for p in folder.iterdir())
    return f"{entries[:5]}{' ...' if len(entries) > 5 else ''}"


def is_signals_dir(folder: str | Path) -> bool:
    """Whether ``folder`` is a complete Signals folder (format version 1 or 2)."""
    header = Path(folder) / HEADER
    if not header.is_file():
        return False
    try:
        return json.loads(header.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _in_progress(name: str) -> bool:
    """Whether ``name`` is a file that an atomic write of this library is writing (another
    process, e.g. another torchrun rank, may be about to rename it into place)."""
    return re.fullmatch(r"\..+\.tmp-\d+(-[0-9a-f]+)?", name) is not None


def check_output_dir(path: str | Path, *, probe_run: bool = False) -> Path:
    """Check that Signals can be written to the folder ``path``, before any expensive work.

    The folder may be missing (its parent folders are created), empty, or a Signals folder
    (which a save replaces atomically); with ``probe_run``, also a folder that
    ``probe(out=...)`` left unfinished. Its parent folder must be writable: a save writes a
    sibling folder and renames it.

    Parameters
    ----------
    path : str or Path
        The output folder.
    probe_run : bool
        Also accept a folder holding an unfinished ``probe(out=...)`` run (to resume it).

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    TypeError
        ``path`` is not a str or Path.
    ValueError
        ``path`` is a file, or a non-empty folder that holds no Signals.
    PermissionError
        The folder or its parent cannot be created or written (an ``OutputPathError``).
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InputTypeError(f"the output folder must be a str or Path; got {path!r}.")
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputValueError(
            f"output {folder} is a file; a Signals output is a folder. Fix: pass a folder path "
            "that does not exist yet (it is created)."
        )
    if folder.is_dir() and any(not _in_progress(p.name) for p in folder.iterdir()):
        known = is_signals_dir(folder) or (folder / V1_ARRAYS).is_file()
        if not known and not (probe_run and (folder / RUN_FILE).is_file()):
            raise InputValueError(
                f"output folder {folder} is not empty and holds no Signals (it has "
                f"{_describe_folder(folder)}); writing there could destroy other files. Fix: "
                "pass a new or empty folder."
            )
    parent = folder.parent
    blocker = next((p for p in folder.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise OutputPathError(
            f"cannot write the output folder {folder}: {blocker} is a file, not a folder, so "
            "nothing can be created under it. Fix: pass a folder path whose parents are folders."
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{folder.name}.check-{os.getpid()}-{secrets.token_hex(4)}"
        probe.mkdir()
        probe.rmdir()
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"folder {folder} is not writable")
    except OSError as err:
        raise OutputPathError(
            f"cannot write the output folder {folder}: {parent} is not a writable folder "
            f"({err.strerror or err}). Fix: pass a folder in a place you can write to (check "
            "the path and its permissions)."
        ) from None
    return folder


# --------------------------------------------------------------------------- writing
def write_array(path: Path, array: Any) -> None:
    """Write one ``.npy`` file (never pickled) and fsync it."""
    with open(path, "wb") as f:
        np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def write_header(folder: Path, header: Mapping[str, Any]) -> None:
    """Write ``folder/meta.json`` atomically (temporary file, fsync, rename): the marker."""
    atomic_write_text(folder / HEADER, json.dumps(header, indent=2) + "\n")


def _sibling(folder: Path, kind: str) -> Path:
    return folder.parent / f".{folder.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def write_folder(folder: str | Path, arrays: Mapping[str, Any], header: Mapping[str, Any]) -> Path:
    """Write ``arrays`` (name -> array, one ``<name>.npy`` each) and ``meta.json`` (last) into
    a sibling folder, then swap it in for ``folder`` (see the module docstring)."""
    folder = check_output_dir(folder)
    tmp = _sibling(folder, "tmp")
    tmp.mkdir()
    try:
        for name, array in arrays.items():
            write_array(tmp / f"{name}.npy", array)
        write_header(tmp, header)
        _swap_in(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _swap_in(new: Path, folder: Path) -> None:
    """Rename the complete folder ``new`` to ``folder``, replacing what is there."""
    parent = folder.parent
    if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
        os.replace(new, folder)  # rename(2) replaces an empty folder atomically
        fsync_dir(parent)
        return
    old = _sibling(folder, "old")
    os.rename(folder, old)
    try:
        os.rename(new, folder)  # between the two renames `folder` is missing (see load)
    except BaseException:
        os.rename(old, folder)
        raise
    fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- reading
def _recover(folder: Path) -> None:
    """Put back the complete earlier folder that a save killed between its renames left."""
    if folder.exists() or not folder.parent.is_dir():
        return
    leftovers = sorted(
        (p for p in folder.parent.glob(f".{folder.name}.old-*") if is_signals_dir(p)),
        key=lambda p: p.stat().st_mtime,
    )
    if not leftovers:
        return
    try:
        os.rename(leftovers[-1], folder)
    except OSError:
        return  # another process recovered it first
    warnings.warn(
        f"{folder} was missing: a save was interrupted while replacing it. The complete "
        f"earlier version {leftovers[-1].name} was renamed back to {folder.name}.",
        stacklevel=3,
    )


def read_folder(folder: str | Path, *, mmap: bool = True) -> tuple[dict[str, Any], dict]:
    """``(arrays, header)`` of a Signals folder of format version 1 or 2.

    ``arrays`` maps field names (``probs``, ``embeddings``, ..., ``ids`` as an int array or
    :class:`PathIds`, ``column:<name>``) to arrays, memory-mapped when ``mmap`` (version 2).
    """
    folder = Path(folder)
    _recover(folder)
    header_path = folder / HEADER
    if not header_path.is_file():
        running = (folder / RUN_FILE).is_file()
        raise FileNotFoundError(
            f"{folder} is not a saved Signals folder: expected {HEADER} in it (written by "
            "Signals.save or `dataperf probe --out`)."
            + (
                " It holds an unfinished probe run: run the same probe again to finish it."
                if running
                else ""
            )
        )
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise InputValueError(
            f"{header_path} is not valid JSON ({err}); the folder is damaged."
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputValueError(
            f'{header_path} is not a {FORMAT} file (no "format": "{FORMAT}" in it). Fix: '
            "pass a folder written by Signals.save or `dataperf probe --out`."
        )
    version = header.get("version")
    if version == 1:
        return _read_v1(folder, header), header
    if version != VERSION:
        raise InputValueError(
            f"{folder} holds Signals format version {version}; this dataperf reads versions 1 "
            f"and {VERSION}. Re-create it with this version of dataperf."
        )

    def load(name: str) -> np.ndarray:
        path = folder / f"{name}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is damaged: {header_path.name} lists {path.name}")
        return read_npy(path, mmap=mmap)

    arrays: dict[str, Any] = {name: load(name) for name in header.get("arrays", [])}
    if header.get("ids") == "paths":
        arrays["ids"] = PathIds(load("ids_folders"), load("ids_folder"), load("ids_name"))
    elif header.get("ids") == "int":
        arrays["ids"] = load("ids")
    for i, name in enumerate(header.get("columns", [])):
        arrays[f"column:{name}"] = load(f"column_{i}")
    return arrays, header


def _read_v1(folder: Path, header: dict) -> dict[str, Any]:
    path = folder / V1_ARRAYS
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is damaged: {HEADER} says version 1, no {V1_ARRAYS}")
    names = ("probs", "embeddings", "labels", "mc_probs", "ids")
    columns = [f"column:{c}" for c in header.get("columns", [])]
    with load_npz(path) as data:
        return {n: data[n] for n in (*names, *columns) if n in data.files}


_READ_ERRORS = (ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


def _damaged(path: Path, what: str, err: BaseException | None = None) -> InputValueError:
    why = f" ({type(err).__name__}: {err})" if err is not None else ""
    return InputValueError(
        f"{path}: {what}{why}; the file is damaged or truncated (an interrupted copy?). Fix: "
        "re-create it (Signals.save or `dataperf probe --out`), or copy it again."
    )


def _npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of the ``.npy`` data at the position of ``f``."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = read(f)
    return tuple(int(d) for d in shape), dtype


def _data_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def _check_cap(path: Path, nbytes: int, what: str) -> None:
    cap = max_array_bytes()
    if nbytes > cap:
        raise InputValueError(
            f"{path}: {what} would take {nbytes:,} bytes of memory, more than the cap of "
            f"{cap:,} bytes; refused before reading. Fix: if the file is genuine, raise the cap "
            f"with the environment variable {MAX_ARRAY_BYTES_ENV}=<bytes> (or load with "
            "mmap=True, which does not read arrays into memory)."
        )


def read_npy(path: str | Path, *, mmap: bool = True) -> np.ndarray:
    """One ``.npy`` file, memory-mapped read-only (``mmap``) or read into RAM; never unpickled.

    The header is read first and checked against the file: an array it declares must fit in the
    bytes the file holds (a truncated file is a clear error here, not a crash when a mapped page
    is touched later), and an array read into RAM must fit under :func:`max_array_bytes`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f)
            offset = f.tell()
            size = os.fstat(f.fileno()).st_size
    except _READ_ERRORS as err:
        raise _damaged(path, "not a readable .npy array", err) from None
    if dtype.hasobject:
        raise InputValueError(
            f"{path} holds Python objects (dtype {dtype}), which would need unpickling; "
            "refused. Fix: store numbers or fixed-width strings."
        )
    nbytes = _data_bytes(shape, dtype)
    if nbytes > size - offset:
        raise _damaged(
            path,
            f"its header declares {shape} {dtype} ({nbytes:,} bytes) but the "
            f"file holds {size - offset:,} bytes of data",
        )
    if not mmap:
        _check_cap(path, nbytes, f"the {shape} {dtype} array")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except _READ_ERRORS as err:
        raise _damaged(path, "not a readable .npy array", err) from None


class SafeNpz:
    """An open ``.npz`` (from :func:`load_npz`): ``files``, ``name in npz``, ``npz[name]``
    (read errors become clear errors naming the file), usable as a context manager."""

    def __init__(self, path: Path, npz: Any) -> None:
        self.path, self._npz = path, npz
        self.files = list(npz.files)

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._npz[name]
        except KeyError:
            raise KeyError(f"{self.path} has no array {name!r}") from None
        except _READ_ERRORS as err:
            raise _damaged(self.path, f"member {name!r} cannot be read", err) from None

    def close(self) -> None:
        self._npz.close()

    def __enter__(self) -> SafeNpz:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_npz(path: Path) -> SafeNpz:
    """An ``.npz`` file, after checking every member's header before anything is inflated.

    Refused: a compressed member that would grow more than ``_MAX_INFLATION`` times (plus
    1 MiB), a member whose declared array does not fit in the bytes it holds, object arrays
    (pickles), and members that together would take more than :func:`max_array_bytes`.
    """
    path = Path(path)
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                limit = _MAX_INFLATION * info.compress_size + (1 << 20)
                if info.compress_type != zipfile.ZIP_STORED and info.file_size > limit:
                    raise InputValueError(
                        f"{path}: member {info.filename} would inflate from "
                        f"{info.compress_size} to {info.file_size} bytes; refused (a "
                        "decompression bomb?). Fix: re-save it with np.savez (uncompressed)."
                    )
                with archive.open(info) as member:
                    shape, dtype = _npy_header(member)
                    size = _data_bytes(shape, dtype)
                    if dtype.hasobject:
                        raise InputValueError(
                            f"{path}: member {info.filename} holds Python objects (dtype "
                            f"{dtype}), which would need unpickling; refused."
                        )
                    if size > info.file_size:
                        raise _damaged(
                            path,
                            f"member {info.filename} declares {size} bytes of data but holds "
                            f"{info.file_size}",
                        )
                total += max(size, info.file_size)
    except _READ_ERRORS as err:
        raise _damaged(path, "not a readable .npz file", err) from None
    _check_cap(path, total, "its arrays")
    try:
        return SafeNpz(path, np.load(path, allow_pickle=False))
    except _READ_ERRORS as err:
        raise _damaged(path, "not a readable .npz file", err) from None
