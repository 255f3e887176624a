"""Importing dataperf is fast and has no side effects; the command line is installed."""

from __future__ import annotations

import json
import subprocess
import sys


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout


def test_import_has_no_side_effects():
    report = json.loads(
        _python(
            "import json, logging, os, sys\n"
            "env = dict(os.environ); handlers = list(logging.getLogger().handlers)\n"
            "import dataperf, dataperf.text\n"
            "print(json.dumps({'env_same': env == dict(os.environ),\n"
            "  'handlers_same': handlers == list(logging.getLogger().handlers),\n"
            "  'heavy': sorted(m for m in ('torch', 'torchvision', 'albumentations',\n"
            "     'textattack', 'nltk', 'sklearn') if m in sys.modules)}))\n"
        )
    )
    assert report == {"env_same": True, "handlers_same": True, "heavy": []}


def test_public_names_resolve():
    import dataperf

    for name in dataperf.__all__:
        assert getattr(dataperf, name) is not None
    for name in dataperf.text.__all__:
        assert getattr(dataperf.text, name) is not None
    assert "AugmentedDataset" in dir(dataperf)


def test_command_line_help_lists_demo():
    out = subprocess.run(
        [sys.executable, "-m", "dataperf", "demo", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for option in ("--out", "--data", "--images", "--views", "--workers", "--no-textattack"):
        assert option in out.stdout
