"""The result of proposing test examples: :class:`Proposal`, its explanations and exports.

A :class:`Proposal` lists the proposed pool items in selection order with the scores that
chose them; :meth:`Proposal.explain` says in one sentence why an item was chosen, and
:meth:`Proposal.records`, :meth:`Proposal.to_jsonl`, :meth:`Proposal.to_csv` and
:meth:`Proposal.contact_sheet` hand the proposals to labelling tools and people;
:meth:`Proposal.to_html` writes a self-contained HTML report of them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._files import atomic_file, atomic_write_text, check_output_file
from dataperf._validate import check_count, check_position

__all__ = ["Proposal"]


@dataclass(frozen=True, eq=False)
class Proposal:
    """The proposed pool items, in selection order, with the scores that chose them.

    ``indices`` are pool positions and ``ids`` the pool's ids of those items (file paths for
    an image folder). ``scores`` holds each component and the total for *every* pool item;
    ``hard`` / ``labelable`` / ``novel`` / ``total`` are those of the proposed items.
    ``buckets`` holds, for every pool item, why it was or was not proposed (one of
    :data:`dataperf.propose.buckets.BUCKETS`; :meth:`bucket_counts` counts them).
    """

    indices: np.ndarray
    ids: np.ndarray
    scores: dict[str, np.ndarray]
    details: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    buckets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        pool = len(next(iter(self.scores.values()))) if self.scores else "?"
        head = ", ".join(f"{i!s}" for i in self.ids[:3]) + (", ..." if len(self) > 3 else "")
        return f"Proposal({len(self)} of {pool} pool items: [{head}])"

    @property
    def hard(self) -> np.ndarray:
        return self.scores["hard"][self.indices]

    @property
    def labelable(self) -> np.ndarray:
        return self.scores["labelable"][self.indices]

    @property
    def novel(self) -> np.ndarray:
        return self.scores["novel"][self.indices]

    @property
    def total(self) -> np.ndarray:
        return self.scores["total"][self.indices]

    def bucket_counts(self) -> dict[str, int]:
        """How many pool items fall in each bucket, in the order of ``BUCKETS`` (all listed)."""
        from dataperf.propose.buckets import BUCKETS

        if self.buckets is None:
            raise InputValueError(
                "this Proposal has no buckets (it was not made by HardnessSampler.propose). "
                "Fix: propose again with HardnessSampler."
            )
        names, counts = np.unique(self.buckets, return_counts=True)
        found = dict(zip(names.tolist(), counts.tolist(), strict=True))
        return {name: int(found.get(name, 0)) for name in BUCKETS}

    def _class(self, c: int) -> str:
        return f"'{self.class_names[c]}'" if self.class_names else f"class {c}"

    def _rank(self, rank: Any) -> int:
        return check_position(rank, len(self), "rank")

    def explain(self, rank: int) -> str:
        """One plain sentence: why the ``rank``-th proposal (0 = first) was chosen."""
        r = self._rank(rank)
        i = int(self.indices[r])
        d = self.details
        s = {c: float(v[i]) for c, v in self.scores.items()}
        predicted = self._class(int(d["prediction"][i]))
        estimate = f"an estimated {s['hard']:.0%} chance it is wrong"
        if self.settings.get("used", {}).get("pool_labels"):
            hard = f"the model gives its known label only {1 - s['hard']:.0%} probability"
        elif "neighbor_disagreement" in d:
            k = int(self.settings["label_neighbors"])
            m = int(round(float(d["neighbor_disagreement"][i]) * k))
            hard = (
                f"the model predicts {predicted} with {d['confidence'][i]:.0%} confidence while "
                f"{m} of its {k} nearest labelled examples have another label ({estimate})"
            )
        else:
            confidence = f"{d['confidence'][i]:.0%}"
            hard = f"the model predicts {predicted} with {confidence} confidence ({estimate})"
        why = [hard]
        if "typicality_pvalue" in d:
            p = float(d["typicality_pvalue"][i])
            of = self.settings.get("typicality_against", "held-out labelled examples")
            why.append(
                f"it looks like real data (as typical as {p:.0%} of {of})"
                if d["typical"][i] >= 0.5
                else f"yet it looks unusual (as typical as only {p:.1%} of {of}), so it may be "
                "hard to label"
            )
        if "unambiguous" in d and d["unambiguous"][i] < 0.5:
            why.append("its MC-dropout samples agree it is ambiguous, so it may be hard to label")
        if self.settings.get("used", {}).get("user_labelability"):
            why.append(f"your labelability score for it is {s['labelable']:.2f}")
        if "nearest_test_id" in d:
            near = d["nearest_test_id"][i]
            why.append(
                f"it is unlike every current test example (the nearest is test item {near})"
                if s["novel"] >= 0.5
                else f"yet it looks like a near-copy of test item {near}"
            )
        head = f"#{r + 1} (pool item {self.ids[r]!s}, score {s['total']:.2f}): "
        tail = why[-1] if len(why) == 1 else ", ".join(why[:-1]) + ", and " + why[-1]
        return head + tail + "."

    def records(self) -> list[dict[str, Any]]:
        """One dict per proposal: rank, index, id, prediction, confidence, scores, bucket (see
        :mod:`dataperf.propose.buckets`), explanation."""
        out = []
        for r, i in enumerate(self.indices):
            c = int(self.details["prediction"][i])
            out.append(
                {
                    "rank": r + 1,
                    "index": int(i),
                    "id": self.ids[r].item() if hasattr(self.ids[r], "item") else self.ids[r],
                    "prediction": self.class_names[c] if self.class_names else c,
                    "confidence": round(float(self.details["confidence"][i]), 6),
                    **{n: round(float(v[i]), 6) for n, v in self.scores.items()},
                    **({} if self.buckets is None else {"bucket": str(self.buckets[i])}),
                    "explanation": self.explain(r),
                }
            )
        return out

    def to_jsonl(self, path: str | Path) -> Path:
        """Write :meth:`records` as JSON lines; return the path."""
        path = check_output_file(path)
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in self.records()))
        return path

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`records` as CSV with a header row; return the path."""
        path = check_output_file(path)
        rows = self.records()
        with atomic_file(path, "w") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path

    def save(self, path: str | Path) -> Path:
        """Write the whole Proposal (every pool item's scores, details and bucket) to one
        ``.npz`` file, atomically and without pickle; :meth:`load` reads it back."""
        path = check_output_file(path, "proposal file")
        arrays = {"indices": self.indices, "ids": _plain_array(self.ids)}
        if self.buckets is not None:
            arrays["buckets"] = self.buckets
        arrays.update({f"scores/{k}": v for k, v in self.scores.items()})
        arrays.update({f"details/{k}": _plain_array(v) for k, v in self.details.items()})
        meta = {"format": 1, "class_names": self.class_names, "settings": self.settings}
        arrays["meta"] = np.array(json.dumps(meta, default=_json_number))
        with atomic_file(path, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Proposal:
        """Read a Proposal written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {name: f[name] for name in f.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as err:
            raise InputValueError(
                f"{path} is not a proposal file written by Proposal.save ({err}). Fix: pass "
                "the file of dataperf propose --save-proposal."
            ) from None
        return cls(
            indices=arrays.pop("indices"),
            ids=arrays.pop("ids"),
            buckets=arrays.pop("buckets", None),
            scores={k[7:]: v for k, v in arrays.items() if k.startswith("scores/")},
            details={k[8:]: v for k, v in arrays.items() if k.startswith("details/")},
            class_names=meta["class_names"],
            settings=meta["settings"],
        )

    def contact_sheet(self, images: Sequence[Any], path: str | Path, *, columns: int = 10) -> Path:
        """Save the proposed images in selection order as one PNG, captioned; return the path.

        ``images`` is indexable by pool position (a Dataset, array or list); each element is
        an image (array, tensor or PIL image), an ``(image, label, ...)`` tuple, or a file path.
        """
        from dataperf.viz import load_image, save_grid

        check_count(columns, 10**6, "columns", what="allowed columns")
        tiles, captions = [], []
        for r, i in enumerate(self.indices):
            tiles.append(load_image(images[int(i)], fix=_NO_SHEET))
            c = int(self.details["prediction"][i])
            name = self.class_names[c] if self.class_names else f"class {c}"
            captions.append(f"#{r + 1} {name[:10]} {self.details['confidence'][i]:.0%}")
        rows = [tiles[j : j + columns] for j in range(0, len(tiles), columns)]
        caps = [captions[j : j + columns] for j in range(0, len(captions), columns)]
        return save_grid(rows, path, captions=caps)

    def to_html(
        self,
        path: str | Path,
        *,
        images: Sequence[Any] | None = None,
        image_root: str | Path | None = None,
        yield_summary: dict[str, Any] | None = None,
    ) -> Path:
        """Write a self-contained HTML report (settings, a sortable and filterable table of
        the proposals, the buckets, and the yield when ``yield_summary`` is given); return
        the path. See :func:`dataperf.propose.report.proposal_report`."""
        from dataperf.propose.report import proposal_report

        return proposal_report(
            self, path, images=images, image_root=image_root, yield_summary=yield_summary
        )


_NO_SHEET = "replace or remove the file, or write no contact sheet (--no-sheet)"


def _plain_array(values: Any) -> np.ndarray:
    """``values`` as an array that saves without pickle (object arrays as text)."""
    array = np.asarray(values)
    return array.astype(str) if array.dtype == object else array


def _json_number(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
