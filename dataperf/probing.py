"""``probe()``: the one place that runs the user's model (``dataperf.probe``).

The module is ``probing`` so that the function ``dataperf.probe`` is not shadowed by it.

One pass over the data collects softmax probabilities, embeddings from one layer, labels when
the items carry them, and optionally T Monte-Carlo-dropout passes. Everything after it works
on the returned :class:`~dataperf.signals.Signals`.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from dataperf._validate import describe, resolve_device
from dataperf.signals import Signals

__all__ = ["image_fingerprint", "probe"]

_DROPOUT = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
)  # fmt: skip
_OUTPUTS = ("logits", "probs", "log_probs")


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: _to(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(v, device) for v in value)
    return value


def _split_batch(batch: Any, index: int) -> tuple[Any, Any]:
    """``(input, label or None)`` from a batch of inputs, (input, label) pairs or dicts."""
    if isinstance(batch, Mapping):
        if "input" not in batch:
            raise ValueError(
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
        raise ValueError(
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
        raise TypeError(
            f"the model must return class scores of shape (batch, K); got {describe(output)}. "
            "Wrap it so that forward returns logits (or an object with a .logits tensor)."
        )
    return output


def _to_probs(scores: torch.Tensor, outputs: str) -> torch.Tensor:
    scores = scores.float()
    if outputs == "logits":
        return torch.softmax(scores, dim=-1)
    if outputs == "log_probs":
        return scores.exp()
    return scores


@contextlib.contextmanager
def _restore_modes(model: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _first_pass(model: nn.Module, call: Any) -> tuple[Any, str, torch.Tensor]:
    """Run the first batch with hooks on every ``nn.Linear``; return ``(output, name, input)``
    of the last one called (the default embedding layer) without an extra forward pass."""
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
        raise ValueError(
            "probe takes embeddings from the input of the model's last nn.Linear by default, but "
            "the forward pass called no nn.Linear. Fix: pass layer='<module name>' (one of "
            f"{[n for n, _ in model.named_modules() if n][:8]})."
        )
    return output, calls[-1][0], calls[-1][1]


def probe(
    model: nn.Module,
    data: Dataset | DataLoader,
    *,
    layer: str | None = None,
    mc_samples: int = 0,
    batch_size: int = 256,
    device: Any = None,
    num_workers: int = 0,
    progress: bool = True,
    outputs: str = "logits",
    autocast: bool = True,
    seed: int = 0,
    fingerprint: bool = True,
) -> Signals:
    """Run ``model`` once over ``data`` and return its :class:`Signals`.

    Parameters
    ----------
    model : torch.nn.Module
        Returns class scores ``(batch, K)`` (or an object with ``.logits``, or a tuple whose
        first element they are) for a batch of inputs. A TorchScript model (where hooks cannot
        run) should return ``(logits, features)``: the features become the embeddings (with
        logits alone, the logits do, with a warning).
    data : Dataset or DataLoader
        Items are an input, ``(input, label)``, or a dict with ``'input'`` and ``'label'``. A
        Dataset is read in order by a DataLoader with ``batch_size`` and ``num_workers``; a
        DataLoader (e.g. with a tokenizer as collate_fn) is used as it is, and must not shuffle.
        A dict input is passed as keyword arguments, ``model(**input)``.
    layer : str, optional
        Where the embeddings come from: the *output* of the module with this name
        (``model.get_submodule(layer)``). Default: the *input* of the last ``nn.Linear`` the
        forward pass calls (the features a classification head sees). Embeddings with more
        than two dimensions are flattened to (N, D).
    mc_samples : int
        T > 0 adds ``mc_probs`` (N, T, K) from T extra passes with only the dropout layers in
        train mode (MC dropout, seeded by ``seed``); a model without dropout is an error.
    device : str or torch.device, optional
        Default: CUDA if available, else CPU. The model is moved there for the pass and back to
        where it was afterwards.
    outputs : {"logits", "probs", "log_probs"}
        What the model returns; softmax is applied to logits only.
    autocast : bool
        On CUDA, run the forward pass under ``torch.autocast`` with bfloat16 (probabilities are
        computed in float32). Ignored on the CPU.
    progress : bool
        Show a progress bar over batches.
    fingerprint : bool
        For image inputs, also store :func:`image_fingerprint` (low-frequency Fourier
        magnitudes) as ``meta["columns"]["fingerprint"]``; the sampler uses it to spot
        near-copies (shifted, mirrored, noisier) that the model's features do not.

    Returns
    -------
    Signals
        ``probs`` (N, K), ``embeddings`` (N, D), ``labels`` (N,) when every batch had labels,
        ``mc_probs`` (N, T, K) when asked, ``ids`` (dataset positions, or file paths for a
        dataset with ``samples`` such as torchvision's ImageFolder), ``meta`` (model class,
        layer, ``mc_samples``, ``classes`` when the dataset has them, and the image
        ``fingerprint`` column; ``out_of_sample`` is unknown so absent).

    The model's train/eval mode is restored afterwards, and the pass runs in inference mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {describe(model)}.")
    scripted = None
    if isinstance(model, torch.jit.ScriptModule):  # hooks cannot run inside TorchScript
        from dataperf._loading import ScriptedModel

        if layer is not None:
            raise ValueError(
                f"layer={layer!r} cannot be used with a TorchScript model: forward hooks do not "
                "run inside TorchScript. Fix: script a forward that returns (logits, features) "
                "(the features become the embeddings), or probe the eager nn.Module."
            )
        model = scripted = ScriptedModel(model)
        layer = ScriptedModel.LAYER
    if outputs not in _OUTPUTS:
        raise ValueError(f"outputs must be one of {list(_OUTPUTS)}; got {outputs!r}.")
    if isinstance(mc_samples, bool) or not isinstance(mc_samples, numbers.Integral):
        raise TypeError(f"mc_samples must be an int >= 0; got {describe(mc_samples)}.")
    if mc_samples < 0:
        raise ValueError(f"mc_samples must be >= 0; got {mc_samples}.")
    loader = _loader(data, batch_size, num_workers)
    device = resolve_device(device)
    dropouts = [m for m in model.modules() if isinstance(m, _DROPOUT)]
    if mc_samples and not dropouts:
        raise ValueError(
            f"mc_samples={mc_samples} needs dropout layers (MC dropout), but "
            f"{type(model).__name__} has none. Fix: use mc_samples=0, or a model with nn.Dropout."
        )
    home = next((p.device for p in model.parameters()), device)
    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if autocast and device.type == "cuda"
        else contextlib.nullcontext()
    )
    probs, embeds, labels, mc, prints = [], [], [], [], []
    captured: list[torch.Tensor] = []
    chosen = layer
    hook = None
    try:
        model.to(device)
        with _restore_modes(model), torch.inference_mode(), amp:
            model.eval()
            for index, batch in enumerate(_batches(loader, progress)):
                x, y = _split_batch(batch, index)
                x = _to(x, device)

                def call(x: Any = x) -> Any:
                    return model(**x) if isinstance(x, Mapping) else model(x)

                if chosen is None:  # first batch, default layer: found during this pass
                    output, chosen, embedding = _first_pass(model, call)
                    hook = _capture(model, chosen, captured, use_input=True)
                else:
                    if hook is None:
                        hook = _capture(model, chosen, captured, use_input=layer is None)
                    captured.clear()
                    output = call()
                    if not captured:
                        raise RuntimeError(f"layer {chosen!r} was not called in the forward pass")
                    embedding = captured[-1]
                scores = _logits(output)
                probs.append(_to_probs(scores, outputs).cpu())
                embeds.append(embedding.float().reshape(len(scores), -1).cpu())
                labels.append(None if y is None else torch.as_tensor(y).cpu())
                prints.append(image_fingerprint(x) if fingerprint else None)
                if mc_samples:
                    mc.append(_mc_pass(model, call, dropouts, mc_samples, outputs, seed, index))
    finally:
        if hook is not None:
            hook.remove()
        model.to(home)
    if not probs:
        raise ValueError("data is empty: probe needs at least one item")
    if scripted is not None and not scripted.has_features:
        warnings.warn(
            "the TorchScript model returns only logits, so its logits serve as embeddings "
            "(weaker novelty and labelability scores). Script a forward that returns "
            "(logits, features) to probe its features.",
            stacklevel=2,
        )
    ids = _ids(loader.dataset, sum(len(p) for p in probs))
    meta: dict[str, Any] = {"model": type(model).__name__, "layer": chosen}
    meta.update(mc_samples=mc_samples)
    classes = getattr(loader.dataset, "classes", None)
    if isinstance(classes, (list, tuple)) and len(classes) == probs[0].shape[1]:
        meta["classes"] = [str(c) for c in classes]
    if prints and all(f is not None for f in prints):
        meta["columns"] = {"fingerprint": torch.cat(prints).numpy()}
    return Signals(
        probs=torch.cat(probs).numpy().astype(np.float64),
        embeddings=torch.cat(embeds).numpy(),
        labels=None if any(y is None for y in labels) else torch.cat(labels).numpy(),
        mc_probs=torch.cat(mc).numpy().astype(np.float64) if mc else None,
        ids=ids,
        meta=meta,
    )


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


