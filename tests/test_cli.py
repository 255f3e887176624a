"""Smoke runs of the quick-start job (`dataperf demo`) on tiny settings."""

from __future__ import annotations

import json

from dataperf import cli, datasets

TINY = ["--images", "3", "--views", "2", "--sentences", "2", "--workers", "0"]


def test_demo_writes_preview_and_text(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), *TINY]) == 0
    out = capsys.readouterr().out
    assert "same outputs with num_workers=0" in out and ": yes" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
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
    assert cli.main([*args, "--workers", "2", "--no-textattack"]) == 0
    out = capsys.readouterr().out
    assert "falling back to scikit-learn's digits" in out
    assert json.loads((tmp_path / "summary.json").read_text())["images"]["deterministic"]


def test_demo_missing_required_data_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(datasets, "fashion_mnist_dir", lambda: None)
    code = cli.main(["demo", "--out", str(tmp_path), "--data", "fashion-mnist", *TINY])
    assert code == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err
