"""`dataperf probe` / `dataperf propose` and scripts/propose_hard_examples.py, on tiny data."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli_models import TinyNet, WideNet, tiny_net, write_pngs
from _paths import ROOT, TESTS

from dataperf import cli
from dataperf._loading import ImageFiles, load_data, read_image
from dataperf._models import load_model
from dataperf._specs import SpecError
from dataperf.signals import Signals

MODELS = TESTS / "_cli_models.py"
SCRIPT = ROOT / "scripts" / "propose_hard_examples.py"
QUIET = ["--no-progress"]


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- loaders
def test_load_model_forms_agree(files):
    x = torch.rand(2, 3, 8, 8)
    want = tiny_net().eval()(x)
    torch.testing.assert_close(load_model(str(files["ts"]))(x), tiny_net().eval()(x))
    for spec, state in [
        ("_cli_models:tiny_net", None),
        (f"{MODELS}:TinyNet", str(files["weights"])),
        ("_cli_models:TinyNet", str(files["weights"])),
    ]:
        model = load_model(spec, state_dict=state)
        assert not model.training
        torch.testing.assert_close(model(x), want)


def test_load_model_unwraps_checkpoints_and_dataparallel_keys(files):
    state = tiny_net().state_dict()
    checkpoint = files["tmp"] / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, checkpoint)
    model = load_model("_cli_models:TinyNet", state_dict=str(checkpoint))
    torch.testing.assert_close(model.head.weight, state["head.weight"])


def test_load_data_image_folder_layouts(files):
    labelled = load_data(str(files["test"]))
    assert isinstance(labelled, ImageFiles) and labelled.classes == ["cat", "dog", "fox"]
    image, label = labelled[5]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == 1
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    flat = load_data(str(files["pool"]), image_size=4, grayscale=True, mean=[0.5], std=[0.25])
    item = flat[0]
    assert isinstance(item, torch.Tensor) and item.shape == (1, 4, 4)
    assert float(item.min()) < 0.0  # normalised
    assert flat.paths[0].endswith("img_00.png")
    assert read_image(flat.paths[0]).shape == (8, 8, 3)


def test_load_data_npy_and_transform(files):
    data = load_data(f"{files['npy']}:{files['labels']}")
    x, y = data[4]
    assert x.shape == (3, 8, 8) and y == 1 and float(x.max()) <= 1.0
    raw = np.load(files["npy"])
    torch.testing.assert_close(x, torch.from_numpy(raw[4] / 255.0).float().permute(2, 0, 1))
    unlabelled = load_data(str(files["npy"]), image_size=4)
    assert unlabelled[0].shape == (3, 4, 4)
    custom = load_data(str(files["pool"]), transform="_cli_models:to_tensor")
    assert custom[0].shape == (3, 8, 8)


# --------------------------------------------------------------------------- probe
def test_probe_image_folder_saves_signals_with_file_path_ids(files, capsys):
    out = files["tmp"] / "test_signals"
    code, stdout, err = _run(
        ["probe", "--model", files["ts"], "--data", files["test"], "--out", out, *QUIET], capsys
    )
    assert code == 0, err
    signals = Signals.load(out)
    assert len(signals) == 12 and signals.num_classes == 3
    assert signals.embeddings.shape == (12, 16)
    assert signals.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert signals.ids.dtype.kind == "U"
    assert signals.ids[0] == str(files["test"] / "cat" / "img_00.png")
    assert signals.meta["classes"] == ["cat", "dog", "fox"]
    assert "12 items" in stdout and str(out) in stdout


def test_probe_torchscript_without_features_uses_logits(files, capsys):
    ts = files["tmp"] / "logits_only.ts"
    torch.jit.script(tiny_net()).save(str(ts))
    out = files["tmp"] / "sig"
    code, _, err = _run(
        ["probe", "--model", ts, "--data", files["pool"], "--out", out, *QUIET], capsys
    )
    assert code == 0, err
    assert "its logits serve as embeddings" in err
    assert Signals.load(out).embeddings.shape == (12, 3)
    argv = ["probe", "--model", ts, "--data", files["pool"], "--out", out, "--layer", "head"]
    code, _, err = _run(argv, capsys)
    assert code == 2 and "TorchScript model hides its layers" in err


def test_probe_flat_folder_state_dict_and_options(files, capsys):
    out = files["tmp"] / "pool_signals"
    argv = ["probe", "--model", f"{MODELS}:TinyNet", "--state-dict", files["weights"]]
    argv += ["--data", files["pool"], "--out", out, "--mc-samples", "3", "--batch-size", "5"]
    argv += ["--layer", "features", "--device", "cpu", "--workers", "0", *QUIET]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    signals = Signals.load(out)
    assert signals.labels is None and signals.mc_probs.shape == (12, 3, 3)
    assert signals.meta["layer"] == "features" and signals.embeddings.shape == (12, 16)
    assert all(Path(i).is_file() for i in signals.ids)


def test_probe_npy_with_labels(files, capsys):
    out = files["tmp"] / "npy_signals"
    data = f"{files['npy']}:{files['labels']}"
    code, _, err = _run(
        ["probe", "--model", "_cli_models:tiny_net", "--data", data, "--out", out, *QUIET], capsys
    )
    assert code == 0, err
    signals = Signals.load(out)
    assert signals.labels.tolist() == (np.arange(9) % 3).tolist()
    assert signals.ids.tolist() == list(range(9))


# --------------------------------------------------------------------------- propose
def _probe(files, data, name, capsys):
    out = files["tmp"] / name
    code, _, err = _run(
        ["probe", "--model", files["ts"], "--data", data, "--out", out, *QUIET], capsys
    )
    assert code == 0, err
    return out


def test_propose_from_saved_signals(files, capsys):
    pool = _probe(files, files["pool"], "pool_sig", capsys)
    test = _probe(files, files["test"], "test_sig", capsys)
    out = files["tmp"] / "results" / "proposals.jsonl"
    table = files["tmp"] / "proposals.csv"
    argv = ["propose", "--pool", pool, "--test", test, "--k", "4", "--out", out, "--csv", table]
    argv += ["--image-root", files["pool"]]  # the ids are absolute paths: allow their folder
    code, stdout, err = _run([*argv, "--diversity", "0.5", "--seed", "1", "--show", "2"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert len({r["index"] for r in rows}) == 4
    assert {"id", "hard", "labelable", "novel", "total", "explanation"} <= set(rows[0])
    paths = sorted(str(p) for p in files["pool"].glob("*.png"))
    assert all(r["id"] == paths[r["index"]] for r in rows)
    with table.open() as f:
        assert [int(r["index"]) for r in csv.DictReader(f)] == [r["index"] for r in rows]
    assert "proposed 4 of 12 pool items (test: 12 items)" in stdout
    assert "#1 (pool item" in stdout and "#2 (pool item" in stdout and "#3 (" not in stdout
    sheet = out.with_name("proposals_sheet.png")  # default: next to --out
    assert sheet.is_file() and str(sheet) in stdout
    from PIL import Image

    with Image.open(sheet) as image:
        assert image.size[0] > 4 * 8


def test_propose_from_data_probes_first_and_saves_signals(files, capsys):
    out = files["tmp"] / "p.jsonl"
    saved = files["tmp"] / "saved"
    sheet = files["tmp"] / "sheet.png"
    argv = ["propose", "--pool", files["pool"], "--test", files["test"]]
    argv += ["--train", f"{files['npy']}:{files['labels']}", "--model", files["ts"]]
    argv += ["--k", "3", "--out", out, "--save-signals", saved, "--sheet", sheet, *QUIET]
    code, stdout, err = _run([*argv, "--weights", "hard=2,novel=0.5"], capsys)
    assert code == 0, err
    assert len(out.read_text().splitlines()) == 3 and sheet.is_file()
    assert not out.with_name("p_sheet.png").exists()
    assert "probing --pool" in err
    for name, n in [("pool", 12), ("test", 12), ("train", 9)]:
        assert len(Signals.load(saved / name)) == n
    # proposing again from the saved Signals, without the model, gives the same proposals
    again = files["tmp"] / "again.jsonl"
    argv = ["propose", "--pool", saved / "pool", "--test", saved / "test", "--train"]
    argv += [saved / "train", "--k", "3", "--out", again, "--weights", "hard=2,novel=0.5"]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    ids = [[json.loads(line)["id"] for line in p.read_text().splitlines()] for p in (out, again)]
    assert ids[0] == ids[1]


def test_propose_npy_pool_writes_sheet_and_non_images_do_not(files, capsys):
    out = files["tmp"] / "npy.jsonl"
    argv = ["propose", "--pool", files["npy"], "--model", "_cli_models:tiny_net"]
    code, _, err = _run([*argv, "--k", "2", "--out", out, *QUIET], capsys)
    assert code == 0, err
    assert out.with_name("npy_sheet.png").is_file()
    out = files["tmp"] / "tensors.jsonl"
    argv = ["propose", "--pool", "_cli_models:tensor_pool", "--model", "_cli_models:tiny_net"]
    code, _, err = _run([*argv, "--k", "2", "--out", out, *QUIET], capsys)
    assert code == 0, err
    assert not out.with_name("tensors_sheet.png").exists()  # custom Dataset: only on request
    code, _, err = _run(
        [*argv, "--k", "2", "--out", out, "--sheet", out.with_suffix(".png")], capsys
    )
    assert code == 0, err
    assert out.with_suffix(".png").is_file()


# --------------------------------------------------------------------------- user errors
def _bad_cases(files):
    tmp = files["tmp"]
    pickled = tmp / "pickled.pt"
    torch.save(TinyNet(), pickled)
    wide = tmp / "wide.pt"
    torch.save(WideNet().state_dict(), wide)
    empty = tmp / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    broken = tmp / "broken"
    broken.mkdir()
    (broken / "a.png").write_text("not really a png")
    mixed = tmp / "mixed"
    write_pngs(mixed / "small", 2, seed=0, size=8)
    write_pngs(mixed / "large", 2, seed=1, size=10)
    features = tmp / "features.npy"  # (N, D) vectors, not images
    np.save(features, np.random.default_rng(0).random((6, 3 * 8 * 8), dtype=np.float32))
    table = tmp / "data.csv"
    table.write_text("a,b\n1,2\n")
    out = ["--out", tmp / "o", *QUIET]
    model = ["--model", files["ts"]]
    pool = ["--pool", files["pool"]]
    return {
        "missing --model for data": (
            ["propose", *pool, "--k", "2", "--out", tmp / "x.jsonl"],
            ["--pool", "no --model", "pass --model SPEC"],
        ),
        "pickled whole model": (
            ["probe", "--model", pickled, "--data", files["pool"], *out],
            ["whole pickled model", "never unpickles", "torch.jit.script"],
        ),
        "weights given as model": (
            ["probe", "--model", files["weights"], "--data", files["pool"], *out],
            ["holds weights only", "--state-dict"],
        ),
        "pickled model as state_dict": (
            ["probe", "--model", "_cli_models:TinyNet", "--state-dict", pickled]
            + ["--data", files["pool"], *out],
            ["cannot be read as weights only", "state_dict"],
        ),
        "unknown module": (
            ["probe", "--model", "no_such_module_xyz:Net", "--data", files["pool"], *out],
            ["cannot import module 'no_such_module_xyz'", "PYTHONPATH"],
        ),
        "missing attribute": (
            ["probe", "--model", "_cli_models:Nope", "--data", files["pool"], *out],
            ["has no attribute 'Nope'", "TinyNet"],
        ),
        "not a model": (
            ["probe", "--model", "_cli_models:not_a_model", "--data", files["pool"], *out],
            ["must give a torch.nn.Module", "got int"],
        ),
        "class needs arguments": (
            ["probe", "--model", "_cli_models:NeedsWidth", "--data", files["pool"], *out],
            ["NeedsWidth() with no arguments failed"],
        ),
        "missing model file": (
            ["probe", "--model", tmp / "nope.ts", "--data", files["pool"], *out],
            ["no such file", "TorchScript"],
        ),
        "missing .py file": (
            ["probe", "--model", f"{tmp / 'nope.py'}:Net", "--data", files["pool"], *out],
            ["nope.py does not exist"],
        ),
        "state_dict mismatch": (
            ["probe", "--model", "_cli_models:TinyNet", "--state-dict", wide]
            + ["--data", files["pool"], *out],
            ["does not fit TinyNet", "shape mismatches", "features.1.weight"],
        ),
        "missing data": (
            ["probe", *model, "--data", tmp / "nowhere", *out],
            ["no such file or folder", "image folder"],
        ),
        "empty folder": (
            ["probe", *model, "--data", empty, *out],
            ["holds no images", ".txt"],
        ),
        "unreadable image": (
            ["probe", *model, "--data", broken, *out],
            ["cannot read image", "a.png"],
        ),
        "unreadable image, read in a worker": (
            ["probe", *model, "--data", broken, *out, "--workers", "1"],
            ["cannot read image", "a.png"],
        ),
        "images of different sizes": (
            ["probe", *model, "--data", mixed, *out],
            ["differ in size", "--image-size"],
        ),
        "unsupported extension": (
            ["probe", *model, "--data", table, *out],
            ["unsupported file type '.csv'"],
        ),
        "k larger than pool": (
            ["propose", *pool, *model, "--k", "50", "--out", tmp / "x.jsonl", *QUIET],
            ["--k 50", "12 items"],
        ),
        "wrong input size": (
            ["probe", *model, "--data", files["pool"], "--image-size", "5", *out],
            ["running the model on", "--image-size"],
        ),
        "mean without std": (
            ["probe", *model, "--data", files["pool"], "--mean", "0.5", *out],
            ["--mean and --std go together"],
        ),
        "sheet for non-images": (
            ["propose", "--pool", features, *model, "--k", "2"]
            + ["--out", tmp / "x.jsonl", "--sheet", tmp / "s.png", *QUIET],
            ["--sheet", "not images"],
        ),
    }


def test_user_errors_exit_2_with_one_clear_line(files, capsys):
    failures = []
    for name, (argv, needles) in _bad_cases(files).items():
        code, _, err = _run(argv, capsys)
        lines = err.strip().splitlines()
        ok = (
            code == 2
            and "Traceback" not in err
            and lines
            and lines[-1].startswith(f"dataperf {argv[0]}: ")
            and all(n in lines[-1] for n in needles)
        )
        if not ok:
            failures.append(f"{name}: exit {code}, stderr {err!r}")
    assert not failures, "\n".join(failures)


def test_propose_k_larger_than_saved_pool(files, capsys):
    pool = _probe(files, files["pool"], "pool_sig", capsys)
    code, _, err = _run(
        ["propose", "--pool", pool, "--k", "13", "--out", files["tmp"] / "x"], capsys
    )
    assert code == 2 and "--k 13" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["probe", "--data", "d", "--out", "o"], "--model"),
        (["propose", "--k", "3"], "--pool"),
        (["propose", "--pool", "p", "--k", "0"], "expected an integer >= 1"),
        (["propose", "--pool", "p", "--diversity", "-1"], "expected a number >= 0"),
        (["propose", "--pool", "p", "--weights", "hard"], "NAME=NUMBER"),
        (["probe", "--model", "m", "--data", "d", "--out", "o", "--device", "gpu!"], "device"),
    ],
)
def test_argument_errors_are_argparse_errors(argv, needle, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err


def test_unknown_weight_name_is_a_one_line_error(files, capsys):
    argv = ["propose", "--pool", files["pool"], "--weights", "hardness=2", "--out", "x"]
    code, _, err = _run(argv, capsys)
    assert code == 2 and "hardness" in err and "Traceback" not in err


PROBE_OPTIONS = [
    "--model", "--data", "--out", "--state-dict", "--layer", "--mc-samples", "--outputs",
    "--batch-size", "--device", "--workers", "--image-size", "--grayscale", "--mean", "--std",
    "--transform", "--no-progress", "--seed",
]  # fmt: skip
PROPOSE_OPTIONS = [
    "--pool", "--test", "--train", "--k", "--out", "--diversity", "--weights", "--seed", "--csv",
    "--sheet", "--no-sheet", "--sheet-columns", "--image-root", "--save-signals", "--show",
    *(o for o in PROBE_OPTIONS if o not in ("--data", "--out", "--seed")),
]  # fmt: skip


@pytest.mark.parametrize(
    "command, options", [("probe", PROBE_OPTIONS), ("propose", PROPOSE_OPTIONS)]
)
def test_help_mentions_every_option(command, options, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    missing = [o for o in options if f"{o} " not in text and f"{o}\n" not in text]
    assert not missing
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    assert all(a.help for a in sub._actions), "every option has help text"


# --------------------------------------------------------------------------- the script
def _script():
    spec = importlib.util.spec_from_file_location("propose_hard_examples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_help_runs_as_a_program():
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--pool" in done.stdout and "--model" in done.stdout and "--k" in done.stdout


def test_script_probes_and_proposes_in_one_process(files, capsys):
    out = files["tmp"] / "job" / "proposals.jsonl"
    argv = ["--model", str(files["ts"]), "--pool", str(files["pool"]), "--test"]
    argv += [str(files["test"]), "--k", "3", "--out", str(out), *QUIET]
    assert _script().main(argv) == 0
    assert len(out.read_text().splitlines()) == 3
    assert out.with_name("proposals_sheet.png").is_file()
    assert len(Signals.load(out.with_name("proposals_signals") / "pool")) == 12
    with pytest.raises(SystemExit) as exit_info:  # --model is required
        _script().main(["--pool", str(files["pool"])])
    assert exit_info.value.code == 2 and "--model" in capsys.readouterr().err


def test_spec_errors_are_value_errors():
    assert issubclass(SpecError, ValueError)
    with pytest.raises(FileNotFoundError):
        load_data("/no/such/folder")
