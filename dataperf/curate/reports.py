"""Self-contained HTML reports of data work: label issues and weak slices.

:func:`label_issues_report` (and :meth:`LabelIssues.to_html
<dataperf.curate.label_issues.LabelIssues.to_html>`) lists the flagged items; and
:func:`weak_slices_report` lists what :func:`~dataperf.curate.slices.find_weak_slices`
returned. Both are single HTML files that open offline, in the style of the proposal report
(:mod:`dataperf.propose.report`); the page, table and thumbnails come from
:mod:`dataperf._html`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataperf._errors import InputTypeError
from dataperf._files import check_output_file
from dataperf._html import (
    Column,
    key_values,
    number,
    page,
    percent,
    section,
    table,
    thumbnails,
    write_page,
)
from dataperf._validate import describe
from dataperf.curate.label_issues import LabelIssues
from dataperf.curate.slices import Slice

__all__ = ["label_issues_report", "weak_slices_report"]


def label_issues_report(
    issues: LabelIssues,
    path: str | os.PathLike[str],
    *,
    images: Any = None,
    image_root: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a self-contained HTML report of the flagged items of ``issues``; return the path.

    The table holds, most likely mislabelled first: rank, thumbnail, id, given label,
    suggested label, score and reasons; it sorts by any column and filters on any text or
    on the given label.

    Parameters
    ----------
    issues : LabelIssues
        What :func:`~dataperf.curate.label_issues.find_label_issues` returned.
    path : str or path-like
        The HTML file to write (atomically).
    images : indexable by position, optional
        A Dataset, array or list whose elements are images (arrays, tensors, PIL images),
        ``(image, label, ...)`` tuples or file paths, in the order of the Signals. Shown as
        thumbnails (at most 96 px, inline); without images there is no thumbnail column.
    image_root : str or path-like, optional
        File paths in ``images`` must lie inside this folder (default: the current folder).

    Returns
    -------
    Path
    """
    if not isinstance(issues, LabelIssues):
        raise InputTypeError(f"issues must be a LabelIssues; got {describe(issues)}.")
    path = check_output_file(path, "report")
    records = issues.to_records()
    thumbs = thumbnails(images, issues.indices.tolist(), image_root=image_root)
    columns = [Column("rank", "number")] + ([Column("image", "image")] if thumbs else [])
    columns += [
        Column("id"),
        Column("given label", category=True, choices=_names(issues)),
        Column("suggested label"),
        Column(
            "suggestion confidence",
            "number",
            fmt=lambda v: number(v, 2),
            title="sort by it to review the surest suggestions first",
        ),
        Column("score", "number", fmt=lambda v: number(v, 3), title="higher: more likely wrong"),
        Column("reasons", wide=True),
    ]
    rows = []
    for r in records:
        row = [r["rank"]] + ([thumbs[r["index"]]] if thumbs else [])
        given = r.get("label_name", r["label"])
        suggested = r.get("suggested_name", r["suggested"])
        rows.append(
            row
            + [r["id"], str(given), suggested, r.get("suggestion_confidence"), r["score"]]
            + ["; ".join(r["reasons"])]
        )
    n = len(issues.scores)
    facts = [
        ("method", issues.method),
        ("flagged", f"{len(issues)} of {n} items ({len(issues) / n:.1%})" if n else "0"),
        ("classes", ", ".join(issues.class_names) if issues.class_names else "by index"),
    ]
    lead = (
        "Most likely mislabelled first. Click a column header to sort (again to reverse); "
        "type to filter on any text, or pick a given label."
    )
    body = table(columns, rows, label="flagged items") if rows else "No item was flagged."
    document = page(
        "dataperf: label issues",
        section("Summary", key_values(facts), anchor="summary"),
        section("Flagged items", body, anchor="flagged", lead=lead),
        subtitle=f"{len(issues)} items whose given label is probably wrong ({issues.method})",
        data={"method": issues.method, "items": n, "flagged": records},
    )
    return write_page(path, document)


