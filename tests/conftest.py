"""Shared test setup."""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import pytest

# albumentations checks PyPI for updates at import unless this is set; the tests run offline.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

# Helper modules in tests/ (e.g. _spawn_helpers) must be importable by name, also inside
# DataLoader workers started with the "spawn" method, which inherit sys.path. This holds
# whatever pytest import mode is used.
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


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
