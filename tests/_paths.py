"""The two folders tests name: this ``tests/`` folder and the repository root above it.

Test files sit at different depths (``tests/``, ``tests/cli/``, ...); they import these
constants instead of counting ``Path(__file__).parents[...]``, so a file can move between
folders without its paths changing meaning.
"""

from __future__ import annotations

from pathlib import Path

#: ``tests/``: the helper modules (``_cli_models.py``, ``_probe_helpers.py``, ...) live here.
TESTS = Path(__file__).resolve().parent
#: The repository root: ``dataperf/``, ``README.md``, ``notebooks/``, ``scripts/``.
ROOT = TESTS.parent
