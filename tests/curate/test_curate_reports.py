"""HTML reports of data work: label issues and weak slices, in the proposal report's style."""

from __future__ import annotations

import numpy as np
import pytest
from _report_helpers import XSS_CLASS, XSS_ID, Page

from dataperf._errors import InputTypeError, InputValueError
from dataperf.curate.label_issues import find_label_issues
from dataperf.curate.reports import label_issues_report, weak_slices_report
from dataperf.curate.slices import find_weak_slices
from dataperf.signals import Signals

CLASSES = ["cat", XSS_CLASS, "bird & co"]


def _signals(n: int = 240, seed: int = 0) -> Signals:
    """Three clusters; 10% of the labels flipped; cluster 0 is where the model errs most."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    x = np.eye(3)[truth] * 4 + rng.normal(size=(n, 3))
    labels = truth.copy()
    flip = rng.random(n) < 0.1
    labels[flip] = (truth[flip] + 1) % 3
    probs = np.full((n, 3), 0.1)
    probs[np.arange(n), truth] = 0.8
    wrong = (truth == 0) & (rng.random(n) < 0.5)
    probs[wrong] = np.roll(probs[wrong], 1, axis=1)
    ids = np.array([f"img_{i:03d}.png" for i in range(n)], dtype=object)
    ids[0] = XSS_ID
    return Signals(
        probs=probs,
        embeddings=x,
        labels=labels,
        ids=ids,
        meta={"out_of_sample": True, "classes": CLASSES},
    )


@pytest.fixture(scope="module")
def signals():
    return _signals()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, (240, 32, 32), dtype=np.uint8)


def _rows(page: Page) -> list[dict]:
    return [a for t, a in page.tags if t == "tr" and "data-cat" in a]


def test_label_issues_report(tmp_path, signals, images):
    issues = find_label_issues(signals, method="knn", k=8)
    flagged = issues.indices.tolist()
    out = issues.to_html(tmp_path / "issues.html", images=images)
    text = out.read_text()
    page = Page(text)
    rows = _rows(page)
    assert len(rows) == len(issues) > 0
    assert [r["data-cat"] for r in rows] == [CLASSES[int(issues.labels[i])] for i in flagged]
    shown = page.all_text()
    assert "<b>dog" not in text and "<img src=x" not in text
    for record in issues.to_records()[:5]:
        assert str(record["id"]) in shown and "; ".join(record["reasons"]) in shown
    assert len([t for t, _ in page.tags if t == "img"]) == len(issues)
    assert page.data()["flagged"][0]["id"] == issues.to_records()[0]["id"]
    assert f"{len(issues)} of {len(signals)} items" in shown
    # same page through the function; without images no thumbnail column
    plain = Page(label_issues_report(issues, tmp_path / "plain.html").read_text())
    assert not [t for t, _ in plain.tags if t == "img"] and len(_rows(plain)) == len(issues)


def test_label_issues_page_escapes_an_id_that_is_markup(tmp_path, signals):
    issues = find_label_issues(signals, method="self_confidence", num_issues=len(signals))
    text = issues.to_html(tmp_path / "all.html").read_text()
    page = Page(text)
    assert XSS_ID in page.all_text() and XSS_CLASS in page.all_text()
    assert not page.find("img", src="x") and "<b>" not in text


def test_weak_slices_report(tmp_path, signals, images):
    slices = find_weak_slices(signals, min_size=10, n_clusters=3)
    assert slices
    out = weak_slices_report(slices, tmp_path / "slices.html", images=images)
    page = Page(out.read_text())
    rows = _rows(page)
    assert len(rows) == len(slices) and {r["data-cat"] for r in rows} == {"cluster"}
    shown = page.all_text()
    for s in slices:
        assert s.description in shown
    numbers = [float(a["data-value"]) for a in page.find("td", class_="num")]
    # rank, size, value, CI low, CI high, overall, lift: seven numeric cells a row
    assert numbers[2::7] == pytest.approx([s.value for s in slices])
    assert numbers[3::7] == pytest.approx([s.ci[0] for s in slices])
    assert numbers[4::7] == pytest.approx([s.ci[1] for s in slices])
    reps = sum(len(s.representatives) for s in slices)
    assert len([t for t, _ in page.tags if t == "img"]) == reps
    assert page.data()["slices"][0]["ci"] == pytest.approx(list(slices[0].ci))


def test_no_slices_and_bad_input(tmp_path):
    page = Page(weak_slices_report([], tmp_path / "none.html").read_text())
    assert "No weak slice" in page.all_text() and not page.find("table")
    with pytest.raises(InputTypeError, match="list find_weak_slices returned"):
        weak_slices_report("slices", tmp_path / "x.html")
    with pytest.raises(InputTypeError, match="Slice objects"):
        weak_slices_report([1, 2], tmp_path / "x.html")
    with pytest.raises(InputTypeError, match="LabelIssues"):
        label_issues_report([], tmp_path / "x.html")
    with pytest.raises(InputValueError, match="folder"):
        weak_slices_report([], tmp_path)
