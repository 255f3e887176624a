"""dataperf: iterate on data to improve deep-learning models.

Public names are loaded on first use, so ``import dataperf`` is fast and has no side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataperf._lazy import lazy_names

__version__ = "0.1.0"

_EXPORTS = {
    "AugmentedDataset": "dataperf.augment.dataset",
    "AugmentedLoader": "dataperf.augment.dataset",
    "RepeatedDrawsWarning": "dataperf.augment.dataset",
    "augment_loader": "dataperf.augment.dataset",
    "item_rng": "dataperf._rng",
    "item_seed": "dataperf._rng",
    "Signals": "dataperf.signals",
    "probe": "dataperf.probing",
    "HardnessSampler": "dataperf.propose.sampler",
    "Proposal": "dataperf.propose.proposal",
    "LabelIssues": "dataperf.curate",
    "Slice": "dataperf.curate",
    "cross_val_probs": "dataperf.curate",
    "data_values": "dataperf.curate",
    "find_label_issues": "dataperf.curate",
    "find_weak_slices": "dataperf.curate",
    "select_subset": "dataperf.curate",
    "curate": "dataperf.curate",
    "bench": "dataperf.bench",
    "scores": "dataperf.scores",
    "select": "dataperf.select",
    "neighbors": "dataperf.neighbors",
    "NeighborIndex": "dataperf.neighbors",
    "check_output_dir": "dataperf.signals",
    "text": "dataperf.text",
    "datasets": "dataperf.datasets",
    "InputError": "dataperf._errors",
    "InputValueError": "dataperf._errors",
    "InputTypeError": "dataperf._errors",
    "MissingResourceError": "dataperf._errors",
    "OutputPathError": "dataperf._errors",
    "LabelMismatchWarning": "dataperf._agreement",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from dataperf import bench, curate, datasets, neighbors, scores, select, text  # noqa: F401
    from dataperf._agreement import LabelMismatchWarning  # noqa: F401
    from dataperf._errors import (  # noqa: F401
        InputError,
        InputTypeError,
        InputValueError,
        MissingResourceError,
        OutputPathError,
    )
    from dataperf._rng import item_rng, item_seed  # noqa: F401
    from dataperf.augment.dataset import (  # noqa: F401
        AugmentedDataset,
        AugmentedLoader,
        RepeatedDrawsWarning,
        augment_loader,
    )
    from dataperf.curate import (  # noqa: F401
        LabelIssues,
        Slice,
        cross_val_probs,
        data_values,
        find_label_issues,
        find_weak_slices,
        select_subset,
    )
    from dataperf.neighbors import NeighborIndex  # noqa: F401
    from dataperf.probing import probe  # noqa: F401
    from dataperf.propose.proposal import Proposal  # noqa: F401
    from dataperf.propose.sampler import HardnessSampler  # noqa: F401
    from dataperf.signals import Signals, check_output_dir  # noqa: F401


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, globals())