def _loader(data: Any, batch_size: int, num_workers: int) -> DataLoader:
    if isinstance(data, DataLoader):
        if isinstance(data.sampler, RandomSampler):
            raise ValueError(
                "data is a DataLoader that shuffles; probe needs items in dataset order so that "
                "ids match positions. Fix: build it with shuffle=False."
            )
        return data
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(f"data must be a Dataset or a DataLoader; got {describe(data)}.")
    # Its own generator: iterating a DataLoader otherwise draws from torch's global RNG.
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),
    )


def _batches(loader: DataLoader, progress: bool) -> Any:
    if not progress:
        return loader
    from tqdm.auto import tqdm

    return tqdm(loader, desc="probe", unit="batch", leave=False)


def _capture(model: nn.Module, name: str, out: list, *, use_input: bool) -> Any:
    try:
        module = model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        raise ValueError(
            f"layer {name!r} is not a module of the model; its modules: {names[:12]}"
        ) from None

    def hook(mod: nn.Module, args: tuple, output: Any) -> None:
        value = args[0] if use_input else output
        if isinstance(value, (list, tuple)):
            value = value[0]
        out.append(value.detach())

    return module.register_forward_hook(hook)


def _mc_pass(
    model: nn.Module, call: Any, dropouts: list, t: int, outputs: str, seed: int, index: int
) -> torch.Tensor:
    """(B, T, K) probabilities from ``t`` passes with only the dropout layers in train mode."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed * 1_000_003 + index)
        for module in dropouts:
            module.train()
        try:
            samples = [_to_probs(_logits(call()), outputs).cpu() for _ in range(t)]
        finally:
            for module in dropouts:
                module.eval()
    return torch.stack(samples, dim=1)


def _ids(dataset: Any, n: int) -> np.ndarray:
    samples = getattr(dataset, "samples", None)
    if isinstance(samples, list) and len(samples) == n and isinstance(samples[0], tuple):
        return np.array([str(s[0]) for s in samples])
    return np.arange(n, dtype=np.int64)
