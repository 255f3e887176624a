"""The CLI's error display, --help without heavy imports, bench --method parsing, escaping of
untrusted strings, the image-root confinement, the albumentations switch and log-friendly
progress."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _paths import ROOT
from PIL import Image

from dataperf import InputValueError, MissingResourceError, cli
from dataperf._progress import progress
from dataperf._term import escape, escaping_showwarning
from dataperf.signals import Signals
from dataperf.viz import confine_paths

HEAVY = ("torch", "torchvision", "albumentations", "textattack", "sklearn")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120
    )


# --------------------------------------------------------------------------- --help
def test_help_imports_no_heavy_module():
    code = f"""
import sys
from dataperf.cli import main
for argv in (["--help"], ["demo", "--help"], ["probe", "--help"], ["propose", "--help"],
             ["bench", "--help"]):
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, argv
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "usage: dataperf bench" in done.stdout


def test_bench_names_in_the_parser_match_the_tasks():
    from dataperf.bench import registry as names
    from dataperf.bench.tasks import DATASETS, TASKS

    assert names.TASK_NAMES == tuple(TASKS) and names.DATASETS == tuple(DATASETS)
    parser = cli.build_parser()._subparsers._group_actions[0].choices["bench"]
    choices = {a.dest: a.choices for a in parser._actions if a.choices}
    assert tuple(choices["task"]) == names.TASK_NAMES
    assert tuple(choices["dataset"]) == names.DATASETS


def test_each_command_has_its_own_help_text():
    from dataperf.cli import COMMANDS

    subparsers = cli.build_parser()._subparsers._group_actions[0]
    helps = {a.dest: a.help for a in subparsers._choices_actions}
    for module in COMMANDS:
        name = module.__name__.rsplit(".", 1)[1]
        assert subparsers.choices[name].description == module.DESCRIPTION
        assert helps[name] == module.HELP
    assert len({module.DESCRIPTION for module in COMMANDS}) == len(COMMANDS)