def _names(issues: LabelIssues) -> list[str] | None:
    if issues.class_names:
        return list(issues.class_names)
    return [str(c) for c in sorted({int(c) for c in issues.labels[issues.indices]})]


def weak_slices_report(
    slices: Sequence[Slice],
    path: str | os.PathLike[str],
    *,
    images: Any = None,
    image_root: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a self-contained HTML report of weak slices; return the path.

    One row per slice, most clearly weak first: its description, where it came from (an
    embedding cluster or a metadata column), its size, the metric on it with its confidence
    interval, the metric overall, the lift and, with ``images``, its representative members.

    Parameters
    ----------
    slices : list of Slice
        What :func:`~dataperf.curate.slices.find_weak_slices` returned (may be empty).
    path : str or path-like
        The HTML file to write (atomically).
    images : indexable by position, optional
        A Dataset, array or list whose elements are images (arrays, tensors, PIL images),
        ``(image, label, ...)`` tuples or file paths, in the order of the Signals. Shown as
        thumbnails (at most 96 px, inline); without images there is no thumbnail column.
    image_root : str or path-like, optional
        File paths in ``images`` must lie inside this folder (default: the current folder).

    Returns
    -------
    Path
    """
    if isinstance(slices, (Slice, str, bytes)) or not isinstance(slices, Sequence):
        raise InputTypeError(
            f"slices must be the list find_weak_slices returned; got {describe(slices)}."
        )
    bad = [describe(s) for s in slices if not isinstance(s, Slice)]
    if bad:
        raise InputTypeError(f"slices must hold Slice objects only; got {bad[0]}.")
    path = check_output_file(path, "report")
    metric = slices[0].metric if slices else "error"
    show = percent if metric == "error" else (lambda v: number(v, 3))
    wanted = [int(i) for s in slices for i in s.representatives]
    thumbs = thumbnails(images, wanted, image_root=image_root)
    columns = [Column("rank", "number")] + ([Column("members", "image")] if thumbs else [])
    columns += [
        Column("slice", wide=True),
        Column("kind", category=True, choices=("cluster", "column")),
        Column("size", "number"),
        Column(metric, "number", fmt=show),
        Column("CI low", "number", fmt=show, title="lower end of the confidence interval"),
        Column("CI high", "number", fmt=show, title="upper end of the confidence interval"),
        Column("overall", "number", fmt=show),
        Column("lift", "number", fmt=lambda v: f"{v:.1f}x", title="how many times worse"),
    ]
    rows, records = [], []
    for rank, s in enumerate(slices, start=1):
        reps = [thumbs[int(i)] for i in s.representatives] if thumbs else None
        row = [rank] + ([reps] if thumbs else [])
        rows.append(row + [s.description, s.kind, s.size, s.value, *s.ci, s.overall, s.lift])
        records.append(
            {
                "rank": rank,
                "description": s.description,
                "kind": s.kind,
                "size": s.size,
                "metric": s.metric,
                "value": s.value,
                "ci": list(s.ci),
                "overall": s.overall,
                "lift": s.lift,
                "representatives": s.representatives.tolist(),
            }
        )
    facts = [("slices", len(slices)), ("metric", metric)]
    if slices:
        facts.append((f"{metric} overall", show(slices[0].overall)))
    lead = (
        "Most clearly weak first (ranked by the lower end of the lift's confidence interval). "
        "Members: the items nearest each slice's centre."
    )
    body = (
        table(columns, rows, label="slices")
        if rows
        else "No weak slice: the model is no worse on any group than overall."
    )
    document = page(
        "dataperf: weak slices",
        section("Summary", key_values(facts), anchor="summary"),
        section("Slices", body, anchor="slices", lead=lead),
        subtitle=f"{len(slices)} groups where the model does worse than overall",
        data={"slices": records},
    )
    return write_page(path, document)
