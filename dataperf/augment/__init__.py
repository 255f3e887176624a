"""Training data: augmentation applied per item, the same for any number of workers.

Where things are:

- ``dataset``: :class:`AugmentedDataset` (wrap a Dataset), :func:`augment_loader` /
  :class:`AugmentedLoader` (wrap an existing DataLoader), per-item keyed randomness;
- ``backends``: how an augmentation is recognised and run (torchvision v2, albumentations,
  TextAttack, dataperf text ops, any callable) -- add a backend here;
- ``textattack_adapter``: TextAttack augmenters and :func:`recipe`, offline;
- the text ops themselves live in :mod:`dataperf.text`, the WordNet data in
  ``dataperf._wordnet``.

Public names load on first use, so importing this package imports neither torch nor TextAttack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataperf._lazy import lazy_names

_EXPORTS = {
    "AugmentedDataset": "dataperf.augment.dataset",
    "AugmentedLoader": "dataperf.augment.dataset",
    "RepeatedDrawsWarning": "dataperf.augment.dataset",
    "augment_loader": "dataperf.augment.dataset",
    "BACKENDS": "dataperf.augment.backends",
    "resolve_backend": "dataperf.augment.backends",
    "recipe": "dataperf.augment.textattack_adapter",
    "recipe_names": "dataperf.augment.textattack_adapter",
    "OfflineUnavailableError": "dataperf.augment.textattack_adapter",
    "TextOp": "dataperf.text",
    "CharSwap": "dataperf.text",
    "CharInsert": "dataperf.text",
    "CharDelete": "dataperf.text",
    "KeyboardTypo": "dataperf.text",
    "WordDelete": "dataperf.text",
    "WordSwap": "dataperf.text",
    "SynonymReplace": "dataperf.text",
    "Compose": "dataperf.text",
    "OneOf": "dataperf.text",
    "wordnet_sentences": "dataperf._wordnet",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from dataperf._wordnet import wordnet_sentences  # noqa: F401
    from dataperf.augment.backends import BACKENDS, resolve_backend  # noqa: F401
    from dataperf.augment.dataset import (  # noqa: F401
        AugmentedDataset,
        AugmentedLoader,
        RepeatedDrawsWarning,
        augment_loader,
    )
    from dataperf.augment.textattack_adapter import (  # noqa: F401
        OfflineUnavailableError,
        recipe,
        recipe_names,
    )
    from dataperf.text import (  # noqa: F401
        CharDelete,
        CharInsert,
        CharSwap,
        Compose,
        KeyboardTypo,
        OneOf,
        SynonymReplace,
        TextOp,
        WordDelete,
        WordSwap,
    )


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, globals())