# --------------------------------------------------------------------------- albumentations
def test_cli_sets_no_albumentations_update_for_its_process():
    code = """
import os, runpy, sys
sys.argv = ["dataperf", "--help"]
try:
    runpy.run_module("dataperf", run_name="__main__")
except SystemExit:
    pass
print("module:", os.environ.get("NO_ALBUMENTATIONS_UPDATE"))
del os.environ["NO_ALBUMENTATIONS_UPDATE"]
from dataperf.cli import main
try:
    main(["bench", "--help"])
except SystemExit:
    pass
print("main:", os.environ.get("NO_ALBUMENTATIONS_UPDATE"))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "module: 1" in done.stdout and "main: 1" in done.stdout
    kept = _python(code.split("del os.environ")[0], NO_ALBUMENTATIONS_UPDATE="0")
    assert "module: 0" in kept.stdout  # a user's own value is kept


# --------------------------------------------------------------------------- bench --method
def _bench(argv: list[str]) -> tuple[str, list[str]]:
    args = cli.build_parser().parse_args(["bench", *argv])
    return cli.bench_methods(args.task, args.method)


@pytest.mark.parametrize(
    "argv",
    [
        ["--method", "random", "self_confidence", "debugging"],  # the task after the methods
        ["debugging", "--method", "random", "self_confidence"],
        ["debugging", "--method", "random", "--method", "self_confidence"],
        ["debugging", "--method", "random,self_confidence"],
        ["--method", "random,self_confidence", "debugging", "--seeds", "2"],
    ],
)
def test_bench_method_spellings(argv):
    assert _bench(argv) == ("debugging", ["random", "self_confidence"])


def test_bench_default_methods_and_errors():
    assert _bench(["selection"]) == ("selection", [])
    with pytest.raises(InputValueError, match="no TASK given"):
        _bench(["--method", "random", "loss"])
    with pytest.raises(InputValueError, match="empty name"):
        _bench(["debugging", "--method", "random,,loss"])


def test_bench_task_after_methods_runs(tmp_path, capsys, monkeypatch):
    from dataperf.bench import tasks

    seen = {}

    class Result:
        def table(self) -> str:
            return "| method |"

        def plot(self, path):
            Path(path).write_text("png")
            return path

        def to_json(self, path):
            Path(path).write_text("{}")
            return path

    def fake_task(methods, *, dataset, seeds):
        seen.update(methods=list(methods), dataset=dataset, seeds=seeds)
        return Result()

    monkeypatch.setitem(tasks.TASKS, "debugging", fake_task)
    argv = ["bench", "--method", "random", "self_confidence", "debugging"]
    assert cli.main([*argv, "--seeds", "1", "--out", str(tmp_path)]) == 0
    assert seen["methods"] == ["random", "self_confidence"] and seen["seeds"] == (0,)
    assert (tmp_path / "debugging.json").is_file()


def test_bench_unwritable_out_fails_before_the_run(capsys):
    code = cli.main(["bench", "selection", "--out", "/proc/version/x"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("dataperf bench: --out /proc/version/x")
    assert "Traceback" not in err and "Fix:" in err


# --------------------------------------------------------------------------- error display
def _run(error: BaseException) -> int:
    def run(args):
        raise error

    return cli.run_parsed(argparse.Namespace(run=run), "dataperf x")


def test_input_errors_are_one_line_and_bugs_keep_their_traceback(capsys):
    assert _run(InputValueError("bad value. Fix: do this")) == 2
    assert capsys.readouterr().err == "dataperf x: bad value. Fix: do this\n"
    assert _run(MissingResourceError("no data")) == 2
    for bug in (ValueError("a bug"), TypeError("a bug"), KeyError("k"), OSError("disk")):
        with pytest.raises(type(bug)):  # not an InputError: the traceback is shown
            _run(bug)


def test_demo_unwritable_out_is_one_line(capsys):
    assert cli.main(["demo", "--out", "/proc/version/x", "--no-propose"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dataperf demo: --out /proc/version/x") and "Fix:" in err


def test_unreadable_model_file_is_one_line(tmp_path, capsys):
    folder = tmp_path / "weights.pt"
    folder.mkdir()  # a folder where the state dict should be
    pool = tmp_path / "pool.npy"
    np.save(pool, np.zeros((2, 4), dtype=np.float32))
    argv = ["propose", "--pool", str(pool), "--model", "_cli_models:TinyNet"]
    assert cli.main([*argv, "--state-dict", str(folder), "--out", str(tmp_path / "p")]) == 2
    assert "--state-dict" in capsys.readouterr().err


# --------------------------------------------------------------------------- escaping
EVIL = "cat\x1b]0;pwned\x07\x1b[2J\rdog\u202egnp.exe\x9b31m"


def test_escape_shows_every_control_character():
    shown = escape(EVIL)
    assert shown == "cat\\x1b]0;pwned\\x07\\x1b[2J\\x0ddog\\u202egnp.exe\\x9b31m"
    assert escape("a\tb\nc é 猫") == "a\tb\nc é 猫"
    assert escape("a\nb", newlines=False) == "a\\x0ab"
    assert all(ord(c) >= 0x20 or c in "\t\n" for c in escape("".join(map(chr, range(0x2100)))))


def test_warnings_are_escaped():
    shown = []
    show = escaping_showwarning(lambda message, *args, **kwargs: shown.append(message))
    show(UserWarning(EVIL), UserWarning, "f.py", 1)
    assert "\x1b" not in shown[0] and "\\x1b" in shown[0]


def _signals_folder(tmp_path: Path, ids: list[str]) -> Path:
    n = len(ids)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=n)
    signals = Signals(probs=probs, embeddings=rng.normal(size=(n, 4)), ids=np.array(ids))
    return signals.save(tmp_path / "pool")


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(path)
    return path


def test_ids_from_signals_are_escaped_in_the_output(tmp_path, capsys):
    ids = [f"item{i}{EVIL}" for i in range(6)]
    pool = _signals_folder(tmp_path, ids)
    argv = ["propose", "--pool", str(pool), "--k", "2", "--out", str(tmp_path / "p.jsonl")]
    assert cli.main([*argv, "--show", "2"]) == 0
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b" in captured.out  # the id is shown, escaped
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert EVIL in rows[0]["id"]  # the file keeps the real id


# --------------------------------------------------------------------------- image root
def test_confine_paths_refuses_escapes_and_symlinks(tmp_path):
    root = tmp_path / "root"
    inside = _png(root / "a" / "x.png")
    outside = _png(tmp_path / "secret.png")
    (root / "link.png").symlink_to(outside)
    assert confine_paths(["a/x.png", str(inside)], root) == [inside.resolve()] * 2
    for bad in ["../secret.png", str(outside), "link.png", "a/../../secret.png"]:
        with pytest.raises(InputValueError, match="outside the image root"):
            confine_paths([bad], root)


def test_contact_sheet_reads_nothing_outside_the_image_root(tmp_path, capsys):
    root = tmp_path / "images"
    for i in range(4):
        _png(root / f"{i}.png")
    secret = _png(tmp_path / "secret.png")
    ids = [str(root / f"{i}.png") for i in range(4)] + ["../secret.png", str(secret)]
    pool = _signals_folder(tmp_path, ids)
    out = tmp_path / "p.jsonl"
    argv = ["propose", "--pool", str(pool), "--k", "6", "--out", str(out)]
    argv += ["--image-root", str(root), "--diversity", "0"]
    assert cli.main([*argv, "--sheet", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "outside the image root" in err and "--image-root" in err
    assert not (tmp_path / "s.png").exists()
    assert cli.main(argv) == 0  # the default sheet is skipped with a note
    assert "note: no contact sheet" in capsys.readouterr().err
    assert not out.with_name("p_sheet.png").exists()
    argv[argv.index("--k") + 1] = "4"
    safe = _signals_folder(tmp_path / "safe", [f"{i}.png" for i in range(4)])
    argv[argv.index("--pool") + 1] = str(safe)
    assert cli.main([*argv, "--sheet", str(tmp_path / "ok.png")]) == 0
    assert (tmp_path / "ok.png").is_file()


# --------------------------------------------------------------------------- progress
class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_writes_plain_lines():
    log = io.StringIO()
    assert list(progress(range(100), desc="probe", unit="batch", file=log)) == list(range(100))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 10
    assert lines[0].startswith("probe: 10/100 batch (10%)")
    assert lines[-1].startswith("probe: 100/100 batch (100%)")
    log = io.StringIO()
    list(progress(iter(range(7)), desc="x", file=log, every_seconds=0.0))
    assert len(log.getvalue().splitlines()) == 7  # no total: time-based lines (and the end)


def test_progress_on_a_terminal_is_a_bar_and_disabled_is_silent():
    tty = FakeTTY()
    assert list(progress(range(5), desc="probe", file=tty)) == list(range(5))
    assert "\r" in tty.getvalue()  # tqdm's bar
    quiet = io.StringIO()
    items = range(5)
    assert progress(items, desc="probe", enabled=False, file=quiet) is items
    assert quiet.getvalue() == ""


def test_probe_progress_in_a_log_has_no_carriage_returns(tmp_path):
    code = """
