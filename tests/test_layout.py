"""The package layout rules a newcomer relies on (see the README's Development section).

- Modules import their siblings from the module that defines a name, never through
  ``dataperf/__init__`` (``from dataperf import X`` inside the package would tie every module to
  the top-level lazy map and invite import cycles).
- No module grows past ~600 lines. The few still over it are listed with their current size, so
  that they can only shrink until they are split.
- ``tests/`` mirrors the package: the tests of ``dataperf/augment/`` are in ``tests/augment/``,
  likewise ``propose/``, ``curate/``, ``bench/`` and ``cli/``; the core modules
  (``signals``, ``probing``, ``scores``, ``select``, ``neighbors``, ...) and cross-cutting rules
  such as this file are tested at the top of ``tests/``. Test file names stay unique across the
  tree: the folders are not packages, and pytest refuses two test modules of the same name.
"""

from __future__ import annotations

import ast
from pathlib import Path

from _paths import ROOT

PACKAGE = ROOT / "dataperf"
MAX_LINES = 600
# modules still over the cap, at most this long (shrink the number when you split one)
OVER_THE_CAP = {}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_imports_the_package_itself():
    offenders = []
    for path in _modules():
        if path.name in ("__init__.py", "__main__.py") and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "dataperf" and node.level == 0:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name == "dataperf" for a in node.names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, f"import from the defining module instead: {offenders}"


def test_modules_stay_under_the_size_cap():
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in _modules()
    }
    over = {name: n for name, n in sizes.items() if n > OVER_THE_CAP.get(name, MAX_LINES)}
    assert not over, f"modules over {MAX_LINES} lines (split them): {over}"
    shrunk = [name for name, limit in OVER_THE_CAP.items() if sizes.get(name, 0) <= MAX_LINES]
    assert not shrunk, f"now under the cap: remove from OVER_THE_CAP: {shrunk}"


def test_augment_exports_its_own_api_lazily():
    import subprocess
    import sys

    code = (
        "import sys, dataperf.augment as a; assert 'torch' not in sys.modules; "
        "import dataperf.text as t, dataperf.augment.dataset as d; "
        "assert a.SynonymReplace is t.SynonymReplace and a.AugmentedDataset is d.AugmentedDataset; "
        "assert all(getattr(a, n) is not None for n in a.__all__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
