"""Load a model from a command-line spec (private; used by ``dataperf.cli`` and, for
TorchScript, by ``dataperf.probe``).

Model specs (:func:`load_model`)
--------------------------------
``model.ts``
    A TorchScript file (``torch.jit.script(model).save("model.ts")``). TorchScript hides its
    layers from forward hooks, so the embeddings come from the model's output: export a model
    whose forward returns ``(logits, features)``; one that returns only logits gets its logits
    as embeddings (a weaker geometry for novelty and labelability). See :class:`ScriptedModel`.
``package.module:function`` or ``path/to/models.py:function``
    The function is called with no arguments and must return a ``torch.nn.Module``.
``package.module:Class`` (or ``models.py:Class``) with ``state_dict="weights.pt"``
    ``Class()`` is built, then its weights are loaded from the file with
    ``torch.load(..., weights_only=True)``.

Nothing is ever unpickled: a file written by ``torch.save(model)`` (a whole pickled model) is
refused with an explanation of how to save it safely instead. TorchScript files are programs:
loading one runs its code.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dataperf._specs import (
    SpecError,
    SpecNotFoundError,
    attribute,
    call_without_arguments,
    import_module,
    split_spec,
)
from dataperf._validate import describe, resolve_device

__all__ = ["ScriptedModel", "load_model"]

_TORCHSCRIPT_HINT = (
    "Fix: save the model as TorchScript (torch.jit.script(model).save('model.ts')) and pass "
    "--model model.ts, or save its weights (torch.save(model.state_dict(), 'weights.pt')) and "
    "pass --model module:Class --state-dict weights.pt."
)


def load_model(spec: str, *, state_dict: str | None = None, device: Any = None) -> Any:
    """Build the model named by a command-line ``spec``, in eval mode.

    Parameters
    ----------
    spec : str
        A TorchScript file, ``module:function`` (called with no arguments; returns an
        ``nn.Module``) or ``module:Class`` (built with no arguments). The module part may be a
        dotted name or a path to a ``.py`` file.
    state_dict : str, optional
        A file written by ``torch.save(model.state_dict(), path)``, loaded with
        ``weights_only=True`` into the built model (strictly: keys and shapes must match).
    device : str or torch.device, optional
        Move the model there; default: leave it on the CPU.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.
    """
    if not isinstance(spec, str) or not spec:
        raise SpecError(f"--model must be a non-empty string; got {describe(spec)}.")
    parts = split_spec(spec)
    if Path(spec).is_file() or parts is None:
        model = _load_torchscript(spec)
    else:
        model = _build_model(*parts, spec, has_weights=state_dict is not None)
    if not isinstance(model, nn.Module):
        raise SpecError(
            f"--model {spec!r} must give a torch.nn.Module; got {describe(model)}. Fix: return "
            "the model (an nn.Module instance) from the function."
        )
    if state_dict is not None:
        _load_weights(model, state_dict)
    if device is not None:
        model.to(resolve_device(device))
    return model.eval()


def _load_torchscript(spec: str) -> Any:
    path = Path(spec)
    if not path.exists():
        raise SpecNotFoundError(
            f"--model {spec!r}: no such file. Expected a TorchScript file (e.g. model.ts), "
            "module:function or module:Class (e.g. models.py:Net with --state-dict weights.pt)."
        )
    if path.is_dir():
        raise SpecError(
            f"--model {spec!r} is a folder; expected a TorchScript file, module:function or "
            "module:Class."
        )
    try:
        with warnings.catch_warnings():  # torch >= 2.9 marks TorchScript as deprecated
            warnings.simplefilter("ignore", FutureWarning)
            return ScriptedModel(torch.jit.load(str(path), map_location="cpu"))
    except (RuntimeError, ValueError, zipfile.BadZipFile) as err:
        jit_error = str(err).splitlines()[0] if str(err) else type(err).__name__
    try:
        content = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, zipfile.BadZipFile):
        if _is_pickle(path):
            raise SpecError(
                f"--model {spec!r} looks like a whole pickled model (torch.save(model)); dataperf "
                f"never unpickles arbitrary objects, which can run any code. {_TORCHSCRIPT_HINT}"
            ) from None
        raise SpecError(
            f"--model {spec!r} is not a TorchScript file ({jit_error}). {_TORCHSCRIPT_HINT}"
        ) from None
    if isinstance(content, Mapping):
        raise SpecError(
            f"--model {spec!r} holds weights only (a state_dict with {len(content)} entries), not "
            "a model. Fix: name the architecture and pass the file as weights: --model "
            f"module:Class --state-dict {spec}."
        )
    raise SpecError(
        f"--model {spec!r} holds {describe(content)}, not a TorchScript model. {_TORCHSCRIPT_HINT}"
    )


class ScriptedModel(nn.Module):
    """A TorchScript model made probe-able: its embeddings pass through ``self.embedding``.

    Forward hooks do not work inside TorchScript, so ``probe(model, data,
    layer=ScriptedModel.LAYER)`` reads the embeddings at the ``embedding`` identity module: the
    second output when the scripted forward returns ``(logits, features)``, else the logits
    themselves (``has_features`` then becomes False).
    """

    LAYER = "embedding"

    def __init__(self, scripted: Any) -> None:
        super().__init__()
        self.scripted = scripted
        self.embedding = nn.Identity()
        self.has_features: bool | None = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.scripted(*args, **kwargs)
        if isinstance(out, (tuple, list)) and len(out) == 2:
            logits, features = out
            self.has_features = True
        else:
            logits = features = out
            self.has_features = False
        self.embedding(features)
        return logits


def _is_pickle(path: Path) -> bool:
    """Whether ``path`` is a torch.save / pickle file (as opposed to something else)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    with path.open("rb") as handle:
        return handle.read(1) == b"\x80"  # pickle protocol 2+ opcode


