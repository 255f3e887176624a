"""Outputs and labels that mean something else than probe assumes are caught, not recorded.

- a model that already returns probabilities or log-probabilities, probed as logits;
- labels in another class order than the model's outputs (class folders sorted by name), or
  at chance level: a warning naming the accuracy and the fix, ``--classes`` to give the order;
- unreadable images named, or skipped and listed (``--skip-unreadable``);
- a test set without labels: propose says what it gives up.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from dataperf import HardnessSampler, InputError, LabelMismatchWarning, Signals, cli, probe
from dataperf._agreement import label_agreement

COLOURS = ["red", "green", "blue"]  # the model's class order; sorted: blue, green, red


class ColourNet(nn.Module):
    """Class c = the image's brightest channel (red, green, blue), by a wide margin."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 3)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(3) * 20)
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(dim=(2, 3)))


def colour_net() -> ColourNet:
    return ColourNet()


def colour_images(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` (3, 8, 8) images, each bright in the channel of its label, with noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.uniform(0.0, 0.3, (n, 3, 8, 8))
    images[np.arange(n), labels] += 0.6
    return torch.tensor(images, dtype=torch.float32), torch.tensor(labels)


# --------------------------------------------------------------------------- output kinds
@pytest.mark.parametrize(
    ("final", "fix"), [(nn.Softmax(dim=-1), "outputs='probs'"), (nn.LogSoftmax(-1), "log_probs")]
)
def test_probabilities_probed_as_logits_are_refused_naming_the_fix(final, fix):
    x, _ = colour_images(30)
    model = nn.Sequential(ColourNet(), final)
    with pytest.raises(InputError, match=rf"look like .*probabilities.*{fix}"):
        probe(model, TensorDataset(x), progress=False)
    kind = "probs" if isinstance(final, nn.Softmax) else "log_probs"
    right = probe(model, TensorDataset(x), outputs=kind, progress=False)
    want = probe(ColourNet(), TensorDataset(x), progress=False)
    np.testing.assert_allclose(right.probs, want.probs, atol=1e-6)
    assert right.probs.max() > 0.99  # the confidences the model states, not softmax twice


def test_logits_that_are_all_positive_are_still_logits():
    x, _ = colour_images(30)
    shifted = nn.Sequential(ColourNet(), nn.ReLU())  # non-negative, rows do not sum to 1
    signals = probe(shifted, TensorDataset(x), progress=False)
    assert len(signals) == 30


# --------------------------------------------------------------------------- label agreement
def test_permuted_labels_warn_with_the_renaming_and_the_fix():
    x, y = colour_images(60)
    swapped = torch.tensor([2, 1, 0])[y]  # the sorted-folder order of the classes
    with pytest.warns(LabelMismatchWarning, match=r"33\.3% of 60.*100\.0% if the classes") as w:
        probe(ColourNet(), TensorDataset(x, swapped), progress=False)
    text = str(w[0].message)
    assert "items labelled 0 are mostly predicted as model output 2" in text
    assert "--classes" in text and "chosen to be hard" in text
    with pytest.raises(InputError, match="another class order"):
        probe(ColourNet(), TensorDataset(x, swapped), label_check="error", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe(ColourNet(), TensorDataset(x, swapped), label_check="off", progress=False)
        probe(ColourNet(), TensorDataset(x, y), progress=False)  # right labels: silent


def test_labels_at_chance_level_warn():
    x, _ = colour_images(90)
    noise = torch.tensor(np.random.default_rng(0).integers(0, 3, 90))
    with pytest.warns(LabelMismatchWarning, match=r"below 67% \(2/K for K = 3\): near chance"):
        probe(ColourNet(), TensorDataset(x, noise), progress=False)


def test_agreement_counts():
    probs = np.eye(4)[[0, 1, 2, 3, 1, 0, 3, 2]]
    a = label_agreement(probs, np.array([0, 1, 2, 3, 0, 1, 2, 3]))
    assert (a.n, a.k, a.accuracy) == (8, 4, 0.5)
    assert a.problem() is None  # too few items to judge
    b = label_agreement(np.eye(2)[np.arange(100) % 2], (np.arange(100) + 1) % 2)
    assert b.accuracy == 0.0 and b.remapped_accuracy == 1.0 and b.remap == (1, 0)
    assert b.problem() == "permuted"
    c = label_agreement(np.eye(2)[np.arange(100) % 2], np.r_[np.arange(70) % 2, np.zeros(30)])
    assert c.accuracy == 0.85 and c.problem() is None  # a fair binary model is not flagged


def test_label_check_is_validated():
    x, y = colour_images(6)
    with pytest.raises(InputError, match=r"label_check must be one of \['warn', 'error', 'off'\]"):
        probe(ColourNet(), TensorDataset(x, y), label_check="loud", progress=False)


# --------------------------------------------------------------------------- the CLI
def _png_folder(root, names, n_each=8, *, seed=0):
    """Class folders named after ``names`` (any order); each image bright in the channel of
    the colour its folder name stands for."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name in names:
        colour = [c for c in COLOURS if c in name.lower()][0]
        (root / name).mkdir(parents=True)
        for i in range(n_each):
            image = rng.integers(0, 70, (8, 8, 3))
            image[..., COLOURS.index(colour)] += 150
            Image.fromarray(image.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def _cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def model_spec(tmp_path):
    source = tmp_path / "colour_model.py"
    source.write_text(
        "import torch\nfrom torch import nn\n\n"
        "class ColourNet(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.head = nn.Linear(3, 3)\n"
        "        with torch.no_grad():\n"
        "            self.head.weight.copy_(torch.eye(3) * 20)\n"
        "            self.head.bias.zero_()\n\n"
        "    def forward(self, x):\n"
        "        return self.head(x.mean(dim=(2, 3)))\n\n"
        "def net():\n    return ColourNet()\n"
    )
    return f"{source}:net"


def test_cli_class_order_warns_and_classes_fixes_it(tmp_path, model_spec, capsys):
    data = _png_folder(tmp_path / "test", ["Red", "green", "BLUE"])  # sorted: BLUE, Red, green
    base = ["probe", "--model", model_spec, "--data", data, "--no-progress"]
    with pytest.warns(LabelMismatchWarning, match="another class order") as w:
        code, out, err = _cli([*base, "--out", tmp_path / "a"], capsys)
    assert code == 0 and "accuracy on its labels is 0.0% (24 labelled items)" in out
    # named by the folders (the labels), with the order they imply for the model's outputs
    assert "items labelled 0 ('BLUE') are mostly predicted as model output 2" in str(w[0].message)
    assert "these labels suggest --classes Red,green,BLUE" in str(w[0].message)

    names = tmp_path / "classes.txt"
    names.write_text("red\ngreen\nblue\n")
    for i, given in enumerate([names, "red,green,blue"]):
        with warnings.catch_warnings():
            warnings.simplefilter("error", LabelMismatchWarning)
            code, out, err = _cli([*base, "--out", tmp_path / f"b{i}", "--classes", given], capsys)
        assert code == 0 and "accuracy on its labels is 100.0%" in out
        signals = Signals.load(tmp_path / f"b{i}")
        assert signals.meta["classes"] == COLOURS  # "Red" and "BLUE" matched ignoring case
        assert "red" in str(signals.ids[signals.labels == 0][0]).lower()

    code, out, err = _cli([*base, "--out", tmp_path / "c", "--label-check", "error"], capsys)
    assert code == 2 and "another class order" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("red,green", "2 class names were given ('red', 'green'), but the model has 3 outputs"),
        ("red,green,cyan", r"class folders \['blue'\] match none of the --classes"),
        ("red", "at least two non-empty class names"),
        ("red,red,blue", "repeated"),
    ],
)
def test_cli_bad_classes_are_one_line_errors(tmp_path, model_spec, capsys, given, message):
    data = _png_folder(tmp_path / "test", ["red", "green", "blue"] if "cyan" in given else ["red"])
    argv = ["probe", "--model", model_spec, "--data", data, "--out", tmp_path / "o"]
    code, _, err = _cli([*argv, "--no-progress", "--classes", given], capsys)
    assert code == 2 and "Traceback" not in err
    assert message.replace("\\", "") in err or __import__("re").search(message, err)


def test_propose_names_classes_in_outputs_and_notes_an_unlabelled_test(
    tmp_path, model_spec, capsys
):
    test = _png_folder(tmp_path / "test", ["red", "green", "blue"])
    pool = tmp_path / "pool"
    _png_folder(tmp_path / "staging", ["red", "green", "blue"], n_each=4, seed=1)
    pool.mkdir()
    for p in (tmp_path / "staging").rglob("*.png"):
        p.rename(pool / f"{p.parent.name}_{p.name}")
    argv = ["propose", "--model", model_spec, "--pool", pool, "--k", "3", "--no-progress"]
    out_file = tmp_path / "p.jsonl"
    code, out, err = _cli(
        [*argv, "--test", test, "--classes", "red,green,blue", "--out", out_file], capsys
    )
    assert code == 0 and "--test" in err and "accuracy on its labels is 100.0%" in err
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert {r["prediction"] for r in rows} <= set(COLOURS)

    flat_test = tmp_path / "flat_test"
    flat_test.mkdir()
    for p in test.rglob("*.png"):
        (flat_test / f"{p.parent.name}_{p.name}").write_bytes(p.read_bytes())
    with pytest.warns(UserWarning, match="test set has no labels.*not calibrated"):
        code, out, err = _cli([*argv, "--test", flat_test, "--out", out_file], capsys)
    assert code == 0


def test_sampler_says_what_an_unlabelled_test_set_loses():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), 40)
    emb = rng.normal(size=(40, 4))
    pool = Signals(probs=probs, embeddings=emb)
    test = Signals(probs=probs[:10], embeddings=emb[:10] + 5)
    with pytest.warns(UserWarning, match="no labels.*labelled neighbours"):
        HardnessSampler(3).propose(pool, test=test)
    train = Signals(probs=probs[:10], embeddings=emb[:10] - 5, labels=np.arange(10) % 3)
    with pytest.warns(UserWarning) as w:
        HardnessSampler(3).propose(pool, test=test, train=train)
    assert "not calibrated" in str(w[0].message) and "neighbours" not in str(w[0].message)


def test_contact_sheet_captions_name_the_class_or_say_class(tmp_path):
    from dataperf.propose.proposal import Proposal

    proposal = Proposal(
        indices=np.array([0]),
        ids=np.array([0]),
        scores={k: np.ones(1) for k in ("hard", "labelable", "novel", "total")},
        details={"prediction": np.array([2]), "confidence": np.array([0.9])},
    )
    import dataperf.viz as viz

    seen = {}
    original = viz.save_grid

    def spy(rows, path, captions=None):
        seen["captions"] = captions
        return original(rows, path, captions=captions)

    viz.save_grid = spy
    try:
        proposal.contact_sheet([np.zeros((8, 8, 3), np.uint8)], tmp_path / "s.png")
    finally:
        viz.save_grid = original
    assert seen["captions"] == [["#1 class 2 90%"]]


# --------------------------------------------------------------------------- unreadable images
def _with_bad_images(root):
    from PIL import Image

    folder = _png_folder(root, ["red", "green", "blue"])
    (folder / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    Image.new("L", (64, 64)).save(folder / "green" / "bomb.png")  # over 2x the limit below
    return folder


def test_unreadable_images_are_named_or_skipped_and_listed(
    tmp_path, model_spec, capsys, monkeypatch
):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a bomb: > 2000 pixels
    data = _with_bad_images(tmp_path / "d")
    argv = ["probe", "--model", model_spec, "--data", data, "--no-progress"]
    code, _, err = _cli([*argv, "--out", tmp_path / "a"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "cannot read image" in err and "--skip-unreadable" in err
    assert "bomb.png" in err or "broken.png" in err

    code, out, err = _cli([*argv, "--out", tmp_path / "b", "--skip-unreadable"], capsys)
    assert code == 0 and "2 unreadable images" in err
    signals = Signals.load(tmp_path / "b")
    skipped = signals.meta["skipped_unreadable"]
    assert sorted(s["path"].rsplit("/", 1)[1] for s in skipped) == ["bomb.png", "broken.png"]
    assert "decompression bomb" in " ".join(s["error"] for s in skipped)
    assert len(signals) == 24
    assert "skipped_unreadable" in (tmp_path / "b" / "meta.json").read_text()


# --------------------------------------------------------------------------- more cases
def test_one_score_per_item_is_refused_with_the_two_class_fix():
    x, _ = colour_images(8)
    binary = nn.Sequential(nn.Flatten(), nn.Linear(192, 1))
    with pytest.raises(InputError, match=r"1 score per item.*torch\.cat\(\[-z / 2, z / 2\]"):
        probe(binary, TensorDataset(x), progress=False)


def test_low_precision_probabilities_are_caught():
    """Rows of 10 probabilities rounded to bfloat16 (or clamped) sum to 1 only within ~0.4%."""
    x = torch.randn(40, 10, generator=torch.Generator().manual_seed(0)) * 2

    class Outputs(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.head, self.fn = nn.Linear(10, 10), fn
            with torch.no_grad():
                self.head.weight.copy_(torch.eye(10))
                self.head.bias.zero_()

        def forward(self, x):
            return self.fn(self.head(x))

    for fn in (
        lambda z: z.softmax(-1).to(torch.bfloat16),
        lambda z: z.log_softmax(-1).to(torch.bfloat16),
        lambda z: z.softmax(-1).clamp_min(1e-3),
    ):
        with pytest.raises(InputError, match="look like"):
            probe(Outputs(fn), DataLoaderOf(x, 40), progress=False)


def DataLoaderOf(x, batch_size):  # noqa: N802 - reads like the class it builds
    from torch.utils.data import DataLoader

    return DataLoader(TensorDataset(x), batch_size=batch_size)


def test_label_names_are_refused_with_the_fix():
    x, _ = colour_images(6)
    data = [(x[i], COLOURS[i % 3]) for i in range(6)]
    with pytest.raises(InputError, match=r"batch 0 are names such as 'red'.*class_to_idx"):
        probe(ColourNet(), data, batch_size=3, progress=False)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    from PIL import Image

    from dataperf._loading import read_image

    ramp = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    Image.fromarray(ramp).save(tmp_path / "r.png")
    pixels = read_image(tmp_path / "r.png", grayscale=True)
    assert len(np.unique(pixels)) == 256 and (pixels == 255).mean() < 0.01
    Image.fromarray(np.ones((4, 4), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(InputError, match="floating-point pixels.*--transform"):
        read_image(tmp_path / "f.tif")


def test_cli_warnings_are_one_line(tmp_path, model_spec):
    import os
    import subprocess
    import sys

    data = _png_folder(tmp_path / "test", ["blue", "green", "red"])
    argv = ["probe", "--model", model_spec, "--data", data, "--out", tmp_path / "o"]
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [sys.executable, "-m", "dataperf", *map(str, argv), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "dataperf probe: warning (LabelMismatchWarning): labels of the probed data" in (
        done.stderr
    )
    assert ".py:" not in done.stderr  # no file, line or source line of the library


def test_cli_unreadable_class_file_and_worker_errors_are_one_line(tmp_path, model_spec, capsys):
    from PIL import Image

    data = _png_folder(tmp_path / "test", ["red", "green", "blue"])
    bad = tmp_path / "classes.txt"
    bad.write_bytes(b"\xff\xfe\x00r\x00e")
    argv = ["probe", "--model", model_spec, "--data", data, "--no-progress"]
    code, _, err = _cli([*argv, "--out", tmp_path / "a", "--classes", bad], capsys)
    assert code == 2 and "not UTF-8" in err and "Traceback" not in err
    Image.new("RGB", (9, 8)).save(data / "red" / "wide.png")
    code, _, err = _cli([*argv, "--out", tmp_path / "b", "--workers", "2"], capsys)
    assert code == 2 and "differ in size" in err and "--image-size" in err


def test_an_error_in_the_user_s_dataset_keeps_its_type_under_workers(tmp_path, model_spec):
    source = tmp_path / "broken_data.py"
    source.write_text(
        "class Broken:\n"
        "    def __len__(self):\n        return 8\n"
        "    def __getitem__(self, i):\n        raise KeyError(i)\n\n"
        "def data():\n    return Broken()\n"
    )
    argv = ["probe", "--model", model_spec, "--data", f"{source}:data", "--workers", "2"]
    with pytest.raises(KeyError):  # a bug in user code: its own type and traceback
        cli.main([*map(str, argv), "--out", str(tmp_path / "o"), "--no-progress"])
