"""A self-contained HTML report of a :class:`~dataperf.propose.proposal.Proposal`.

:func:`proposal_report` (and :meth:`Proposal.to_html`) writes one HTML file that opens offline
in any browser: the settings that chose the proposals, the proposals in a sortable, filterable
table with thumbnails and the one-sentence explanation of each, the six buckets of the pool
(how many candidates each holds, what it means, a few examples) and, once the proposals have
been labelled, the yield (the share of labelled proposals that were hits, with its interval).
The page, the table and the thumbnails come from :mod:`dataperf._html`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError
from dataperf._files import check_output_file
from dataperf._html import (
    Column,
    Markup,
    Thumbnail,
    element,
    join,
    key_values,
    number,
    page,
    percent,
    plain,
    section,
    table,
    thumbnails,
    write_page,
)
from dataperf._validate import check_int, describe
from dataperf.propose.buckets import BUCKETS, bucket_meaning
from dataperf.propose.proposal import Proposal

__all__ = ["proposal_report", "yield_section"]

_AMBIGUITY = {
    "mc_dropout": "MC-dropout samples agree the input is a toss-up (unambiguous < {ambiguous})",
    "near_tie_with_neighbours": "a near-tie between two classes (top-1 minus top-2 "
    "probability < {tie_margin}) that the labelled neighbours share (each class >= "
    "{tie_share} of them)",
    "near_tie": "a near-tie between two classes (top-1 minus top-2 probability < {tie_margin}); "
    "no labelled neighbours to confirm it",
    "none": "none (one class: nothing can tie)",
}
_USED = {
    "test": "test set",
    "train": "training set",
    "mc_probs": "MC-dropout samples",
    "pool_labels": "pool labels",
    "user_labelability": "your labelability",
}


def proposal_report(
    proposal: Proposal,
    path: str | os.PathLike[str],
    *,
    images: Any = None,
    image_root: str | os.PathLike[str] | None = None,
    yield_summary: Mapping[str, Any] | None = None,
    examples_per_bucket: int = 6,
) -> Path:
    """Write a self-contained HTML report of ``proposal`` to ``path``; return the path.

    Parameters
    ----------
    proposal : Proposal
        What :meth:`HardnessSampler.propose <dataperf.HardnessSampler.propose>` returned.
    path : str or path-like
        The HTML file to write (atomically: a reader sees the old file or the new one).
    images : indexable by pool position, optional
        As for :meth:`Proposal.contact_sheet`: a Dataset, array or list whose elements are
        images (arrays (H, W) / (H, W, C), tensors, PIL images), ``(image, label, ...)``
        tuples, or file paths. Shown as thumbnails (at most 96 px, inline); without images
        the report has no thumbnail column. It must hold the proposals; bucket examples it
        does not hold (a dict of the proposals' images only) are shown without a picture.
    image_root : str or path-like, optional
        File paths in ``images`` must lie inside this folder (default: the current folder);
        a path leading outside it is refused.
    yield_summary : dict, optional
        The yield of the labelled proposals: ``{"yield": {"value", "low", "high", "hits",
        "n"}, "per_class": {name: {...}}, "counts": {...}, "agreement": {"mean",
        "items_with_disagreement", "annotations"}}`` (``low``/``high``: a 95% Wilson
        interval); any part may be absent. Without it the report has no yield section.
    examples_per_bucket : int
        How many candidates each bucket shows (those with the highest ``total``).

    Returns
    -------
    Path
    """
    if not isinstance(proposal, Proposal):
        raise InputTypeError(f"proposal must be a Proposal; got {describe(proposal)}.")
    path = check_output_file(path, "report")
    per_bucket = check_int(examples_per_bucket, "examples_per_bucket", low=0)
    if yield_summary is not None and not isinstance(yield_summary, Mapping):
        raise InputTypeError(
            f"yield_summary must be a dict (or None); got {describe(yield_summary)}."
        )
    records = proposal.records()
    examples = _examples(proposal, per_bucket)
    extra = [i for ex in examples.values() for i in ex]  # shown only if images holds them
    thumbs = thumbnails(images, proposal.indices.tolist(), image_root=image_root, optional=extra)
    sections = [
        _settings_section(proposal),
        _proposals_section(records, thumbs, with_images=images is not None),
    ]
    if proposal.buckets is not None:
        sections.append(_buckets_section(proposal, examples, thumbs))
    if yield_summary is not None:
        sections.append(yield_section(yield_summary))
    data = {
        "settings": proposal.settings,
        "pool_size": _pool_size(proposal),
        "proposals": records,
        "bucket_counts": proposal.bucket_counts() if proposal.buckets is not None else None,
        "yield_summary": yield_summary,
    }
    subtitle = f"{len(proposal)} proposed test examples from a pool of {_pool_size(proposal)}"
    title = "dataperf: proposed test examples" + (", labelled" if yield_summary else "")
    document = page(title, *sections, subtitle=subtitle, data=data)
    return write_page(path, document)


def _pool_size(proposal: Proposal) -> int:
    return len(proposal.scores["total"])


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# ------------------------------------------------------------------------------- sections
def _settings_section(proposal: Proposal) -> Markup:
    settings = proposal.settings
    used = settings.get("used", {})
    facts: list[tuple[str, Any]] = [
        ("proposals (k)", settings.get("k", len(proposal))),
        ("pool size", _pool_size(proposal)),
        ("sets used", ", ".join(_USED.get(n, n) for n, on in used.items() if on) or "none"),
        ("not used", ", ".join(_USED.get(n, n) for n, on in used.items() if not on) or "none"),
    ]
    rules = settings.get("buckets")
    if isinstance(rules, Mapping):
        rule = str(rules.get("ambiguity", "none"))
        text = _AMBIGUITY.get(rule, "{ambiguity}").format_map(_Thresholds(rules))
        facts.append(("ambiguity rule", f"{rule}: {text}"))
        thresholds = {k: v for k, v in rules.items() if k != "ambiguity"}
        facts.append(("bucket thresholds", _value(thresholds)))
    for name in ("weights", "diversity", "metric", "temperature", "neighbors"):
        if name in settings:
            facts.append((name, _value(settings[name])))
    if proposal.buckets is not None:
        counts = proposal.bucket_counts()
        line = [element("span", bucket_tag(n), f" {c}", class_="bc") for n, c in counts.items()]
        facts.append((Markup(element("a", "pool by bucket", href="#buckets")), join(line, " ")))
    everything = element(
        "details",
        element("summary", "All settings"),
        element("pre", json.dumps(plain(settings), indent=2, sort_keys=True)),
    )
    return section("Settings", key_values(facts), everything, anchor="settings")


class _Thresholds(dict):
    def __init__(self, rules: Mapping[str, Any]) -> None:
        super().__init__({k: _value(v) for k, v in rules.items()})

    def __missing__(self, key: str) -> str:
        return "?"


def _proposals_section(
    records: list[dict[str, Any]], thumbs: dict[int, Thumbnail], *, with_images: bool
) -> Markup:
    columns = [Column("rank", "number")] + ([Column("image", "image")] if with_images else [])
    columns += [
        Column("id"),
        Column("prediction"),
        Column("confidence", "number", fmt=percent, title="the model's top probability"),
        Column("hard", "number", title="estimated chance the model is wrong"),
        Column("labelable", "number", title="can a person give it one label"),
        Column("novel", "number", title="unlike the current test set"),
        Column("total", "number", title="hard x labelable x novel"),
    ]
    has_bucket = bool(records) and "bucket" in records[0]
    if has_bucket:
        columns.append(Column("bucket", fmt=bucket_tag, category=True, choices=BUCKETS))
    columns.append(Column("explanation", wide=True))
    rows = []
    for r in records:
        row = [r["rank"]] + ([thumbs.get(r["index"])] if with_images else [])
        row += [r["id"], r["prediction"], r["confidence"]]
        row += [r["hard"], r["labelable"], r["novel"], r["total"]]
        row += [r["bucket"]] if has_bucket else []
        rows.append(row + [_reason(r)])
    lead = (
        "In selection order. Click a column header to sort (again to reverse); type to "
        "filter on any text."
    )
    return section(
        "Proposals", table(columns, rows, label="proposals"), anchor="proposals", lead=lead
    )


def _reason(record: Mapping[str, Any]) -> str:
    """The explanation without its head (``#1 (pool item X, score 0.74): ``): the table shows
    rank, id and total already."""
    text = str(record["explanation"])
    head = f"#{record['rank']} (pool item {record['id']!s}, score "
    match = re.match(r"\d+\.\d\d\): ", text[len(head) :]) if text.startswith(head) else None
    if match is None:
        return text
    rest = text[len(head) + match.end() :]
    return rest[:1].upper() + rest[1:]


def bucket_tag(name: Any) -> Markup:
    """A bucket name as a coloured tag."""
    return element("span", name, class_=f"tag tag-{name}" if name in BUCKETS else "tag")


def _examples(proposal: Proposal, per_bucket: int) -> dict[str, list[int]]:
    """Per bucket, the pool positions with the highest ``total`` (ties: lower position)."""
    if proposal.buckets is None:
        return {}
    total = np.asarray(proposal.scores["total"], dtype=np.float64)
    out = {}
    for name in BUCKETS:
        members = np.flatnonzero(proposal.buckets == name)
        order = members[np.lexsort((members, -total[members]))]
        out[name] = [int(i) for i in order[:per_bucket]]
    return out


def _buckets_section(
    proposal: Proposal, examples: dict[str, list[int]], thumbs: dict[int, Thumbnail]
) -> Markup:
    counts = proposal.bucket_counts()
    pool = _pool_size(proposal)
    rules = proposal.settings.get("buckets", {})
    ids = {int(i): proposal.ids[r] for r, i in enumerate(proposal.indices)}
    d = proposal.details
    cards = []
    for name in BUCKETS:
        tiles = []
        for i in examples[name]:
            label = f"id {ids[i]}" if i in ids else f"pool #{i}"
            s = {c: float(proposal.scores[c][i]) for c in ("hard", "labelable", "novel", "total")}
            lines = [
                thumbs[i].tag(label, display=64) if i in thumbs else "",
                element("div", label, class_="id"),
                element("div", f"total {s['total']:.2f}"),
                element(
                    "div",
                    f"hard {s['hard']:.2f} · lab. {s['labelable']:.2f} · novel {s['novel']:.2f}",
                    class_="sc",
                ),
            ]
            if "prediction" in d and "confidence" in d:
                c = int(d["prediction"][i])
                predicted = proposal.class_names[c] if proposal.class_names else f"class {c}"
                lines.append(
                    element("div", f"predicts {predicted} ({d['confidence'][i]:.0%})", class_="sc")
                )
            tiles.append(element("div", *lines, class_="example", data_index=i))
        meaning = bucket_meaning(name, rules)
        if name == "hard_but_ambiguous" and isinstance(rules, Mapping):
            meaning += f" Rule used: {rules.get('ambiguity', 'none')}."
        frac = counts[name] / pool if pool else 0.0
        share = (
            f"{counts[name]} ({frac:.0%})"
            if frac == 0 or frac >= 0.01
            else f"{counts[name]} ({frac:.1%})"
        )
        about = element(
            "div",
            element("h3", bucket_tag(name), element("span", share, class_="count-n")),
            element("p", meaning, class_="meaning"),
        )
        shown = (
            element("div", *tiles, class_="examples")
            if tiles
            else element(
                "div", "no candidate in this bucket" if not counts[name] else "", class_="none"
            )
        )
        cards.append(
            element(
                "div",
                about,
                shown,
                class_="bucket",
                data_bucket=name,
                data_count=counts[name],
            )
        )
    lead = (
        "Every pool candidate gets one reason it was or was not proposed (the first rule "
        "that holds, in this order). Examples: the candidates with the highest total score "
        "in each bucket; candidates not proposed are named by their pool position."
    )
    flagged = len(proposal) - counts["proposed"]
    if flagged:
        lead += (
            f" {flagged} of the {len(proposal)} proposals are caught by a rule above "
            "'proposed' and keep that bucket as a warning: the sampler's scores still ranked "
            "them among the best (the near-tie rule, used without MC-dropout samples, is "
            "not part of those scores)."
        )
    return section("Buckets", element("div", *cards, class_="buckets"), anchor="buckets", lead=lead)


# ------------------------------------------------------------------------------- yield
def _share(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _count(value: Any) -> str:
    share = _share(value)
    return str(int(share)) if share is not None and share == int(share) else number(value)


def _interval(entry: Mapping[str, Any]) -> str:
    low, high = _share(entry.get("low")), _share(entry.get("high"))
    return f"{percent(low)}–{percent(high)}" if low is not None and high is not None else "–"


def interval_bar(entry: Mapping[str, Any]) -> Markup:
    """A bar with the interval ``low``-``high`` shaded and ``value`` marked (shares in [0, 1])."""
    value, low, high = (_share(entry.get(k)) for k in ("value", "low", "high"))
    parts = []
    if low is not None and high is not None:
        lo, hi = (min(max(x, 0.0), 1.0) for x in (low, high))
        parts.append(
            element("span", class_="ci", style=f"left:{100 * lo:.1f}%;width:{100 * (hi - lo):.1f}%")
        )
    if value is not None:
        parts.append(element("span", class_="pt", style=f"left:{100 * min(max(value, 0), 1):.1f}%"))
    return element("div", *parts, class_="bar", title=f"{percent(value)} ({_interval(entry)})")


def yield_section(summary: Mapping[str, Any]) -> Markup:
    """The yield of labelled proposals (see :func:`proposal_report` for ``summary``'s shape);
    absent parts are left out, absent values shown as ``–``."""
    parts: list[Any] = []
    overall = summary.get("yield")
    if isinstance(overall, Mapping):
        head = element(
            "p",
            element("span", percent(overall.get("value")), class_="big"),
            f"  yield (95% Wilson interval {_interval(overall)}): "
            f"{_count(overall.get('hits'))} hits of {_count(overall.get('n'))} answered "
            "proposals",
        )
        parts += [head, interval_bar(overall)]
    per_class = summary.get("per_class")
    if isinstance(per_class, Mapping) and per_class:
        columns = [
            Column("predicted class"),
            Column("yield", "number", fmt=percent),
            Column("95% interval", fmt=_interval),
            Column("", fmt=interval_bar, sortable=False),
            Column("hits", "number", fmt=_count),
            Column("n", "number", fmt=_count),
        ]
        rows = []
        for name, entry in per_class.items():
            entry = entry if isinstance(entry, Mapping) else {}
            rows.append([name, entry.get("value"), entry, entry, entry.get("hits"), entry.get("n")])
        parts += [
            element("h3", "Per predicted class"),
            table(columns, rows, label="predicted classes"),
        ]
    for key, title in (("counts", "Labelling outcome"), ("agreement", "Annotator agreement")):
        block = summary.get(key)
        if isinstance(block, Mapping) and block:
            shown = [
                (k.replace("_", " "), percent(v) if key == "agreement" and k == "mean" else v)
                for k, v in block.items()
            ]
            parts += [element("h3", title), key_values(shown)]
    lead = (
        "The share of the answered proposals that were hits: labelled with confidence by a "
        "person, gotten wrong by the model, and not a near-copy of a test item; with its 95% "
        "Wilson interval."
    )
    return section("Yield", *parts, anchor="yield", lead=lead)