import torch
from dataperf import probe
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
data = [(torch.randn(4), i % 3) for i in range(40)]
probe(model, data, batch_size=4, device="cpu")
"""
    done = _python(code, NO_ALBUMENTATIONS_UPDATE="1")
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "probe: 10/10 batch (100%)" in done.stderr


def test_warnings_in_main_pass_through_escape(monkeypatch):
    def run(args):
        warnings.warn(EVIL, UserWarning, stacklevel=1)
        return 0

    from dataperf.cli import demo

    monkeypatch.setattr(demo, "run", run)
    with pytest.warns(UserWarning) as caught:
        cli.main(["demo"])
    assert "\x1b" not in str(caught[0].message) and "\\x1b" in str(caught[0].message)


def test_run_parsed_escapes_output_and_turns_off_the_update_check(monkeypatch, capsys):
    """What scripts/propose_hard_examples.py calls: the same safety as ``dataperf``."""
    monkeypatch.delenv("NO_ALBUMENTATIONS_UPDATE", raising=False)
    seen = {}

    def run(args):
        seen["env"] = os.environ.get("NO_ALBUMENTATIONS_UPDATE")
        print("id \x1b[2Jcleared")
        return 0

    assert cli.run_parsed(argparse.Namespace(run=run), "script.py") == 0
    out = capsys.readouterr().out
    assert seen["env"] == "1" and "\x1b" not in out and "\\x1b[2Jcleared" in out
