"""Exceptions shared across dataperf."""

from __future__ import annotations


class MissingResourceError(LookupError):
    """A data file or corpus a feature needs is not on this machine (nothing is downloaded)."""
