"""Fold labels back: read what people answered, measure the yield, grow the test set.

:func:`read_labels` reads a Label Studio JSON export or dataperf's CSV (``id,label`` rows,
``label`` a class name or :data:`~dataperf.propose.label_studio.CANNOT_TELL`). Several
annotations of one item combine by majority (:class:`Labels` keeps the agreement); a tie, or
a majority for "cannot tell", leaves the item without a label. Items are matched to the
proposals by their pool id; :func:`check_alignment` refuses missing, extra or renamed items.

The **yield** (:func:`yield_summary`) is the share of the answered proposals that were worth
it: labelled with confidence by a person (a majority for one class), and gotten wrong by the
model, and not a near-copy of a test item (bucket ``already_covered``). It comes with a 95%
Wilson interval, overall and per predicted class.

:func:`grow_test_set` appends the labelled pool items to the test Signals for the next round;
:func:`answered_ids` lists every answered id (labelled or "cannot tell"), which the next round
excludes (``HardnessSampler.propose(..., exclude=...)``) so no item is proposed twice.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._files import atomic_file, check_output_file
from dataperf._validate import describe
from dataperf.propose.label_studio import CANNOT_TELL, class_choices
from dataperf.signals import Signals
from dataperf.stats import wilson_interval

__all__ = [
    "STATUSES",
    "Labels",
    "answered_ids",
    "check_alignment",
    "check_answers",
    "grow_test_set",
    "read_labels",
    "yield_summary",
]

STATUSES = ("labelled", "cannot_tell", "no_majority", "unlabelled")
"""An item's outcome: a majority for one class; for "cannot tell"; a tie; no annotation."""


@dataclass(frozen=True, eq=False)
class Labels:
    """The answers for a set of items, one row per item.

    Attributes
    ----------
    ids : list
        Pool ids (str or int), as exported.
    answers : list of str or None
        The majority answer: a class name, :data:`CANNOT_TELL`, or None (a tie, or no
        annotation).
    status : list of str
        One of :data:`STATUSES` per item.
    votes : (N,) int array
        Annotations per item (cancelled ones not counted).
    agreement : (N,) float array
        Share of the votes that went to the majority answer (NaN without votes).
    source : str
        Where the answers came from.
    """

    ids: list[Any]
    answers: list[str | None]
    status: list[str]
    votes: np.ndarray
    agreement: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    def counts(self) -> dict[str, int]:
        """Items per status, every status listed."""
        found = Counter(self.status)
        return {s: int(found.get(s, 0)) for s in STATUSES}

    def by_id(self) -> dict[Any, int]:
        """id -> row."""
        return {pid: r for r, pid in enumerate(self.ids)}

    def to_csv(self, path: str | Path) -> Path:
        """Write ``id,label,status,votes,agreement`` rows (``label``: the class name or
        "cannot tell"; empty without a majority); :func:`read_labels` reads it back."""
        path = check_output_file(path)
        with atomic_file(path, "w") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "label", "status", "votes", "agreement"])
            for r, pid in enumerate(self.ids):
                share = "" if np.isnan(self.agreement[r]) else f"{self.agreement[r]:.4f}"
                answer = self.answers[r] if self.status[r] != "no_majority" else ""
                writer.writerow([pid, answer or "", self.status[r], int(self.votes[r]), share])
        return path


def _majority(answers: Sequence[str]) -> tuple[str | None, str, float]:
    """(answer, status, agreement) of one item's votes."""
    if not answers:
        return None, "unlabelled", float("nan")
    ranked = Counter(answers).most_common()
    top, count = ranked[0]
    agreement = count / len(answers)
    if len(ranked) > 1 and ranked[1][1] == count:
        return None, "no_majority", agreement
    return top, "cannot_tell" if top == CANNOT_TELL else "labelled", agreement


def _labels(rows: Sequence[tuple[Any, list[str]]], source: str) -> Labels:
    seen: dict[Any, list[str]] = {}
    for pid, answers in rows:
        seen.setdefault(pid, []).extend(answers)  # one item in several rows: all its votes
    decided = [_majority(v) for v in seen.values()]
    return Labels(
        ids=list(seen),
        answers=[d[0] for d in decided],
        status=[d[1] for d in decided],
        votes=np.array([len(v) for v in seen.values()], dtype=np.int64),
        agreement=np.array([d[2] for d in decided], dtype=np.float64),
        source=source,
    )


