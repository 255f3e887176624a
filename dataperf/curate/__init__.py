"""Algorithms that automate data work, as pure functions over :class:`dataperf.Signals`.

- :func:`find_label_issues` (with :func:`cross_val_probs` for out-of-sample probabilities)
- :func:`find_weak_slices`
- :func:`data_values` (exact KNN-Shapley and a cheap proxy)
- :func:`select_subset` (facility location, k-center, EL2N, random; optionally per class)
- :func:`label_issues_report` (also ``LabelIssues.to_html``) and :func:`weak_slices_report`:
  self-contained HTML reports
"""

from dataperf.curate.cross_val import cross_val_probs
from dataperf.curate.label_issues import LabelIssues, find_label_issues
from dataperf.curate.reports import label_issues_report, weak_slices_report
from dataperf.curate.slices import Slice, find_weak_slices
from dataperf.curate.subsets import select_subset
from dataperf.curate.valuation import data_values

__all__ = [
    "LabelIssues",
    "Slice",
    "cross_val_probs",
    "data_values",
    "find_label_issues",
    "find_weak_slices",
    "label_issues_report",
    "select_subset",
    "weak_slices_report",
]
