"""Shared test setup."""

from __future__ import annotations

import importlib
import os
import sys
import types

import pytest

# albumentations checks PyPI for updates at import unless this is set; the tests run offline.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

# The helper modules in tests/ (_paths, _spawn_helpers, _probe_helpers, _cli_models) are imported
# by name from every test folder: pyproject.toml's `pythonpath = ["tests"]` puts this folder on
# sys.path before collection, whatever the import mode, and DataLoader workers started with the
# "spawn" method inherit sys.path. Subprocesses do not: tests that start one pass the folder on
# through PYTHONPATH (see _paths.TESTS).


@pytest.fixture
def text_op_class(monkeypatch):
    """The ``TextOp`` base class that selects the ``text_op`` backend.

    The real ``dataperf.text.TextOp`` when that module imports; otherwise a stand-in
    installed under that module name (the backend looks the class up in ``sys.modules``
    without importing it), removed again after the test.
    """
    try:
        return importlib.import_module("dataperf.text").TextOp
    except ImportError:
        pass
    module = types.ModuleType("dataperf.text")

    class TextOp:
        def apply(self, text, rng):
            raise NotImplementedError

    TextOp.__module__ = module.__name__
    module.TextOp = TextOp
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return TextOp