def _label_studio_rows(tasks: Any, path: Path) -> list[tuple[Any, list[str]]]:
    rows = []
    for n, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, Mapping) else None
        if not isinstance(data, Mapping) or "dataperf_id" not in data:
            raise InputValueError(
                f"{path}: task {n} has no data.dataperf_id (got keys "
                f"{sorted(data) if isinstance(data, Mapping) else describe(task)}). Fix: import "
                "the tasks written by dataperf (export_label_studio / --label-studio) and export "
                "the project as JSON (not JSON_MIN or CSV)."
            )
        answers = []
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue  # skipped by the annotator: no vote
            results = [r for r in annotation.get("result") or [] if r.get("type") == "choices"]
            names = {r.get("from_name", "label") for r in results}
            if results and "label" not in names:
                raise InputValueError(
                    f"{path}: task {n} (id {data['dataperf_id']!r}) answers with choices named "
                    f"{sorted(names)}, but dataperf's labelling config names them 'label'. "
                    "Fix: keep the exported config (<tasks>_config.xml), or rename the "
                    'Choices back to name="label".'
                )
            choices = [
                choice
                for result in results
                if result.get("from_name", "label") == "label"
                for choice in result.get("value", {}).get("choices", [])
            ]
            if len(choices) > 1:
                raise InputValueError(
                    f"{path}: task {n} (id {data['dataperf_id']!r}) has an annotation with "
                    f"{len(choices)} choices {choices}; expected one. Fix: use the exported "
                    "config (single choice)."
                )
            if choices:
                answers.append(str(choices[0]))
        rows.append((data["dataperf_id"], answers))
    return rows


def _read_csv(path: Path) -> Labels:
    """dataperf's CSV: ``id,label`` rows (one vote each), or the ``id,label,status,votes,
    agreement`` rows of :meth:`Labels.to_csv`, whose outcome (ties included) is kept."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets' BOM
        reader = csv.DictReader(f)
        fields = [name.strip().lower() for name in reader.fieldnames or []]
        if not {"id", "label"} <= set(fields):
            raise InputValueError(
                f"{path}: expected a comma-separated CSV with columns id,label (got "
                f"{reader.fieldnames}). Fix: fill the label column of the CSV that dataperf "
                f"exported, one class name or {CANNOT_TELL!r} per row, and save it as CSV."
            )
        rows = [
            {key.strip().lower(): (value or "").strip() for key, value in row.items() if key}
            for row in reader
        ]
    if "status" not in fields:
        votes = [(_csv_id(r["id"]), [r["label"]] if r["label"] else []) for r in rows]
        return _labels(votes, str(path))
    bad = sorted({r["status"] for r in rows} - set(STATUSES))
    if bad:
        raise InputValueError(
            f"{path}: unknown status {bad}; expected one of {list(STATUSES)} (the labels CSV of "
            "dataperf labels --out)."
        )
    return Labels(
        ids=[_csv_id(r["id"]) for r in rows],
        answers=[r["label"] or None for r in rows],
        status=[r["status"] for r in rows],
        votes=np.array([int(r.get("votes") or 0) for r in rows], dtype=np.int64),
        agreement=np.array([float(r["agreement"]) if r.get("agreement") else np.nan for r in rows]),
        source=str(path),
    )


def _csv_id(text: str) -> Any:
    """CSV ids are text; an all-digit id is the int position it was exported from."""
    return int(text) if text.strip().lstrip("-").isdigit() else text


def read_labels(path: str | Path) -> Labels:
    """Read a Label Studio JSON export (``.json``) or dataperf's CSV (``.csv``).

    Raises
    ------
    InputValueError
        An unreadable file, an export that is not Label Studio's JSON form, a task without
        ``dataperf_id``, or a CSV without ``id,label`` columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputValueError(f"labels file {path} does not exist. Fix: pass the exported file.")
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputValueError(
            f"{path} is neither a CSV (.csv) nor JSON ({err}). Fix: export the Label Studio "
            "project as JSON, or pass dataperf's id,label CSV."
        ) from None
    if not isinstance(tasks, list):
        raise InputValueError(
            f"{path}: expected Label Studio's JSON export (a list of tasks); got "
            f"{describe(tasks)}. Fix: export the project as JSON."
        )
    return _labels(_label_studio_rows(tasks, path), str(path))


