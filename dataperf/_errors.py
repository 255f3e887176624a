"""Exceptions shared across dataperf.

Bad input (a wrong type, a wrong value, a missing or unreadable file the user named) raises an
:class:`InputError`. Its two concrete forms subclass the built-in exceptions, so ``except
ValueError`` / ``except TypeError`` keep working. The CLI prints an ``InputError`` as one line
with its fix; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """Base class of every error dataperf raises for bad input (never for its own bugs)."""


class InputValueError(InputError, ValueError):
    """An argument or file has the right type but a wrong value (shape, range, content)."""


class InputTypeError(InputError, TypeError):
    """An argument has the wrong type."""


class MissingResourceError(InputError, LookupError):
    """A data file or corpus a feature needs is not on this machine (nothing is downloaded)."""


class OutputPathError(InputError, PermissionError):
    """An output path the user named cannot be written (not a folder, no permission)."""
