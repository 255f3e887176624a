"""Files a user names (private): atomic writes, output checks, OS errors as bad input.

Every file the library writes goes through :func:`atomic_file` (write aside, fsync, rename):
a reader, or a run killed at any moment, sees the old complete file or the new one, never a
part. :func:`check_output_file` checks an output path before any expensive work.

An ``OSError`` while reading or writing a file the user named (missing, a folder, no
permission, a full disk, a read-only file system) is bad input, not a bug: :func:`os_errors`
turns it into an :class:`~dataperf.InputValueError` that names the option, the file and the
fix, so the CLI shows one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dataperf._errors import InputError, InputTypeError, InputValueError, OutputPathError

__all__ = [
    "atomic_file",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_file",
    "fsync_dir",
    "make_output_folder",
    "os_errors",
]

_WRITE_FIX = "pass a path in a folder you can write to (and check the disk is not full)."


def _reason(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "the disk is full"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.EROFS:
        return "the file system is read-only"
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a part of the path is a file, not a folder"
    return err.strerror or str(err)


@contextlib.contextmanager
def os_errors(what: str, *, fix: str = _WRITE_FIX) -> Iterator[None]:
    """Re-raise an ``OSError`` inside the block as an ``InputValueError`` naming ``what``.

    Parameters
    ----------
    what : str
        The option or file the block works on, e.g. ``"--out runs/x.jsonl"``.
    fix : str
        The fix to name; by default: a writable folder and a disk with room.
    """
    try:
        yield
    except InputError:
        raise
    except OSError as err:
        name = f" {err.filename}" if err.filename is not None else ""
        raise InputValueError(f"{what}: cannot use{name}: {_reason(err)}. Fix: {fix}") from err


def make_output_folder(path: str | os.PathLike[str], what: str) -> Path:
    """Create the output folder ``path`` (and its parents) if needed; return it.

    Raises
    ------
    InputValueError
        When it cannot be created or written to, naming ``what`` (e.g. ``"--out"``).
    """
    folder = Path(path)
    with os_errors(f"{what} {folder}", fix="pass a folder you can write to."):
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied", str(folder))
    return folder


# --------------------------------------------------------------------------- atomic writes
def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a file for writing that replaces ``path`` only once the ``with`` block completes.

    The data goes to a hidden sibling (``.<name>.tmp-<pid>-<random>``), is fsynced, then renamed
    over ``path``: a reader, or a run killed at any moment, sees the old complete file or the
    new complete one, never a part. On an exception the sibling is removed and ``path`` is
    untouched. ``mode`` is ``"w"`` (text, UTF-8) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise InputValueError(f"atomic_file mode must be 'w' or 'wb'; got {mode!r}.")
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def check_output_file(path: Any, name: str = "output file") -> Path:
    """``path`` as a Path, checked to be writable as a file (its parent folders are created).

    Raises ``InputTypeError`` for a non-path, ``InputValueError`` when ``path`` is a folder,
    and ``OutputPathError`` (a ``PermissionError``) when its folder cannot be created or
    written.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InputTypeError(f"the {name} must be a str or Path; got {path!r}.")
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputValueError(
            f"{name} {path} is a folder; a file path is needed. Fix: pass e.g. {path / 'out'}."
        )
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise OutputPathError(
            f"cannot write the {name} {path}: {blocker} is a file, not a folder. Fix: pass a "
            "path whose parents are folders."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputPathError(
            f"cannot write the {name} {path}: {path.parent} is not a writable folder "
            f"({err.strerror or err}). Fix: pass a path in a place you can write to."
        ) from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"cannot write the {name} {path}: {path.parent} is not a writable folder. Fix: "
            "pass a path in a place you can write to."
        )
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, "w") as f:
        f.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, "wb") as f:
        f.write(data)
    return Path(path)
