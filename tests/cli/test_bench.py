"""`dataperf bench debugging --noise / --noise-matrix / --flip-rate` and flagged sets in the
results it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataperf import cli

K = 10


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class _Result:
    def table(self) -> str:
        return "| method |"

    def plot(self, path):
        path.write_text("png")
        return path

    def to_json(self, path):
        path.write_text("{}")
        return path


@pytest.fixture
def seen(monkeypatch):
    """Replace the debugging task by one that records what the command passes."""
    from dataperf.bench import tasks

    calls: dict = {}

    def fake_task(methods, **kwargs):
        calls.update(methods=list(methods), **kwargs)
        return _Result()

    monkeypatch.setitem(tasks.TASKS, "debugging", fake_task)
    return calls


def _shift(rate: float = 0.2) -> np.ndarray:
    t = np.eye(K) * (1 - rate)
    t[np.arange(K), (np.arange(K) + 1) % K] = rate
    return t


def test_noise_options_reach_the_task(seen, tmp_path, capsys):
    argv = ["bench", "debugging", "--method", "random", "--seeds", 1, "--out", tmp_path]
    assert _run(argv, capsys)[0] == 0
    assert "noise" not in seen and "flip_rate" not in seen  # the task's own defaults
    argv += ["--noise", "systematic", "--flip-rate", "0.05"]
    assert _run(argv, capsys)[0] == 0
    assert seen["noise"] == "systematic" and seen["flip_rate"] == 0.05


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".txt"])
def test_noise_matrix_files(seen, tmp_path, capsys, suffix):
    path = tmp_path / f"noise{suffix}"
    if suffix == ".npy":
        np.save(path, _shift())
    else:
        np.savetxt(path, _shift(), delimiter="," if suffix == ".csv" else " ")
    argv = ["bench", "debugging", "--noise-matrix", path, "--seeds", 1, "--out", tmp_path]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    np.testing.assert_array_equal(seen["noise"], _shift())
    assert "flip_rate" not in seen


def test_cli_flagged_sets_and_a_user_matrix_end_to_end(tmp_path, capsys, monkeypatch):
    """The real task (its two model fits stubbed): a method returning (ranking, mask) gets
    precision / recall / f1 / flagged in the table and the JSON, and info records the matrix."""
    from dataperf.bench.tasks import debugging

    def probs(x, labels, seed):
        return np.eye(K)[labels] * 0.9 + 0.01

    monkeypatch.setattr(debugging, "_noisy_probs", probs)
    monkeypatch.setattr(debugging, "fit_score", lambda *args: (0.5, 0.5))
    methods = tmp_path / "mine.py"
    methods.write_text(
        "import numpy as np\n"
        "from dataperf.bench import load_task_data\n\n"
        "def oracle(signals):\n"
        "    mask = signals.labels != load_task_data('digits').y_pool\n"
        "    return np.argsort(~mask, kind='stable'), mask\n"
    )
    matrix = tmp_path / "noise.npy"
    np.save(matrix, _shift())
    out = tmp_path / "runs"
    argv = ["bench", "debugging", "--method", "random", f"{methods}:oracle"]
    argv += ["--noise-matrix", matrix, "--seeds", 1, "--out", out]
    code, stdout, err = _run(argv, capsys)
    assert code == 0, err
    assert "**debugging / digits: precision**" in stdout
    assert "| oracle | 1.000 ± 0.000 |" in stdout and "| random |  |" in stdout
    data = json.loads((out / "debugging.json").read_text())
    assert data["info"]["noise"] == "user matrix"
    assert data["info"]["noise_matrix"] == _shift().tolist()
    assert data["summary"]["f1"]["oracle"]["None"]["mean"] == 1.0
    assert data["metrics"][-4:] == ["precision", "recall", "f1", "flagged"]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["bench", "selection", "--noise", "uniform"],
            "--noise applies to the debugging task only",
        ),
        (
            ["bench", "proposal", "--flip-rate", "0.2", "--noise", "systematic"],
            "--noise, --flip-rate apply to the debugging task only; the task is proposal",
        ),
        (
            ["bench", "debugging", "--noise-matrix", "{npy}", "--flip-rate", "0.2"],
            "--flip-rate and --noise-matrix were both given",
        ),
        (["bench", "debugging", "--noise-matrix", "{tmp}/none.npy"], "no such file"),
        (["bench", "debugging", "--noise-matrix", "{tmp}/m.json"], "expected a .npy, .csv or .txt"),
        (["bench", "debugging", "--noise-matrix", "{csv}"], "cannot read a matrix of numbers"),
    ],
)
def test_bad_noise_options_exit_2_with_one_line(argv, match, seen, tmp_path, capsys):
    np.save(tmp_path / "m.npy", _shift())
    (tmp_path / "bad.csv").write_text("0.9,0.1\nx,y\n")
    paths = {"npy": tmp_path / "m.npy", "csv": tmp_path / "bad.csv", "tmp": tmp_path}
    argv = [a.format(**paths) for a in argv]
    code, _, err = _run([*argv, "--out", tmp_path], capsys)
    assert code == 2, err
    assert match in err and len(err.strip().splitlines()) == 1
    assert not seen  # refused before the task ran


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--noise", "gaussian"], "invalid choice: 'gaussian'"),
        (["--noise", "uniform", "--noise-matrix", "m.npy"], "not allowed with argument"),
        (["--flip-rate", "ten"], "expected a number in (0, 0.5), got 'ten'"),
    ],
)
def test_bad_noise_arguments_are_usage_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "debugging", *argv])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err


def test_a_bad_matrix_is_refused_by_the_task_in_one_line(tmp_path, capsys):
    np.save(tmp_path / "m.npy", np.eye(3))
    argv = ["bench", "debugging", "--noise-matrix", tmp_path / "m.npy", "--out", tmp_path]
    code, _, err = _run(argv, capsys)
    assert code == 2 and "noise matrix must be (10, 10)" in err
    assert len(err.strip().splitlines()) == 1


def test_help_documents_the_noise_options(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in (
        "--noise MODEL",
        "--noise-matrix FILE",
        "--flip-rate RATE",
        "class_conditional:",
        "systematic:",
        "at most 5% of its class",
        "(ranking, flagged mask)",
        "precision, recall and f1",
    ):
        assert text in out, text