def check_alignment(
    labels: Labels, proposals: Any, choices: Sequence[str] | None = None
) -> list[Any]:
    """Refuse answers that do not belong to ``proposals`` (a Proposal, or records with ``id``):
    ids that were not proposed (extra), and answers that are neither one of ``choices`` nor
    "cannot tell" (renamed classes; checked when ``choices`` is known: given, or the
    Proposal's). Proposals absent from the answers are counted as unlabelled, with a warning
    (Label Studio exports only annotated tasks unless asked for all). Returns those missing ids.
    """
    records, choices = _records_and_choices(proposals, choices)
    proposed = [r["id"] for r in records]
    known = set(proposed)
    extra = [pid for pid in labels.ids if pid not in known]
    if extra:
        raise InputValueError(
            f"the answers in {labels.source} hold {len(extra)} item(s) that were not proposed, "
            f"e.g. {extra[:3]}. Fix: pass the proposals these tasks were exported from (the "
            "same round, the same pool)."
        )
    have = set(labels.ids)
    missing = [pid for pid in proposed if pid not in have]
    if missing:
        warnings.warn(
            f"{len(missing)} of the {len(proposed)} proposals are not in {labels.source} (e.g. "
            f"{missing[:3]}); they count as unlabelled. Label Studio exports only annotated tasks "
            "unless you ask for all of them (download_all_tasks=true in the export API).",
            stacklevel=2,
        )
    if choices is not None:
        check_answers(labels, choices)
    return missing


def check_answers(labels: Labels, choices: Sequence[str]) -> None:
    """Refuse answers that are neither one of ``choices`` (the class names) nor "cannot tell"
    (a class renamed in the labelling tool, or answers for another model)."""
    allowed = {*choices, CANNOT_TELL}
    renamed = sorted({a for a in labels.answers if a is not None and a not in allowed})
    if renamed:
        raise InputValueError(
            f"the answers in {labels.source or 'the labels'} use label(s) {renamed} that are "
            f"not classes of the model ({list(choices)}) or {CANNOT_TELL!r}. Fix: map the "
            "renamed labels back to the class names in the file, or give the class names "
            "(choices= / --classes)."
        )


def _records_and_choices(
    proposals: Any, choices: Sequence[str] | None
) -> tuple[list[Mapping[str, Any]], list[str] | None]:
    from dataperf.propose.label_studio import proposal_choices
    from dataperf.propose.proposal import Proposal

    if isinstance(proposals, Proposal):
        return proposals.records(), list(choices or proposal_choices(proposals))
    if isinstance(proposals, (str, bytes)) or not isinstance(proposals, Sequence):
        raise InputTypeError(
            f"proposals must be a Proposal or its records (a list of dicts); got "
            f"{describe(proposals)}."
        )
    return list(proposals), None if choices is None else list(choices)


