"""The labelling round trip: export (Label Studio, CSV), read answers back, yield, grow."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from dataperf.propose.label_studio import (
    CANNOT_TELL,
    LOCAL_FILES,
    class_choices,
    export_csv,
    export_label_studio,
)
from dataperf.propose.labels import (
    answered_ids,
    check_alignment,
    grow_test_set,
    read_labels,
    yield_summary,
)
from dataperf.propose.sampler import HardnessSampler
from dataperf.signals import Signals
from dataperf.stats import wilson_interval

NAMES = ["cat", "dog", "owl"]


def _signals(rng, n, labelled, start=0):
    centers = np.eye(3, 12) * 6
    y = rng.integers(0, 3, n)
    emb = centers[y] + rng.normal(size=(n, 12))
    logits = emb @ centers.T / 6
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Signals(
        probs=probs,
        embeddings=emb,
        labels=y if labelled else None,
        ids=np.arange(start, start + n),
        meta={"classes": NAMES},
    )


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    pool = _signals(rng, 200, False, start=1000)
    test, train = _signals(rng, 60, True), _signals(rng, 150, True, start=5000)
    proposal = HardnessSampler(12, seed=0).propose(pool, test=test, train=train)
    images = rng.integers(0, 255, size=(200, 8, 8), dtype=np.uint8)
    return pool, test, train, proposal, images


def _csv(tmp_path, text):
    path = tmp_path / "answers.csv"
    path.write_text(text)
    return path


def _answer(task, *choices, cancelled=False):
    task.setdefault("annotations", []).append(
        {
            "was_cancelled": cancelled,
            "result": [
                {
                    "from_name": "label",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": [c]},
                }
                for c in choices
            ],
        }
    )


# ------------------------------------------------------------------------------ export


def test_label_studio_export_tasks_config_and_images(world, tmp_path):
    _, _, _, proposal, images = world
    tasks_path, config_path = export_label_studio(
        proposal, tmp_path / "ls" / "tasks.json", images=images
    )
    tasks = json.loads(tasks_path.read_text())
    assert len(tasks) == len(proposal) == 12
    records = proposal.records()
    for task, record in zip(tasks, records, strict=True):
        data = task["data"]
        assert data["dataperf_id"] == record["id"] and data["rank"] == record["rank"]
        assert data["explanation"] == record["explanation"] and data["bucket"] == record["bucket"]
        assert data["image"].startswith(LOCAL_FILES)
        image = tmp_path / "ls" / data["image"][len(LOCAL_FILES) :]
        assert image.is_file() and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        (prediction,) = task["predictions"]
        assert prediction["score"] == record["confidence"]
        assert prediction["result"][0]["value"]["choices"] == [record["prediction"]]
    view = ET.fromstring(config_path.read_text())
    assert [c.get("value") for c in view.iter("Choice")] == [*NAMES, CANNOT_TELL]
    assert view.find("Choices").get("choice") == "single" and view.find("Text") is not None


def test_blind_export_has_no_prediction_or_explanation(world, tmp_path):
    _, _, _, proposal, images = world
    tasks_path, config_path = export_label_studio(
        proposal, tmp_path / "tasks.json", images=images, blind=True, url_prefix="https://h/i/"
    )
    tasks = json.loads(tasks_path.read_text())
    assert all("predictions" not in t for t in tasks)
    assert all({"prediction", "explanation"}.isdisjoint(t["data"]) for t in tasks)
    assert all(t["data"]["image"].startswith("https://h/i/tasks_images/") for t in tasks)
    assert ET.fromstring(config_path.read_text()).find("Text") is None


def test_file_ids_are_referenced_under_the_root_and_guarded(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "images"
    (root / "a b").mkdir(parents=True)
    paths = []
    for i in range(30):
        path = root / "a b" / f"{i}.png"
        path.write_bytes(b"png")
        paths.append(str(path))
    pool = _signals(rng, 30, False)
    pool = Signals(probs=pool.probs, embeddings=pool.embeddings, ids=np.array(paths))
    proposal = HardnessSampler(4, seed=0).propose(pool)
    tasks_path, _ = export_label_studio(proposal, tmp_path / "t.json", image_root=root)
    refs = [t["data"]["image"] for t in json.loads(tasks_path.read_text())]
    assert all(r.startswith(LOCAL_FILES + "a%20b/") for r in refs)
    with pytest.raises(ValueError, match="image root"):
        export_label_studio(proposal, tmp_path / "t.json", image_root=root / "a b" / "sub")


def test_a_class_named_cannot_tell_is_refused():
    assert class_choices(None, 2) == ["class 0", "class 1"]
    with pytest.raises(ValueError, match="rename that class"):
        class_choices(["cat", CANNOT_TELL, "owl"], 3)


# ------------------------------------------------------------------------------ import


def _export(proposal, images, tmp_path):
    tasks_path, _ = export_label_studio(proposal, tmp_path / "tasks.json", images=images)
    return json.loads(tasks_path.read_text())


def test_majority_agreement_ties_cancelled_and_unlabelled(world, tmp_path):
    _, _, _, proposal, images = world
    tasks = _export(proposal, images, tmp_path)
    _answer(tasks[0], "dog")
    _answer(tasks[0], "dog")
    _answer(tasks[0], "cat")
    _answer(tasks[1], "cat")
    _answer(tasks[1], "dog")  # a tie
    _answer(tasks[2], CANNOT_TELL)
    _answer(tasks[3], "owl", cancelled=True)  # skipped: no vote
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    labels = read_labels(tmp_path / "export.json")
    assert labels.ids == [t["data"]["dataperf_id"] for t in tasks]
    assert labels.answers[:4] == ["dog", None, CANNOT_TELL, None]
    assert labels.status[:4] == ["labelled", "no_majority", "cannot_tell", "unlabelled"]
    assert labels.votes[:4].tolist() == [3, 2, 1, 0]
    assert labels.agreement[0] == pytest.approx(2 / 3) and np.isnan(labels.agreement[3])
    assert labels.counts() == {"labelled": 1, "cannot_tell": 1, "no_majority": 1, "unlabelled": 9}
    assert set(answered_ids(labels)) == {t["data"]["dataperf_id"] for t in tasks[:3]}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"tasks": []}', "a list of tasks"),
        ('[{"data": {"image": "x"}}]', "no data.dataperf_id"),
        ("not json", "neither a CSV"),
    ],
)
def test_unreadable_exports_are_clear_errors(tmp_path, content, match):
    (tmp_path / "export.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        read_labels(tmp_path / "export.json")


def test_two_choices_in_one_annotation_are_refused(world, tmp_path):
    _, _, _, proposal, images = world
    tasks = _export(proposal, images, tmp_path)
    _answer(tasks[0], "dog", "cat")
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match="expected one"):
        read_labels(tmp_path / "export.json")


def test_csv_round_trip(world, tmp_path):
    _, _, _, proposal, images = world
    path = export_csv(proposal, tmp_path / "todo.csv", images=images)
    rows = list(csv.DictReader(path.open()))
    assert [r["id"] for r in rows] == [str(i) for i in proposal.ids]
    assert all(r["label"] == "" and (tmp_path / r["image"]).is_file() for r in rows)
    rows[0]["label"], rows[1]["label"] = "owl", CANNOT_TELL
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "image", "label"])
        writer.writeheader()
        writer.writerows(rows)
    labels = read_labels(path)
    assert labels.ids == [int(i) for i in proposal.ids]
    assert labels.status[:3] == ["labelled", "cannot_tell", "unlabelled"]
    again = read_labels(labels.to_csv(tmp_path / "labels.csv"))
    assert again.ids == labels.ids and again.answers == labels.answers
    assert again.status == labels.status


def test_alignment_refuses_extra_and_renamed_and_warns_of_missing(world, tmp_path):
    _, _, _, proposal, images = world
    records = proposal.records()
    tasks = _export(proposal, images, tmp_path)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks[1:]))  # Label Studio's default export: annotated tasks only
    with pytest.warns(UserWarning, match=r"1 of the 12 proposals are not in .*download_all_tasks"):
        assert check_alignment(read_labels(path), records, NAMES) == [records[0]["id"]]
    tasks[0]["data"]["dataperf_id"] = "elsewhere"
    path.write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match="were not proposed, e.g. \\['elsewhere'\\]"):
        check_alignment(read_labels(path), records[1:], NAMES)
    tasks[0]["data"]["dataperf_id"] = records[0]["id"]
    _answer(tasks[0], "kitty")
    path.write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match=r"\['kitty'\] that are not classes"):
        check_alignment(read_labels(path), records, NAMES)
    # yield_summary checks the same, with the class names of the Proposal itself
    with pytest.raises(ValueError, match=r"\['kitty'\] that are not classes"):
        yield_summary(read_labels(path), proposal)


def test_proposals_left_out_of_the_export_count_as_unlabelled(world, tmp_path):
    # Label Studio's Export dialog leaves out the tasks nobody answered
    _, _, _, proposal, images = world
    tasks = _export(proposal, images, tmp_path)
    _answer(tasks[1], "dog")
    _answer(tasks[2], CANNOT_TELL)
    every, answered = tmp_path / "all.json", tmp_path / "answered.json"
    every.write_text(json.dumps(tasks))
    answered.write_text(json.dumps(tasks[1:3]))
    with pytest.warns(UserWarning, match="10 of the 12 proposals are not in"):
        summary = yield_summary(read_labels(answered), proposal)
    assert summary["counts"] == {
        "labelled": 1,
        "cannot_tell": 1,
        "no_majority": 0,
        "unlabelled": 10,
    }
    assert summary == yield_summary(read_labels(every), proposal)


def test_a_renamed_choices_field_is_an_error_not_silence(world, tmp_path):
    _, _, _, proposal, images = world
    tasks = _export(proposal, images, tmp_path)
    _answer(tasks[0], "dog")
    tasks[0]["annotations"][0]["result"][0]["from_name"] = "digit"
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match="choices named \\['digit'\\].*name=\"label\""):
        read_labels(tmp_path / "export.json")


def test_the_labels_csv_keeps_ties_and_reads_spreadsheet_csv(world, tmp_path):
    _, _, _, proposal, images = world
    tasks = _export(proposal, images, tmp_path)
    _answer(tasks[0], "dog")
    _answer(tasks[0], "cat")  # a tie
    _answer(tasks[1], CANNOT_TELL)
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    labels = read_labels(tmp_path / "export.json")
    again = read_labels(labels.to_csv(tmp_path / "labels.csv"))
    assert again.status == labels.status and again.status[:2] == ["no_majority", "cannot_tell"]
    assert answered_ids(again) == answered_ids(labels)
    assert again.votes.tolist() == labels.votes.tolist()
    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufeffID,Label\n1004,owl\n".encode())  # Excel's "CSV UTF-8"
    assert read_labels(bom).answers == ["owl"]


# ------------------------------------------------------------------------------ yield


def test_yield_counts_confident_misclassified_and_new(tmp_path):
    records = [
        {"id": 1, "prediction": "cat", "bucket": "proposed"},  # labelled dog: a hit
        {"id": 2, "prediction": "cat", "bucket": "proposed"},  # labelled cat: right
        {"id": 3, "prediction": "dog", "bucket": "proposed"},  # cannot tell
        {"id": 4, "prediction": "dog", "bucket": "already_covered"},  # wrong, but a near-copy
        {"id": 5, "prediction": "dog", "bucket": "proposed"},  # not answered: not counted
    ]
    path = tmp_path / "labels.csv"
    path.write_text("id,label\n1,dog\n2,cat\n3,cannot tell\n4,cat\n5,\n")
    summary = yield_summary(read_labels(path), records)
    low, high = wilson_interval(1, 4)
    assert summary["yield"] == {"value": 0.25, "low": low, "high": high, "hits": 1, "n": 4}
    assert summary["per_class"]["cat"]["value"] == 0.5
    assert summary["per_class"]["dog"]["hits"] == 0 and summary["per_class"]["dog"]["n"] == 2
    assert summary["counts"] == {"labelled": 3, "cannot_tell": 1, "no_majority": 0, "unlabelled": 1}
    assert summary["agreement"]["annotations"] == 4
    json.dumps(summary)  # serialisable


# ------------------------------------------------------------------------------ next round


def test_grow_the_test_set_and_never_propose_an_answered_item(world, tmp_path):
    pool, test, train, proposal, images = world
    tasks = _export(proposal, images, tmp_path)
    for task in tasks[:8]:
        _answer(task, "owl")
    for task in tasks[8:10]:
        _answer(task, CANNOT_TELL)
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    labels = read_labels(tmp_path / "export.json")
    grown = grow_test_set(test, pool, labels)  # class names from meta["classes"]
    assert len(grown) == len(test) + 8
    assert grown.labels[len(test) :].tolist() == [2] * 8
    assert grown.ids[len(test) :].tolist() == [t["data"]["dataperf_id"] for t in tasks[:8]]
    answered = answered_ids(labels)
    again = HardnessSampler(12, seed=0).propose(pool, test=grown, train=train, exclude=answered)
    assert not set(again.ids.tolist()) & set(answered)
    assert again.bucket_counts()["already_answered"] == 10
    with pytest.raises(ValueError, match="also test ids.*prefixes="):
        grow_test_set(grown, pool, labels, NAMES)
    renamed = grow_test_set(grown, pool, labels, NAMES, prefixes=("test:", "pool:"))
    assert renamed.ids[0] == "test:0" and renamed.ids[-1] == f"pool:{answered[7]}"
    # nothing labelled with confidence: the test set as it was
    only_unsure = read_labels(_csv(tmp_path, f"id,label\n{answered[8]},cannot tell\n"))
    assert grow_test_set(test, pool, only_unsure) is test
    with pytest.raises(ValueError, match="not ids of this pool"):
        grow_test_set(test, pool, read_labels(_csv(tmp_path, "id,label\n99999,owl\n")))
    with pytest.raises(ValueError, match="not excluded"):
        HardnessSampler(195, seed=0).propose(pool, test=grown, exclude=answered)


def test_a_saved_proposal_loads_back_whole(world, tmp_path):
    *_, proposal, _ = world
    from dataperf.propose.proposal import Proposal

    loaded = Proposal.load(proposal.save(tmp_path / "sub" / "p.npz"))
    assert loaded.records() == proposal.records()
    assert loaded.settings == proposal.settings and loaded.class_names == NAMES
    np.testing.assert_array_equal(loaded.buckets, proposal.buckets)
    for name, values in proposal.scores.items():
        np.testing.assert_array_equal(loaded.scores[name], values)
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a proposal file"):
        Proposal.load(tmp_path / "x.npz")
