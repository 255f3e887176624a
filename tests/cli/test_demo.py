"""Smoke runs of the quick-start job (`dataperf demo`) on tiny settings."""

from __future__ import annotations

import json

from dataperf import cli, datasets
from dataperf.demo import augment_images, augment_text

TINY = ["--images", "3", "--views", "2", "--sentences", "2", "--workers", "0", "--no-propose"]
# The propose step on scikit-learn digits: a few seconds.
TINY_PROPOSE = ["--propose-train", "300", "--epochs", "1", "--k", "10"]


def test_demo_writes_preview_and_text(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), *TINY]) == 0
    out = capsys.readouterr().out
    assert "propose:" not in out  # --no-propose skips training a model
    assert not (tmp_path / "proposals.jsonl").exists()
    assert "same outputs with num_workers=0" in out and ": yes" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "propose" not in summary
    assert summary["images"]["deterministic"] is True
    assert summary["images"]["images"] == 3 and summary["images"]["views"] == 2
    from PIL import Image

    with Image.open(tmp_path / "augment_preview.png") as grid:
        assert grid.size[0] > grid.size[1] / 3  # 3 rows of (1 original + 2 views)
    records = [json.loads(line) for line in (tmp_path / "text_augmentations.jsonl").open()]
    assert len(records) == 2
    assert {"original", "CharSwap", "WordSwap"} <= set(records[0])
    assert any(key.startswith("textattack:") for key in records[0])


def test_demo_with_workers_matches_and_falls_back_to_digits(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: None)
    args = ["demo", "--out", str(tmp_path), "--images", "4", "--views", "1", "--sentences", "1"]
    assert cli.main([*args, "--workers", "2", "--no-textattack", *TINY_PROPOSE]) == 0
    out = capsys.readouterr().out
    assert out.count("falling back to scikit-learn's digits") == 2  # images, then propose
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["images"]["deterministic"]
    assert summary["propose"]["dataset"] == "digits"
    assert "on 300 scikit-learn digits images for 1 epoch(s)" in out


def test_demo_proposes_hard_test_examples(tmp_path, capsys):
    args = ["demo", "--out", str(tmp_path), "--data", "digits", *TINY, *TINY_PROPOSE]
    args.remove("--no-propose")
    assert cli.main([*args, "--no-textattack"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())["propose"]
    assert summary["dataset"] == "digits" and summary["k"] == 10 and summary["n_train"] == 300
    assert summary["epochs"] == 1 and 0 <= summary["test_accuracy"] <= 1
    assert sum(summary["proposals"].values()) == 10  # every proposal is of one planted kind
    assert set(summary["precision_at_k"]) == {
        "HardnessSampler", "random", "entropy", "margin", "BALD", "k-center", "BADGE"
    }  # fmt: skip
    assert summary["precision_at_k"]["HardnessSampler"] == summary["proposals"]["useful"] / 10
    assert "| HardnessSampler |" in summary["table"]
    assert out.count("#1 (pool item") == 1 and "#3 (pool item" in out
    assert "the 10 proposals hold:" in out and "clean & misclassified (useful)" in out
    records = [json.loads(line) for line in (tmp_path / "proposals.jsonl").open()]
    assert [r["rank"] for r in records] == list(range(1, 11))
    assert {"prediction", "hard", "labelable", "novel", "explanation"} <= set(records[0])
    from PIL import Image

    with Image.open(tmp_path / "proposals.png") as sheet:
        assert sheet.size[0] > sheet.size[1]  # one row of 10


def test_demo_missing_required_data_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: None)
    code = cli.main(["demo", "--out", str(tmp_path), "--data", "fashion-mnist", *TINY])
    assert code == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_demo_steps_return_data_and_print_nothing(capsys):
    images = augment_images(data="digits", n=3, views=2, workers=0, seed=1)
    assert images.source == "scikit-learn digits" and images.deterministic
    assert len(images.views) == 2 and all(len(v) == 3 for v in images.views)
    assert [len(row) for row in images.rows()] == [3, 3, 3]
    assert images.summary() == {
        "source": "scikit-learn digits", "images": 3, "views": 2, "deterministic": True
    }  # fmt: skip
    text = augment_text(n=2, seed=0, textattack=False)
    assert len(text.records) == 2 and [r.name for r in text.runs][:2] == [
        "CharSwap",
        "KeyboardTypo",
    ]
    assert all(set(record) == {"original", *(r.name for r in text.runs)} for record in text.records)
    assert capsys.readouterr().out == ""
