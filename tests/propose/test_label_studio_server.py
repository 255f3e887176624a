"""The labelling round trip against a real Label Studio server, offline.

``scripts/label_studio_round_trip.py`` proposes test examples, exports them with
``export_label_studio``, imports them into a throw-away Label Studio server, lets two people
annotate through its API, exports the project, checks the files with Label Studio's SDK and
reads the answers back with dataperf (counts, yield against the benchmark's precision, grown
test set, next round). Label Studio runs from its own venv ($DATAPERF_LS_VENV, default
``<repo>/.ls-venv``), which the script makes on its first run (~1-2 min, ~1 GB) and reuses.

The test skips only when that venv cannot be made because pip cannot reach the package index
(the script exits 75 and says UNAVAILABLE); every other failure fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _paths import ROOT

SCRIPT = ROOT / "scripts" / "label_studio_round_trip.py"
EXIT_NO_INDEX = 75  # the script's exit status when pip cannot reach the index
TIMEOUT = 900  # venv creation (~80 s) + first server start (~30-50 s) + round trip, with margin


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 120)
def test_round_trip_against_a_real_label_studio_server(tmp_path):
    env = {
        **os.environ,
        "NO_ALBUMENTATIONS_UPDATE": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, str(SCRIPT), "--work", str(tmp_path / "work")]
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        out, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # the script stops its Label Studio server on SIGTERM
        out, _ = process.communicate(timeout=60)
        pytest.fail(f"the round trip took over {TIMEOUT} s; its output ends:\n{out[-6000:]}")
    if process.returncode == EXIT_NO_INDEX and "UNAVAILABLE:" in out:
        reason = next(line for line in out.splitlines() if line.startswith("UNAVAILABLE:"))
        pytest.skip(f"Label Studio cannot be installed here: {reason}")
    assert process.returncode == 0, out[-8000:]
    assert out.rstrip().splitlines()[-1].startswith("PASS: "), out[-8000:]
    assert "no majority 1, unlabelled 1" in out, out[-3000:]
