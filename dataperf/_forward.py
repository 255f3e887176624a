"""The model side of ``probe`` (private): embedding tap, per-batch forward, collectors.

- :class:`Tap` takes the embeddings: a forward hook on a named layer, or by default on the
  input of the last ``nn.Linear`` that the forward pass calls, found during the first batch
  without an extra pass.
- :func:`forward` runs one batch: probabilities, the embedding, and the MC-dropout passes,
  seeded by the *global* batch index so that any process computes any batch the same way.
- :func:`collect` turns one batch's outputs into the NumPy arrays that a sink stores.
- :func:`image_fingerprint` is the model-independent image fingerprint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from dataperf._errors import InputTypeError, InputValueError
from dataperf._validate import check_labels, describe

__all__ = [
    "DROPOUT",
    "dropout_layers",
    "FINGERPRINT_FREQUENCIES",
    "Tap",
    "collect",
    "forward",
    "image_fingerprint",
    "restore_modes",
    "split_batch",
    "to_device",
]

DROPOUT = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
)  # fmt: skip


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The dropout layers of ``model``, also inside TorchScript (a scripted submodule keeps
    its class name in ``original_name``; ``train()`` switches it as for eager modules)."""
    names = {cls.__name__ for cls in DROPOUT}
    return [
        m
        for m in model.modules()
        if isinstance(m, DROPOUT)
        or (isinstance(m, torch.jit.RecursiveScriptModule) and m.original_name in names)
    ]


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` (a tensor, or a dict/list/tuple of them) moved to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    return value


def split_batch(batch: Any, index: int) -> tuple[Any, Any]:
    """``(input, label or None)`` from a batch of inputs, (input, label) pairs or dicts."""
    if isinstance(batch, Mapping):
        if "input" not in batch:
            raise InputValueError(
                f"batch {index} is a dict with keys {list(batch)}; probe expects the model input "
                "under 'input' (and the label, if any, under 'label'). Fix: have the dataset or "
                "collate_fn return {'input': ..., 'label': ...}."
            )
        return batch["input"], batch.get("label")
    if isinstance(batch, (list, tuple)):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
        raise InputValueError(
            f"batch {index} has {len(batch)} parts; probe expects an input or (input, label). "
            "Fix: return (input, label) from the dataset, or a dict with 'input'/'label'."
        )
    return batch, None


def _logits(output: Any) -> torch.Tensor:
    if hasattr(output, "logits"):  # e.g. Hugging Face model outputs
        output = output.logits
    elif isinstance(output, (list, tuple)) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        raise InputTypeError(
            f"the model must return class scores of shape (batch, K); got {describe(output)}. "
            "Wrap it so that forward returns logits (or an object with a .logits tensor)."
        )
    if output.shape[1] < 2:
        raise InputValueError(
            f"the model returns {output.shape[1]} score per item (shape {tuple(output.shape)}), "
            "e.g. a binary model trained with BCEWithLogitsLoss; probe needs one score per "
            "class (softmax over one score is always 1). Fix: wrap it so that forward returns "
            "torch.cat([-z / 2, z / 2], dim=1) for its logit z (the two-class logits with the "
            "same sigmoid), or [1 - p, p] with outputs='probs'."
        )
    return output


def _check_kind(scores: torch.Tensor, outputs: str, batch: int) -> None:
    """Refuse ``outputs="logits"`` for scores that are already probabilities or
    log-probabilities (softmax would be applied twice and every confidence recorded wrong).

    Every row of the batch must look so: non-negative and summing to 1 (probabilities), or
    non-positive with ``exp`` summing to 1 (log-probabilities). Logits of a real model do
    that only by accident, never for a whole batch.
    """
    if outputs != "logits" or scores.shape[-1] < 2:
        return
    s = scores.detach().float()
    if not torch.isfinite(s).all():
        return  # the Signals checks name non-finite outputs
    one = torch.ones(len(s), device=s.device)
    tol = 2e-2  # bfloat16 rounds each probability by up to 0.4%; clamped softmax adds a bit
    if (s >= 0).all() and torch.allclose(s.sum(-1), one, atol=tol):
        kind, fix, example = "probabilities", "probs", "a final Softmax"
    elif (s <= 0).all() and torch.allclose(s.exp().sum(-1), one, atol=tol):
        kind, fix, example = "log-probabilities", "log_probs", "a final LogSoftmax"
    else:
        return
    raise InputValueError(
        f"the model's outputs look like {kind}, not logits: every row of batch {batch} "
        f"{'sums' if fix == 'probs' else 'exponentiates and sums'} to 1 (e.g. {example} "
        "layer). With the default outputs='logits' probe would apply softmax again and record "
        f"wrong confidences. Fix: probe(..., outputs={fix!r}) (CLI: --outputs {fix})."
    )


def _to_probs(scores: torch.Tensor, outputs: str) -> torch.Tensor:
    scores = scores.float()
    if outputs == "logits":
        return torch.softmax(scores, dim=-1)
    if outputs == "log_probs":
        return scores.exp()
    return scores


@contextlib.contextmanager
def restore_modes(model: nn.Module) -> Iterator[None]:
    """Restore every module's train/eval mode on exit."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


# --------------------------------------------------------------------------- the embedding tap
class Tap:
    """Where the embeddings come from.

    With ``layer``, the *output* of ``model.get_submodule(layer)``; without, the *input* of the
    last ``nn.Linear`` that the forward pass calls (the features a classification head sees),
    found during the first batch with hooks on every ``nn.Linear`` (no extra pass). ``layer``
    holds the chosen name afterwards. Call :meth:`close` to remove the hook.
    """

    def __init__(self, model: nn.Module, layer: str | None) -> None:
        self.model, self.layer = model, layer
        self.captured: list[torch.Tensor] = []
        self.hook = None if layer is None else self._register(layer, use_input=False)

    def _register(self, name: str, *, use_input: bool) -> Any:
        try:
            module = self.model.get_submodule(name)
        except AttributeError:
            names = [n for n, _ in self.model.named_modules() if n]
            raise InputValueError(
                f"layer {name!r} is not a module of the model; its modules: {names[:12]}"
            ) from None

        def hook(mod: nn.Module, args: tuple, output: Any) -> None:
            value = args[0] if use_input else output
            if isinstance(value, (list, tuple)):
                value = value[0]
            self.captured.append(value.detach())

        return module.register_forward_hook(hook)

    def run(self, call: Callable[[], Any]) -> tuple[Any, torch.Tensor]:
        """``(model output, embedding)`` of one forward pass ``call()``."""
        if self.layer is None:
            output, self.layer, embedding = _first_pass(self.model, call)
            self.hook = self._register(self.layer, use_input=True)
            return output, embedding
        self.captured.clear()
        output = call()
        if not self.captured:
            raise RuntimeError(f"layer {self.layer!r} was not called in the forward pass")
        return output, self.captured[-1]

    def close(self) -> None:
        if self.hook is not None:
            self.hook.remove()
            self.hook = None


def _first_pass(model: nn.Module, call: Callable[[], Any]) -> tuple[Any, str, torch.Tensor]:
    """Run ``call()`` with hooks on every ``nn.Linear``; return ``(output, name, input)`` of the
    last one called."""
    calls: list[tuple[str, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda mod, args, out, name=name: calls.append((name, args[0])))
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear)
    ]
    try:
        output = call()
    finally:
        for hook in hooks:
            hook.remove()
    if not calls:
        raise InputValueError(
            "probe takes embeddings from the input of the model's last nn.Linear by default, but "
            "the forward pass called no nn.Linear. Fix: pass layer='<module name>' (one of "
            f"{[n for n, _ in model.named_modules() if n][:8]})."
        )
    return output, calls[-1][0], calls[-1][1].detach()


# --------------------------------------------------------------------------- per-batch forward
def forward(
    model: nn.Module,
    tap: Tap,
    x: Any,
    batch: int,
    *,
    outputs: str,
    mc_samples: int,
    dropouts: list[nn.Module],
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One batch: ``(probs (B, K), embedding (B, D) float32, mc_probs (B, T, K) or None)``.

    ``batch`` is the global batch index: it seeds the MC-dropout passes.
    """

    def call() -> Any:
        return model(**x) if isinstance(x, Mapping) else model(x)

    output, embedding = tap.run(call)
    scores = _logits(output)
    _check_kind(scores, outputs, batch)
    probs = _to_probs(scores, outputs)
    mc = _mc_pass(call, dropouts, mc_samples, outputs, seed, batch) if mc_samples else None
    return probs, embedding.float().reshape(len(scores), -1), mc


def _mc_pass(
    call: Callable[[], Any], dropouts: list, t: int, outputs: str, seed: int, batch: int
) -> torch.Tensor:
    """(B, T, K) probabilities from ``t`` passes with only the dropout layers in train mode."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed * 1_000_003 + batch)
        for module in dropouts:
            module.train()
        try:
            samples = [_to_probs(_logits(call()), outputs).cpu() for _ in range(t)]
        finally:
            for module in dropouts:
                module.eval()
    return torch.stack(samples, dim=1)


# --------------------------------------------------------------------------- collectors
def collect(
    batch: int,
    x: Any,
    y: Any,
    index: np.ndarray,
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    *,
    ids_of: Callable[[np.ndarray], np.ndarray] | None,
    fingerprint: bool,
    embeddings_dtype: Any,
) -> dict[str, np.ndarray | None]:
    """The NumPy arrays of one batch: ``probs`` (B, K) float64, ``embeddings`` (B, D) in
    ``embeddings_dtype``, ``labels`` (B,) int64 or None, ``mc_probs`` (B, T, K) float64 or
    None, ``fingerprints`` (B, F) float32 or None, ``index`` (B,) int64 dataset positions and
    ``ids`` (B,) (``ids_of(index)``, or the index)."""
    probs, embedding, mc = outputs
    n = len(probs)
    if len(index) != n:
        raise InputValueError(
            f"batch {batch} has {n} model outputs but its sampler gave {len(index)} dataset "
            "indices; probe cannot tell which output belongs to which item. Fix: have the "
            "model return one row per input item."
        )
    embeddings = embedding.cpu().numpy()
    with np.errstate(over="ignore"):  # overflow is checked just below
        stored = embeddings.astype(embeddings_dtype, copy=False)
    if stored.dtype != embeddings.dtype and np.isfinite(embeddings).all():
        if not np.isfinite(stored).all():
            raise InputValueError(
                f"the embeddings of batch {batch} exceed the {stored.dtype} range (largest "
                f"magnitude {np.abs(embeddings).max():.4g}). Fix: use "
                "embeddings_dtype='float32' (--embeddings-dtype float32)."
            )
    labels = None
    if y is not None:
        labels = check_labels(_label_array(y, batch), n, None, f"labels of batch {batch}")
    prints = image_fingerprint(x) if fingerprint else None
    index = np.asarray(index, dtype=np.int64)
    return {
        "probs": probs.cpu().numpy().astype(np.float64),
        "embeddings": stored,
        "labels": labels,
        "mc_probs": None if mc is None else mc.numpy().astype(np.float64),
        "fingerprints": None if prints is None else prints.numpy(),
        "index": index,
        "ids": index if ids_of is None else ids_of(index),
    }


def _label_array(y: Any, batch: int) -> np.ndarray:
    """A batch's labels as a NumPy array; names (strings) are refused with the fix."""
    if isinstance(y, torch.Tensor):
        return y.cpu().numpy()
    values = list(y) if isinstance(y, (list, tuple)) else [y]
    named = next((v for v in values if isinstance(v, (str, bytes))), None)
    if named is not None:
        raise InputTypeError(
            f"the labels of batch {batch} are names such as {named!r}; probe needs integer "
            "class indices in the order of the model's outputs. Fix: have the dataset return "
            "class_to_idx[name] (e.g. {name: i for i, name in enumerate(classes)})."
        )
    try:
        return torch.as_tensor(y).cpu().numpy()
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputTypeError(
            f"the labels of batch {batch} are not numbers ({describe(y)}: {err}); probe needs "
            "integer class indices. Fix: have the dataset return an int label per item."
        ) from None


#: Frequencies per axis kept by :func:`image_fingerprint`.
FINGERPRINT_FREQUENCIES = 8


def image_fingerprint(x: Any, frequencies: int = FINGERPRINT_FREQUENCIES) -> torch.Tensor | None:
    """A model-independent fingerprint of each image in a batch, or None for non-images.

    Built from the magnitudes of the lowest ``frequencies`` spatial frequencies (per axis) of
    the grayscale image with its mean removed. Fourier magnitudes do not change when an image
    is shifted (circularly); a horizontal or vertical flip only swaps the magnitudes at
    vertical frequencies ``+f`` and ``-f``, so each such pair enters as its sum and absolute
    difference; scaling to unit length removes brightness and contrast; pixel noise mostly
    lives in the high frequencies that are dropped. So near-copies of an image (shifted,
    mirrored, re-lit, noisier) have nearly the same fingerprint whatever the model's features
    do. ``x`` is a float tensor (B, C, H, W) or (B, H, W); other inputs (token ids, dicts) have
    no fingerprint.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim not in (3, 4):
        return None
    gray = x.float().mean(dim=1) if x.ndim == 4 else x.float()
    gray = gray - gray.mean(dim=(1, 2), keepdim=True)
    spectrum = torch.fft.rfft2(gray, norm="ortho").abs()[:, :, :frequencies]
    f = min(frequencies, (spectrum.shape[1] + 1) // 2)
    up = spectrum[:, 1:f]  # vertical frequencies +1 .. +(f-1)
    down = spectrum[:, spectrum.shape[1] - f + 1 :].flip(1)  # -1 .. -(f-1)
    parts = [spectrum[:, 0], (up + down).flatten(1), (up - down).abs().flatten(1)]
    flat = torch.cat(parts, dim=1)
    return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-8)).cpu()
