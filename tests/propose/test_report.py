"""The proposal HTML report: escaped, self-contained, atomic, root-guarded, complete."""

from __future__ import annotations

import base64
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _report_helpers import CLASSES, XSS_CLASS, XSS_ID, YIELD, K, Page, pool_images, small_proposal
from PIL import Image

from dataperf._errors import InputTypeError, InputValueError
from dataperf._html import script_json, thumbnail, thumbnails
from dataperf.propose.buckets import BUCKETS, bucket_meaning
from dataperf.propose.report import proposal_report


@pytest.fixture(scope="module")
def proposal():
    return small_proposal()


@pytest.fixture(scope="module")
def images():
    return pool_images()


@pytest.fixture(scope="module")
def full(proposal, images, tmp_path_factory):
    """The report with images and a yield summary: (path, text, parsed page)."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    proposal_report(proposal, path, images=images, yield_summary=YIELD)
    text = path.read_text(encoding="utf-8")
    return path, text, Page(text)


def _png_size(uri: str) -> tuple[int, int]:
    assert uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
        return img.size


# ------------------------------------------------------------------------------ escaping
def test_ids_and_class_names_show_as_text_never_as_markup(full, proposal):
    _, text, page = full
    assert XSS_ID in proposal.ids and proposal.class_names == CLASSES
    assert "<img src=x" not in text and "<b>dog" not in text
    assert not page.find("img", src="x") and not [t for t, _ in page.tags if t == "b"]
    shown = page.all_text()
    assert XSS_ID in shown and XSS_CLASS in shown and "bird & co" in shown
    # exactly the two scripts the page has: the data block and the table code
    assert text.count("</script") == 2 and len(page.scripts) == 2


def test_embedded_json_cannot_close_the_script_and_reads_back(full, proposal):
    _, _, page = full
    data = page.data()
    assert [r["id"] for r in data["proposals"]] == [r["id"] for r in proposal.records()]
    assert data["proposals"][0]["id"] == XSS_ID
    assert data["bucket_counts"] == proposal.bucket_counts()
    assert data["yield_summary"] == YIELD
    hostile = {"a": "</script><!-- & \u2028 \u2029 >", "b": [float("nan"), np.float32(0.5)]}
    blob = script_json(hostile)
    for char in "<>&\u2028\u2029":
        assert char not in blob
    assert json.loads(blob) == {"a": hostile["a"], "b": [None, 0.5]}


# ------------------------------------------------------------------------ self-contained
def test_page_loads_nothing_from_outside(full):
    _, text, page = full
    assert not [t for t, _ in page.tags if t in ("link", "iframe", "object", "embed", "base")]
    for tag, attrs in page.tags:
        assert not (tag == "script" and "src" in attrs)
        for name in ("src", "href", "action", "data"):
            value = attrs.get(name)
            if value is not None and tag != "script":
                assert value.startswith(("data:image/png;base64,", "#")), (tag, name, value[:40])
                assert "//" not in value.split(",", 1)[0]
    assert "http://" not in text and "https://" not in text
    (csp,) = page.find("meta", http_equiv="Content-Security-Policy")
    assert "default-src 'none'" in csp["content"] and "img-src data:" in csp["content"]


def test_thumbnails_are_inline_and_at_most_96_px(full, images):
    _, _, page = full
    thumbs = page.find("img", class_="thumb")
    assert len(thumbs) >= K
    for attrs in thumbs:
        width, height = _png_size(attrs["src"])
        assert max(width, height) == 96 and (width, height) == (96, 72)  # 160x120, aspect kept


def test_thumbnail_accepts_every_image_form(tmp_path):
    torch = pytest.importorskip("torch")
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(gray).save(tmp_path / "a.png")
    forms = {
        0: gray,  # (H, W)
        1: np.zeros((10, 20, 3), dtype=np.float32),  # (H, W, C) float
        2: torch.rand(3, 12, 6),  # (C, H, W) tensor
        3: Image.new("RGB", (300, 150)),  # PIL, downscaled
        4: (gray, 7),  # (image, label)
        5: "a.png",  # a path, relative to the image root
    }
    out = thumbnails(forms, range(6), image_root=tmp_path)
    sizes = {i: _png_size(t.uri) for i, t in out.items()}
    assert sizes == {0: (8, 8), 1: (20, 10), 2: (6, 12), 3: (96, 48), 4: (8, 8), 5: (8, 8)}
    assert thumbnail(np.zeros((500, 40))).width <= 96


# ---------------------------------------------------------------------------- file paths
def test_image_paths_inside_the_root_are_read_outside_refused(tmp_path, proposal):
    root = tmp_path / "images"
    root.mkdir()
    paths = {}
    for i in proposal.indices.tolist():
        Image.new("RGB", (20, 20), (i % 256, 0, 0)).save(root / f"{i}.png")
        paths[i] = f"{i}.png"
    out = proposal_report(proposal, tmp_path / "ok.html", images=paths, image_root=root)
    page = Page(out.read_text())
    # the table's K, and the bucket examples that are proposals (the only ones images holds)
    examples = [int(a["data-index"]) for a in page.find("div", class_="example")]
    shown = K + sum(i in paths for i in examples)
    assert len(examples) > shown - K and len([t for t, _ in page.tags if t == "img"]) == shown

    Image.new("RGB", (4, 4)).save(tmp_path / "secret.png")
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    first = int(proposal.indices[0])
    for bad in ("../secret.png", str(tmp_path / "secret.png"), "link.png"):
        with pytest.raises(InputValueError, match="outside the image root") as err:
            proposal_report(
                proposal, tmp_path / "bad.html", images={**paths, first: bad}, image_root=root
            )
        assert "image_root=" in str(err.value) and "--image-root" not in str(err.value)
    assert not (tmp_path / "bad.html").exists()
    # default root: the current folder
    cwd = os.getcwd()
    try:
        os.chdir(root)
        assert proposal_report(proposal, tmp_path / "cwd.html", images=paths).exists()
    finally:
        os.chdir(cwd)


# ------------------------------------------------------------------------------ writing
def test_written_atomically(tmp_path, proposal, images, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old report")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dataperf._files.os.replace", broken)
    with pytest.raises(OSError):
        proposal_report(proposal, path)
    monkeypatch.undo()
    assert path.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary file

    class Failing:  # an image that cannot be read half-way through
        def __getitem__(self, i):
            if i == int(proposal.indices[3]):
                raise ValueError("unreadable")
            return images[i]

    with pytest.raises(ValueError, match="unreadable"):
        proposal_report(proposal, path, images=Failing())
    assert path.read_text() == "old report"
    out = proposal.to_html(path)
    assert out == path and path.read_text().rstrip().endswith("</html>")


def test_bad_arguments(tmp_path, proposal):
    with pytest.raises(InputTypeError, match="Proposal"):
        proposal_report(proposal.records(), tmp_path / "r.html")
    with pytest.raises(InputTypeError, match="yield_summary"):
        proposal_report(proposal, tmp_path / "r.html", yield_summary=[0.4])
    with pytest.raises(InputValueError, match="folder"):
        proposal_report(proposal, tmp_path)
    with pytest.raises(InputValueError, match="examples_per_bucket"):
        proposal_report(proposal, tmp_path / "r.html", examples_per_bucket=-1)


# ------------------------------------------------------------------------------ content
def test_settings_and_proposals(full, proposal):
    _, _, page = full
    shown = page.all_text()
    rules = proposal.settings["buckets"]
    assert rules["ambiguity"] in shown and f"pool size{len(proposal.scores['total'])}" in shown
    assert f"proposals (k){K}" in shown and "test set, training set" in shown
    assert "covered 0.5, unlabelable 0.5" in shown
    (box,) = page.find("div", data_label="proposals")
    rows = [a for t, a in page.tags if t == "tr" and "data-cat" in a]
    assert len(rows) == K
    assert [a["data-cat"] for a in rows] == [str(b) for b in proposal.buckets[proposal.indices]]
    # rank, confidence, hard, labelable, novel, total: six numeric cells a row, raw values kept
    numbers = [float(a["data-value"]) for a in page.find("td", class_="num")][: 6 * K]
    assert numbers[0::6] == list(range(1, K + 1))
    assert numbers[5::6] == pytest.approx(proposal.total.tolist(), abs=1e-6)
    assert proposal.records()[1]["explanation"].split("): ", 1)[1][1:] in shown


def test_bucket_counts_meanings_and_examples(full, proposal):
    _, _, page = full
    found = {a["data-bucket"]: int(a["data-count"]) for a in page.find("div", class_="bucket")}
    assert found == proposal.bucket_counts() and list(found) == list(BUCKETS)
    shown = page.all_text()
    for name in BUCKETS:
        assert bucket_meaning(name, proposal.settings["buckets"]) in shown
    examples = [int(a["data-index"]) for a in page.find("div", class_="example")]
    total = proposal.scores["total"]
    expected = []
    for name in BUCKETS:
        members = np.flatnonzero(proposal.buckets == name)
        expected += sorted(members.tolist(), key=lambda i: (-total[i], i))[:6]
    assert examples == expected


def test_without_buckets_or_images(tmp_path, proposal):
    out = proposal_report(replace(proposal, buckets=None), tmp_path / "plain.html")
    text = out.read_text()
    page = Page(text)
    assert not page.find("section", id="buckets") and not page.find("select")
    assert "<img" not in text and not page.find("td", class_="img")
    assert len([a for t, a in page.tags if t == "tr"]) == K + 1  # header + one per proposal


def test_yield_section_only_with_a_summary(full, tmp_path, proposal):
    _, _, page = full
    assert page.find("section", id="yield")
    shown = page.all_text()
    assert "42%" in shown and "30%–55%" in shown and "21 hits of 50" in shown
    assert "cannot tell" in shown and "93%" in shown and "items with disagreement" in shown
    without = Page(proposal_report(proposal, tmp_path / "no.html").read_text())
    assert not without.find("section", id="yield") and "Yield" not in without.all_text()
    # any part may be missing, any value odd: still a page
    for summary in ({}, {"counts": {"labelled": 3}}, {"yield": {"value": None, "n": "?"}}):
        odd = Page(
            proposal_report(proposal, tmp_path / "odd.html", yield_summary=summary).read_text()
        )
        assert odd.find("section", id="yield")


def test_to_html_is_the_report(tmp_path, proposal, images):
    a = proposal.to_html(tmp_path / "a.html", images=images, yield_summary=YIELD)
    b = proposal_report(proposal, tmp_path / "b.html", images=images, yield_summary=YIELD)
    assert isinstance(a, Path) and a.read_text() == b.read_text()
