"""Propose new test examples that are hard, labelable and novel.

:class:`HardnessSampler` scores every candidate of an unlabelled pool on three components, each
in ``[0, 1]``, and picks ``k`` of them greedily with a diversity penalty:

``hard``
    The estimated probability that the model is wrong on the candidate, the mean of two
    estimates: the model's own, ``1 - max p`` after temperature scaling fitted on the labelled
    test set (so an over-confident model is corrected), and its labelled neighbours', the
    share of the ``neighbors`` nearest labelled examples (training and test) whose label is
    not the predicted class. When the pool happens to carry labels, ``1 - p[label]`` alone.
``labelable``
    Whether a person can give the candidate one label. A candidate is **unlabelable** when it
    does not look like the data people labelled before: it lies where no training (or test)
    example lies -- noise, images from another domain, blends of two classes that fall
    between the class clusters -- or, with MC-dropout samples, when the model's uncertainty is
    mostly *aleatoric* (the input itself is ambiguous) rather than *epistemic* (the model has not
    learned it). See :func:`~dataperf.propose.labelable.labelability`. Replace it with your own
    score (e.g. from annotation cost) through ``HardnessSampler(labelability=...)``.
``novel``
    Whether the candidate is unlike the current test set: its distance to the nearest test
    example, compared with the distance a genuinely new example has (leave-one-out distances
    within the test set). Near-copies of test items score about 0.

``total = hard**w_hard * labelable**w_labelable * novel**w_novel``; the greedy step then
multiplies each candidate's total by ``min(1, distance to the nearest proposal so far / r)``,
where ``r`` is ``diversity`` times the typical spacing between neighbouring examples, so the
proposals are unlike each other as well.

Distances are Euclidean between L2-normalised embeddings (``metric="cosine"``, the default,
which works best for penultimate-layer features) or between raw embeddings
(``metric="euclidean"``).

Modules: :mod:`~dataperf.propose.sampler` (the sampler and its diverse greedy),
:mod:`~dataperf.propose.hard`, :mod:`~dataperf.propose.labelable`,
:mod:`~dataperf.propose.novel` (the components, pure functions over arrays),
:mod:`~dataperf.propose.space` (the geometry they share), :mod:`~dataperf.propose.proposal`
(the result and its exports), :mod:`~dataperf.propose.buckets` (why each candidate was or was
not proposed), :mod:`~dataperf.propose.report` (the HTML report),
:mod:`~dataperf.propose.label_studio` (tasks and config for Label Studio, or a CSV, to hand the
proposals to people), :mod:`~dataperf.propose.labels` (their answers read back: the yield and
the grown test set) and :mod:`~dataperf.propose.baselines` (what it is compared with).
"""

from __future__ import annotations

from dataperf.propose.baselines import BASELINES, Method, badge_embeddings
from dataperf.propose.buckets import BUCKETS, BucketRules
from dataperf.propose.hard import error_probability, fit_temperature
from dataperf.propose.label_studio import CANNOT_TELL, export_csv, export_label_studio
from dataperf.propose.labelable import labelability
from dataperf.propose.labels import (
    Labels,
    answered_ids,
    check_alignment,
    grow_test_set,
    read_labels,
    yield_summary,
)
from dataperf.propose.novel import novelty_score
from dataperf.propose.proposal import Proposal
from dataperf.propose.report import proposal_report
from dataperf.propose.sampler import COMPONENTS, HardnessSampler

__all__ = [
    "BASELINES",
    "BUCKETS",
    "CANNOT_TELL",
    "COMPONENTS",
    "BucketRules",
    "Labels",
    "HardnessSampler",
    "Method",
    "Proposal",
    "answered_ids",
    "badge_embeddings",
    "check_alignment",
    "error_probability",
    "export_csv",
    "export_label_studio",
    "fit_temperature",
    "grow_test_set",
    "labelability",
    "novelty_score",
    "proposal_report",
    "read_labels",
    "yield_summary",
]
