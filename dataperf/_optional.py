"""Lazy imports of optional dependencies, with an install hint when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

_HINTS = {
    "textattack": 'pip install "dataperf[text]"  (TextAttack 0.3.11 with transformers<5)',
    "matplotlib": "pip install matplotlib",
    "nbclient": 'pip install "dataperf[dev]"',
    "faiss": 'pip install "dataperf[scale]"  (faiss-cpu; faiss-gpu-cu12 for CUDA)',
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` naming ``purpose`` and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        hint = _HINTS.get(top, f"pip install {top}")
        raise ImportError(
            f"{purpose} needs the optional package '{top}', which could not be imported "
            f"({err}). Install it with: {hint}"
        ) from err
