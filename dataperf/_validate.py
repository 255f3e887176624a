"""Small helpers that describe values in error messages."""

from __future__ import annotations

from typing import Any


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
