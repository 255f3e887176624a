"""Command-line specs shared by model and data loading (private): ``module:function``,
``path/to/file.py:function``, and the errors they raise.

Every user error raises :class:`SpecError` (an ``InputValueError``) or :class:`SpecNotFoundError`
(also a ``FileNotFoundError``) whose message names what was expected, what came, and the fix.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dataperf._errors import InputValueError
from dataperf._validate import describe

__all__ = [
    "SpecError",
    "SpecNotFoundError",
    "attribute",
    "call_without_arguments",
    "callable_attribute",
    "import_module",
    "split_spec",
]


class SpecError(InputValueError):
    """A model or data spec from the command line is wrong; the message says how to fix it."""


class SpecNotFoundError(SpecError, FileNotFoundError):
    """A file or folder named by a spec does not exist."""


def split_spec(spec: str) -> tuple[str, str] | None:
    """``(module part, attribute)`` for ``module:attr`` specs, else None (a path)."""
    if ":" not in spec:
        return None
    left, right = spec.rsplit(":", 1)
    if len(left) == 1 and left.isalpha():  # a Windows drive letter, C:\...
        return None
    if not left or not right or not right.isidentifier():
        return None
    return left, right


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def import_module(module: str, spec: str, what: str) -> Any:
    """Import ``module``, a dotted module name or a path to a ``.py`` file."""
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = Path(module)
        if not path.is_file():
            raise SpecNotFoundError(
                f"{what} {spec!r}: the Python file {path} does not exist. Fix: give the path to "
                "an existing .py file, e.g. path/to/models.py:Net."
            )
        # a stable name (not hash(): it changes per process), so that a resumed probe
        # recognises the model class by its module
        digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=8).hexdigest()
        name = f"_dataperf_user_{path.stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise SpecError(f"{what} {spec!r}: cannot import {path} as a Python module.")
        mod = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = mod
        try:
            with _on_path(path.resolve().parent):  # so it can import its sibling modules
                loader_spec.loader.exec_module(mod)
        except Exception as err:
            del sys.modules[name]
            raise SpecError(
                f"{what} {spec!r}: importing {path} failed with {type(err).__name__}: {err}"
            ) from err
        return mod
    try:
        with _on_path(Path.cwd()):
            return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise SpecError(
            f"{what} {spec!r}: cannot import module {module!r} ({err}). Fix: run from the folder "
            "that holds it, add that folder to PYTHONPATH, or give the file path instead, "
            f"e.g. path/to/{module.split('.')[-1]}.py:{spec.rsplit(':', 1)[1]}."
        ) from None
    except Exception as err:
        raise SpecError(
            f"{what} {spec!r}: importing {module!r} failed with {type(err).__name__}: {err}"
        ) from err


def attribute(mod: Any, name: str, spec: str, what: str) -> Any:
    try:
        return getattr(mod, name)
    except AttributeError:
        names = sorted(n for n, v in vars(mod).items() if not n.startswith("_") and callable(v))
        raise SpecError(
            f"{what} {spec!r}: module {mod.__name__!r} has no attribute {name!r}; its callables: "
            f"{names[:20]}. Fix: name one of them after the colon."
        ) from None


def callable_attribute(spec: str, what: str) -> tuple[Callable[..., Any], str]:
    """The callable named by ``spec`` (``module:name`` or ``path/file.py:name``) and its name."""
    parts = split_spec(spec)
    if parts is None:
        raise SpecError(f"{what} {spec!r}: expected module:function (or path/to/file.py:function).")
    obj = attribute(import_module(parts[0], spec, what), parts[1], spec, what)
    if not callable(obj):
        raise SpecError(f"{what} {spec!r}: {parts[1]} is {describe(obj)}, not callable.")
    return obj, parts[1]


def call_without_arguments(factory: Any, name: str, spec: str, what: str, fix: str) -> Any:
    try:
        return factory()
    except TypeError as err:
        raise SpecError(
            f"{what} {spec!r}: calling {name}() with no arguments failed ({err}). Fix: {fix}"
        ) from err
