"""`dataperf probe --out DIR` as a user runs it: killed with SIGKILL at random moments and run
again gives identical Signals; other settings are refused; torchrun with 2 processes equals one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _paths import ROOT, TESTS
from _probe_helpers import assert_identical

from dataperf import cli
from dataperf.cli.propose import is_signals_dir
from dataperf.signals import Signals

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "OMP_NUM_THREADS": "1",  # as torchrun sets it for its workers: the same numerics
}
# 60 images read at ~0.01 s each, 15 batches of 4, one batch per shard
PROBE = ["probe", "--model", "_probe_helpers:net", "--data", "_probe_helpers:slow_pool"]
PROBE += ["--batch-size", "4", "--shard-size", "4", "--mc-samples", "2", "--no-progress"]


def start(out: Path, *extra: str, launcher: tuple[str, ...] = ()) -> subprocess.Popen:
    argv = [sys.executable, *launcher, "-m", "dataperf", *PROBE, "--out", str(out), *extra]
    return subprocess.Popen(
        argv, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    return stdout


def shards(out: Path) -> int:
    return len(list((out / "shards").glob("b*.npz"))) if (out / "shards").is_dir() else 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "signals"
    finish(start(out))
    return out


def test_kill_9_at_random_moments_then_rerun_gives_identical_signals(tmp_path, reference):
    out = tmp_path / "signals"
    rng = np.random.default_rng(8)
    # while Python starts; then after 2, 6 and 11 finished shards; then around the merge
    moments = [("seconds", 0.5), ("shards", 2), ("shards", 6), ("shards", 11), ("shards", 15)]
    killed_mid_run, progress = 0, []
    for kind, value in moments:
        process = start(out)
        deadline = time.monotonic() + 60
        if kind == "seconds":
            time.sleep(value)
        else:
            while shards(out) < value and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05))  # a random moment within the next batch or so
        process.kill()  # SIGKILL: no cleanup of any kind
        process.communicate()
        progress.append(shards(out))
        killed_mid_run += process.returncode == -9 and 0 < progress[-1] < 15
    assert killed_mid_run >= 3 and progress == sorted(progress), progress
    stdout = finish(start(out))
    assert "resumed:" in stdout or "already holds this probe" in stdout
    assert_identical(Signals.load(out), Signals.load(reference))
    same_run = (out / ".probe-run.json").read_text() == (reference / ".probe-run.json").read_text()
    assert same_run and not (out / "shards").exists()


def test_resumed_run_says_so_and_other_settings_are_refused(tmp_path, reference, capsys):
    out = tmp_path / "signals"
    process = start(out)
    while shards(out) < 4 and process.poll() is None:
        time.sleep(0.005)
    process.kill()
    process.communicate()
    argv = [*PROBE, "--out", str(out)]
    for change, needle in [
        (["--batch-size", "5"], "data.batch_size: 5 now, 4 in the earlier run"),
        (["--model", "_probe_helpers:other_net"], "weights: '"),
        (["--mc-samples", "3"], "mc_samples: 3 now, 2 in the earlier run"),
    ]:
        code = cli.main([*argv, *change])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and needle in err[0], err
        assert "unfinished probe run" in err[0] and "another output folder (--out)" in err[0]
    stdout = finish(start(out))
    assert "resumed: " in stdout and " of 15 batches were already done" in stdout
    assert_identical(Signals.load(out), Signals.load(reference))
    assert cli.main(argv) == 0  # finished, same settings: loaded, not probed again
    assert "already holds this probe" in capsys.readouterr().out
    assert cli.main([*argv, "--embeddings-dtype", "float16"]) == 2
    assert "finished probe run" in capsys.readouterr().err


def test_torchrun_with_two_processes_equals_one(tmp_path, reference):
    out = tmp_path / "signals"
    torchrun = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")
    stdout = finish(start(out, "--device", "cpu", launcher=torchrun))
    assert "on 2 processes" in stdout and stdout.count("probed ") == 1  # rank 0 reports
    got = Signals.load(out)
    assert_identical(got, Signals.load(reference))
    assert got.index.tolist() == list(range(60)) and len(set(got.ids.tolist())) == 60


def test_output_is_checked_before_the_model_is_loaded(tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    argv = ["probe", "--model", "no_such_module:net", "--data", "nowhere", "--out", str(busy)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "holds no Signals" in err and "no_such_module" not in err


def test_help_lists_the_output_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["probe", "--help"])
    text = capsys.readouterr().out
    assert "--shard-size N" in text and "--embeddings-dtype {float32,float16}" in text


def test_signals_folders_of_both_versions_and_unfinished_runs_are_recognised(tmp_path):
    v2 = Signals(probs=np.full((2, 2), 0.5)).save(tmp_path / "v2")
    v1 = tmp_path / "v1"
    v1.mkdir()
    np.savez(v1 / "signals.npz", probs=np.full((2, 2), 0.5))
    (v1 / "meta.json").write_text(json.dumps({"format": "dataperf-signals", "version": 1}))
    running = tmp_path / "running"
    running.mkdir()
    (running / ".probe-run.json").write_text("{}")
    assert all(is_signals_dir(str(p)) for p in (v1, v2, running))
    assert not is_signals_dir(str(tmp_path / "nothing"))
    assert len(Signals.load(v1)) == 2
    with pytest.raises(FileNotFoundError, match="unfinished probe run: run the same probe again"):
        Signals.load(running)


def test_a_model_file_gets_the_same_module_name_in_every_process(tmp_path):
    """A resumed run recognises ``--model path/models.py:fn`` by its class's module name,
    so that name must not depend on the process's string-hash seed."""
    source = tmp_path / "models.py"
    source.write_text(
        "from torch import nn\n\nclass Net(nn.Linear):\n    pass\n\n"
        "def net():\n    return Net(2, 2)\n"
    )
    code = (
        "from dataperf._models import load_model; "
        f"print(type(load_model({str(source) + ':net'!r})).__module__)"
    )
    names = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout  # fmt: skip
        for seed in ("1", "2")
    }
    assert len(names) == 1 and "_dataperf_user_models_" in names.pop()