def _build_model(module: str, name: str, spec: str, *, has_weights: bool) -> Any:
    factory = attribute(import_module(module, spec, "--model"), name, spec, "--model")
    if isinstance(factory, nn.Module):
        return factory
    if not callable(factory):
        raise SpecError(
            f"--model {spec!r}: {name} is {describe(factory)}; expected a function returning a "
            "torch.nn.Module or an nn.Module class."
        )
    is_class = isinstance(factory, type)
    if is_class and not issubclass(factory, nn.Module):
        raise SpecError(
            f"--model {spec!r}: {name} is the class {factory.__qualname__}, which is not a "
            "torch.nn.Module subclass. Fix: name the model class or a function returning it."
        )
    model = call_without_arguments(
        factory,
        name,
        spec,
        "--model",
        "write a function that takes no arguments and returns the model, and name it after the "
        "colon.",
    )
    if is_class and not has_weights:
        warnings.warn(
            f"--model {spec!r} builds {name}() with freshly initialised weights; pass "
            "--state-dict FILE to load trained weights.",
            stacklevel=3,
        )
    return model


def _load_weights(model: Any, path_name: str) -> None:
    path = Path(path_name)
    if not path.is_file():
        raise SpecNotFoundError(
            f"--state-dict {path_name!r}: no such file. Expected weights written by "
            "torch.save(model.state_dict(), path)."
        )
    try:
        weights = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, zipfile.BadZipFile):
        raise SpecError(
            f"--state-dict {path_name!r} cannot be read as weights only (it holds pickled "
            "objects, e.g. a whole model saved with torch.save(model), or is not a torch file); "
            f"dataperf never unpickles arbitrary objects. {_TORCHSCRIPT_HINT}"
        ) from None
    weights = _unwrap_checkpoint(weights, path_name)
    expected = model.state_dict()
    if (
        weights
        and all(k.startswith("module.") for k in weights)
        and not any(k.startswith("module.") for k in expected)
    ):  # saved from DataParallel / DistributedDataParallel
        weights = {k[len("module.") :]: v for k, v in weights.items()}
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    shapes = [
        f"{k}: file {tuple(weights[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in weights
        and hasattr(weights[k], "shape")
        and tuple(weights[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"missing keys {missing[:6]}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            more = " ..." if len(unexpected) > 6 else ""
            problems.append(f"unexpected keys {unexpected[:6]}{more}")
        if shapes:
            problems.append(f"shape mismatches {shapes[:4]}")
        raise SpecError(
            f"--state-dict {path_name!r} does not fit {type(model).__name__}: "
            f"{'; '.join(problems)}. Fix: pass the class (or the constructor settings) the "
            "weights were trained with."
        )
    model.load_state_dict(weights, strict=True)


def _unwrap_checkpoint(weights: Any, path_name: str) -> dict[str, Any]:
    """The state_dict inside a training checkpoint such as ``{"state_dict": ..., "epoch": 3}``."""
    if isinstance(weights, Mapping) and not all(
        isinstance(v, torch.Tensor) for v in weights.values()
    ):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(weights.get(key), Mapping):
                return _unwrap_checkpoint(weights[key], path_name)
    if not isinstance(weights, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in weights.values()
    ):
        raise SpecError(
            f"--state-dict {path_name!r} holds {describe(weights)}; expected a state_dict (a "
            "dict of parameter name -> tensor), as written by "
            "torch.save(model.state_dict(), path)."
        )
    return dict(weights)