def _rate(hits: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(hits, n) if n else (0.0, 1.0)
    return {
        "value": hits / n if n else float("nan"),
        "low": low,
        "high": high,
        "hits": hits,
        "n": n,
    }


def yield_summary(
    labels: Labels, proposals: Any, choices: Sequence[str] | None = None
) -> dict[str, Any]:
    """The yield of the answered proposals, overall and per predicted class.

    ``proposals`` is the Proposal (or its records: ``id``, ``prediction`` as shown to
    annotators, ``bucket``); the answers are checked against it first (:func:`check_alignment`:
    extra items and renamed classes are errors). Returns a JSON-serialisable dict: ``yield`` and
    ``per_class`` (``value``, 95% Wilson ``low``/``high``, ``hits``, ``n``: proposals with at
    least one answer), ``counts`` per status over the proposals (those missing from the answers,
    as in Label Studio's default export, count as unlabelled), and ``agreement`` (mean share of
    votes for the majority, items with any disagreement, annotations).
    """
    missing = check_alignment(labels, proposals, choices)
    records, _ = _records_and_choices(proposals, choices)
    row_of = labels.by_id()
    hits: dict[str, list[bool]] = {}
    for record in records:
        r = row_of.get(record["id"])
        if r is None or labels.status[r] == "unlabelled":
            continue
        predicted = _shown(record["prediction"])
        hit = (
            labels.status[r] == "labelled"
            and labels.answers[r] != predicted
            and record.get("bucket") != "already_covered"
        )
        hits.setdefault(predicted, []).append(hit)
    every = [h for v in hits.values() for h in v]
    voted = labels.votes > 0
    counts = labels.counts()
    counts["unlabelled"] += len(missing)
    return {
        "yield": _rate(sum(every), len(every)),
        "per_class": {c: _rate(sum(v), len(v)) for c, v in sorted(hits.items())},
        "counts": counts,
        "agreement": {
            "mean": float(labels.agreement[voted].mean()) if voted.any() else float("nan"),
            "items_with_disagreement": int((labels.agreement[voted] < 1).sum()),
            "annotations": int(labels.votes.sum()),
        },
    }


def _shown(prediction: Any) -> str:
    return prediction if isinstance(prediction, str) else f"class {int(prediction)}"


def answered_ids(labels: Labels) -> list[Any]:
    """Every id with an answer (a class or "cannot tell", ties included): never propose again."""
    return [pid for pid, s in zip(labels.ids, labels.status, strict=True) if s != "unlabelled"]


def grow_test_set(
    test: Signals | None,
    pool: Signals,
    labels: Labels,
    choices: Sequence[str] | None = None,
    *,
    prefixes: tuple[str, str] | None = None,
) -> Signals | None:
    """``test`` with the pool items labelled with confidence appended (labels set from the
    answers); ``test`` itself when no answer is a confident label.

    ``choices[c]`` names class ``c``; default: the class names of the pool or test
    (``meta["classes"]``), else ``class 0``, ``class 1``, ... as exported. Optional arrays that
    only one side has (``mc_probs``, ``fingerprints``) are dropped. One id must name one item:
    when pool and test ids are of different kinds or overlap (both dataset positions, say),
    pass ``prefixes=("test:", "pool:")`` to make them text ids ``"test:4"``, ``"pool:4"``
    (text test ids are kept as they are); otherwise that is an error.
    """
    if not isinstance(pool, Signals) or (test is not None and not isinstance(test, Signals)):
        raise InputTypeError(
            f"pool and test must be Signals; got {describe(pool)} and {describe(test)}."
        )
    if choices is None:
        named = [s.meta["classes"] for s in (pool, test) if s is not None and "classes" in s.meta]
        choices = class_choices(named[0] if named else None, pool.num_classes)
    index = {c: i for i, c in enumerate(choices)}
    row_of = {pid: i for i, pid in enumerate(plain_ids(pool.ids))}
    foreign = [pid for pid in labels.ids if pid not in row_of]
    if foreign:
        raise InputValueError(
            f"{len(foreign)} answered id(s) in {labels.source or 'the answers'} are not ids of "
            f"this pool ({len(pool)} items), e.g. {foreign[:3]}. Fix: pass the pool these "
            "proposals came from (answers from another pool or round do not apply)."
        )
    check_answers(labels, choices)
    picked, classes = [], []
    for pid, answer, status in zip(labels.ids, labels.answers, labels.status, strict=True):
        if status != "labelled":
            continue
        picked.append(row_of[pid])
        classes.append(index[answer])
    if not picked:
        return test
    new = replace(pool[np.asarray(picked, dtype=np.int64)], labels=np.asarray(classes))
    if test is None:
        return new
    # keep the optional arrays both sides have (e.g. the pool's MC-dropout samples go)
    optional = ("mc_probs", "fingerprints", "index")
    drop = {a: None for a in optional if getattr(test, a) is None or getattr(new, a) is None}
    test, new = replace(test, **drop), replace(new, **drop)
    if prefixes is not None:
        mark_test, mark_pool = prefixes
        if test.ids.dtype.kind != "U":
            test = replace(test, ids=[f"{mark_test}{i}" for i in plain_ids(test.ids)])
        new = replace(new, ids=[f"{mark_pool}{i}" for i in plain_ids(new.ids)])
    fix = (
        "Fix: grow_test_set(..., prefixes=('test:', 'pool:')) gives them text ids that cannot "
        "clash (the pool ids in the answers stay as they are)."
    )
    if (test.ids.dtype.kind == "U") != (new.ids.dtype.kind == "U"):
        raise InputValueError(
            f"the test ids are {'text' if test.ids.dtype.kind == 'U' else 'integers'} and the "
            f"pool ids {'text' if new.ids.dtype.kind == 'U' else 'integers'}; one grown test "
            f"set needs one kind. {fix}"
        )
    clash = set(plain_ids(test.ids)) & set(plain_ids(new.ids))
    if clash:
        raise InputValueError(
            f"{len(clash)} labelled pool id(s) are also test ids, e.g. {sorted(clash)[:3]}, so "
            f"the grown test set would hold one id twice. {fix}"
        )
    return Signals.concat([test, new])


def plain_ids(ids: Any) -> list[Any]:
    """Ids as plain Python values (int or str), as they appear in exports and answers."""
    return [i.item() if hasattr(i, "item") else str(i) for i in ids]
