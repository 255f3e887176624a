"""`dataperf propose --label-studio/--label-csv/--labelled` and `dataperf labels`: one round."""

from __future__ import annotations

import csv
import json

import pytest

from dataperf import cli

QUIET = ["--no-progress"]


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _annotate(tasks, answers):
    for task, answer in zip(tasks, answers, strict=False):
        task["annotations"] = [
            {
                "was_cancelled": False,
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": [answer]},
                    }
                ],
            }
        ]


def test_a_full_round_from_image_folders(files, capsys):
    tmp = files["tmp"]
    base = ["propose", "--pool", files["pool"], "--test", files["test"], "--model", files["ts"]]
    argv = [*base, "--k", "5", "--out", tmp / "r1" / "proposals.jsonl", *QUIET]
    argv += ["--label-studio", tmp / "r1" / "tasks.json", "--label-csv", tmp / "r1" / "todo.csv"]
    argv += ["--image-root", files["pool"]]  # the ids are absolute paths: serve their folder
    argv += ["--save-signals", tmp / "signals", "--report", tmp / "r1" / "report.html"]
    argv += ["--save-proposal", tmp / "r1" / "proposal.npz"]
    code, stdout, err = _run(argv, capsys)
    assert code == 0, err
    report = (tmp / "r1" / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 5 and 'id="yield"' not in report
    tasks = json.loads((tmp / "r1" / "tasks.json").read_text())
    config = (tmp / "r1" / "tasks_config.xml").read_text()
    assert len(tasks) == 5 and 'value="cannot tell"' in config and 'value="fox"' in config
    # the ids are the pool's file paths, referenced under the image root
    assert all(t["data"]["image"].startswith("/data/local-files/?d=img_") for t in tasks)
    with (tmp / "r1" / "todo.csv").open() as f:
        assert [r["id"] for r in csv.DictReader(f)] == [t["data"]["dataperf_id"] for t in tasks]
    records = [json.loads(line) for line in (tmp / "r1" / "proposals.jsonl").open()]
    # people answer: two labels (one the prediction, one another class), one cannot tell
    other = next(c for c in ("cat", "dog", "fox") if c != records[1]["prediction"])
    _annotate(tasks, [records[0]["prediction"], other, "cannot tell"])
    export = tmp / "r1" / "export.json"
    export.write_text(json.dumps(tasks))

    argv = ["labels", export, "--proposals", tmp / "r1" / "proposals.jsonl"]
    argv += ["--classes", "cat,dog,fox", "--json", tmp / "r1" / "yield.json"]
    code, stdout, err = _run(argv, capsys)
    assert code == 0, err
    assert "5 proposals: 2 labelled, 1 cannot tell, 0 no majority, 2 unlabelled" in stdout
    expected = 0 if records[1]["bucket"] == "already_covered" else 1
    assert f"yield: {expected / 3:.0%} ({expected} of 3;" in stdout
    summary = json.loads((tmp / "r1" / "yield.json").read_text())
    assert summary["yield"]["n"] == 3 and summary["yield"]["hits"] == expected
    labels = tmp / "r1" / "export_labels.csv"
    assert labels.is_file()
    # Label Studio's Export dialog leaves out the tasks nobody answered: still 5 proposals
    export.write_text(json.dumps(tasks[:3]))
    with pytest.warns(UserWarning, match="2 of the 5 proposals are not in"):
        code, answered_only, err = _run(argv[:4] + ["--classes", "cat,dog,fox"], capsys)
    assert code == 0, err
    assert "5 proposals: 2 labelled, 1 cannot tell, 0 no majority, 2 unlabelled" in answered_only
    export.write_text(json.dumps(tasks))
    # the same, from the saved proposal, with the report and its yield section
    argv = ["labels", export, "--proposals", tmp / "r1" / "proposal.npz", "--classes"]
    argv += ["cat,dog,fox", "--report", tmp / "r1" / "after.html", "--image-root", files["pool"]]
    code, again, err = _run(argv, capsys)
    assert code == 0, err
    assert again == stdout
    after = (tmp / "r1" / "after.html").read_text()
    assert 'id="yield"' in after and after.count("data:image/png;base64,") >= 5

    # round 2: the two labelled items join the test set; the three answered are not proposed
    argv = ["propose", "--pool", tmp / "signals" / "pool", "--test", tmp / "signals" / "test"]
    argv += ["--k", "5", "--out", tmp / "r2.jsonl", "--labelled", labels, "--no-sheet"]
    code, stdout, err = _run(argv, capsys)
    assert code == 0, err
    assert "2 labelled item(s) join the test set; 3 answered item(s)" in err
    assert "(test: 14 items)" in stdout
    again = {json.loads(line)["id"] for line in (tmp / "r2.jsonl").open()}
    assert not again & {t["data"]["dataperf_id"] for t in tasks[:3]}


def test_array_pools_export_their_images_and_bad_answers_are_one_line(files, capsys):
    tmp = files["tmp"]
    argv = ["propose", "--pool", files["npy"], "--model", "_cli_models:tiny_net", "--k", "3"]
    argv += ["--out", tmp / "p.jsonl", "--label-studio", tmp / "ls.json", "--blind", *QUIET]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    tasks = json.loads((tmp / "ls.json").read_text())
    assert all("predictions" not in t for t in tasks)
    for task in tasks:
        path = tmp / task["data"]["image"].removeprefix("/data/local-files/?d=")
        assert path.parent.name == "ls_images" and path.is_file()
    _annotate(tasks, ["kitten"])
    (tmp / "export.json").write_text(json.dumps(tasks))
    argv = ["labels", tmp / "export.json", "--proposals", tmp / "p.jsonl"]
    code, _, err = _run(argv, capsys)  # JSON lines alone do not know every class name
    assert code == 0 and "not checked against the class names" in err
    code, _, err = _run([*argv, "--classes", "class 0,class 1,class 2"], capsys)
    assert code == 2 and "['kitten'] that are not classes" in err and "--classes" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = _run(["labels", tmp / "export.json", "--proposals", tmp / "ls.json"], capsys)
    assert code == 2 and "cannot read it" in err and "dataperf propose --out" in err


def test_a_round_from_saved_signals_of_arrays(files, capsys):
    """Pool and test probed from .npy arrays: ids are positions on both sides."""
    tmp = files["tmp"]
    data = {"pool": files["npy"], "test": f"{files['npy']}:{files['labels']}"}
    for name, source in data.items():
        argv = ["probe", "--model", "_cli_models:tiny_net", "--data", source]
        code, _, err = _run([*argv, "--out", tmp / f"sig_{name}", *QUIET], capsys)
        assert code == 0, err
    base = ["propose", "--pool", tmp / "sig_pool", "--test", tmp / "sig_test", "--k", "3"]
    base += ["--no-sheet"]
    out = tmp / "r1.jsonl"
    code, _, err = _run([*base, "--out", out, "--label-studio", tmp / "t.json"], capsys)
    assert code == 2 and "--images FILE.npy" in err
    assert not out.exists()  # refused before anything was written
    argv = [*base, "--out", out, "--label-studio", tmp / "t.json", "--images", files["npy"]]
    code, _, err = _run([*argv, "--save-proposal", tmp / "r1.npz"], capsys)
    assert code == 0, err
    tasks = json.loads((tmp / "t.json").read_text())
    _annotate(tasks, ["class 2", "cannot tell"])
    (tmp / "export.json").write_text(json.dumps(tasks))
    code, stdout, err = _run(["labels", tmp / "export.json", "--proposals", tmp / "r1.npz"], capsys)
    assert code == 0, err
    assert "not checked" not in err and "1 labelled, 1 cannot tell" in stdout
    # round 2: pool and test ids are both positions; the grown test set keeps them apart
    argv = [*base, "--out", tmp / "r2.jsonl", "--labelled", tmp / "export_labels.csv"]
    code, stdout, err = _run(argv, capsys)
    assert code == 0, err
    assert (
        "1 labelled item(s) join the test set; 2 answered" in err and "(test: 10 items)" in stdout
    )
    again = {json.loads(line)["id"] for line in (tmp / "r2.jsonl").open()}
    assert not again & {t["data"]["dataperf_id"] for t in tasks[:2]}
