"""Errors of the files a user names (private; used by ``dataperf.cli``).

An ``OSError`` while reading or writing a file the user named (missing, a folder, no
permission, a full disk, a read-only file system) is bad input, not a bug: :func:`os_errors`
turns it into an :class:`~dataperf.InputValueError` that names the option, the file and the
fix, so the CLI shows one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from dataperf._errors import InputError, InputValueError

__all__ = ["make_output_folder", "os_errors"]

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
