"""What the commands share: argument types, the model and data option groups, loading the
model and the data, running the probe, and turning errors of bad input into one-line
:class:`~dataperf._errors.InputError` s.

Only the standard library is imported here at module level: the parser and ``--help`` stay free
of numpy and torch; each helper imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dataperf._errors import InputError, InputValueError
from dataperf._term import escape


# --------------------------------------------------------------------------- argument types
def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return number


def non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return number


def float_at_least_zero(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return number


def device_name(value: str) -> str:
    import torch

    try:
        torch.device(value)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected a torch device such as cpu, cuda, cuda:1 or mps; got {value!r}"
        ) from None
    return value


# --------------------------------------------------------------------------- option groups
MODEL_HELP = (
    "the model: a TorchScript file (model.ts; its forward may return (logits, features) to "
    "give the embeddings); module:function, called with no arguments and "
    "returning an nn.Module; or module:Class with --state-dict FILE. The module may be a dotted "
    "name importable from the current folder or a path to a .py file (path/to/models.py:Net). "
    "Whole pickled models (torch.save(model)) are refused: they can run arbitrary code"
)
DATA_HELP = (
    "an image folder (ImageFolder layout: one subfolder per class, labels from the sorted "
    "subfolder names or from --classes; or flat: images only, unlabelled), a .npy array "
    "(images.npy, or images.npy:labels.npy with (N,) integer labels; uint8 is scaled to "
    "[0, 1]), or module:function returning a Dataset"
)


def add_model_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The options that say which model to run and how (shared by probe and propose)."""
    g = parser.add_argument_group("model (how the data is probed)")
    g.add_argument("--model", required=required, metavar="SPEC", help=MODEL_HELP)
    g.add_argument(
        "--state-dict",
        metavar="FILE",
        help="weights for --model module:Class, written by torch.save(model.state_dict(), FILE);"
        " read with torch.load(weights_only=True); keys and shapes must match the model",
    )
    g.add_argument(
        "--layer",
        metavar="NAME",
        help="module whose output gives the embeddings (e.g. 'avgpool'; see "
        "model.named_modules()); default: the input of the model's last nn.Linear",
    )
    g.add_argument(
        "--mc-samples",
        type=non_negative,
        default=0,
        metavar="T",
        help="extra forward passes with dropout on (MC dropout) to separate ambiguous inputs "
        "from ones the model has not learned; needs dropout layers (default 0: off)",
    )
    g.add_argument(
        "--outputs",
        choices=["logits", "probs", "log_probs"],
        default="logits",
        help="what the model returns; softmax is applied to logits only (default: logits; "
        "outputs that are already probabilities or log-probabilities are refused, naming this "
        "option)",
    )
    g.add_argument(
        "--label-check",
        choices=["warn", "error", "off"],
        default="warn",
        help="on labelled data, warn (or fail) when the model's accuracy is near chance (below "
        "2/K) or renaming the classes would raise it by 30 points or more, e.g. class folders "
        "whose sorted order is not the model's (default: warn)",
    )
    g.add_argument(
        "--batch-size", type=positive, default=256, metavar="B", help="batch size (default 256)"
    )
    g.add_argument(
        "--device",
        type=device_name,
        metavar="D",
        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when available, else cpu)",
    )
    g.add_argument(
        "--workers",
        type=non_negative,
        default=0,
        metavar="W",
        help="DataLoader worker processes that read and decode the data (default 0: in the "
        "main process; 4-8 keep a GPU busy on image folders)",
    )
    g.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar while probing"
    )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """How images are turned into model inputs (shared by probe and propose)."""
    g = parser.add_argument_group("data preprocessing (image folders and .npy images)")
    g.add_argument(
        "--image-size",
        type=positive,
        metavar="S",
        help="resize every image to S x S pixels (needed when images differ in size)",
    )
    g.add_argument(
        "--grayscale", action="store_true", help="convert images to one channel (e.g. MNIST)"
    )
    g.add_argument(
        "--mean",
        type=float,
        nargs="+",
        metavar="M",
        help="per-channel mean to subtract after scaling to [0, 1] (with --std), e.g. "
        "0.485 0.456 0.406 for ImageNet models",
    )
    g.add_argument(
        "--std",
        type=float,
        nargs="+",
        metavar="S",
        help="per-channel standard deviation to divide by (with --mean), e.g. 0.229 0.224 0.225",
    )
    g.add_argument(
        "--transform",
        metavar="MODULE:FUNCTION",
        help="function (no arguments) returning a callable that maps a PIL image to the model "
        "input, used instead of the default scaling (not with --mean/--std; --image-size and "
        "--grayscale are applied before it)",
    )
    g.add_argument(
        "--classes",
        metavar="NAMES",
        help="the model's class names in the order of its outputs: a comma list (cat,dog,fox) "
        "or a file (one name per line, or a JSON list). Class folders get their labels from "
        "it (matched exactly or ignoring case and punctuation) instead of from sorted order; "
        "captions and outputs show the names",
    )
    g.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="image folders: decode every image once first and leave out those that cannot be "
        "read (listed in the output's meta.json under skipped_unreadable) instead of stopping",
    )


# --------------------------------------------------------------------------- model and data
def model_from_args(args: argparse.Namespace) -> Any:
    from dataperf._files import os_errors
    from dataperf._models import load_model

    what = f"--model {args.model}" + (f" --state-dict {args.state_dict}" if args.state_dict else "")
    with os_errors(what, fix="check that the files exist and are readable."):
        return load_model(args.model, state_dict=args.state_dict)


def class_names(args: argparse.Namespace) -> list[str] | None:
    """The ``--classes`` names (read once), or None."""
    from dataperf._loading import parse_classes

    if args.classes is None:
        return None
    if not hasattr(args, "class_names"):
        args.class_names = parse_classes(args.classes)
    return args.class_names


def load_data_source(spec: str, args: argparse.Namespace) -> Any:
    from dataperf._loading import load_data

    data = load_data(
        spec,
        image_size=args.image_size,
        grayscale=args.grayscale,
        mean=args.mean,
        std=args.std,
        transform=args.transform,
        classes=class_names(args),
        skip_unreadable=args.skip_unreadable,
    )
    skipped = getattr(data, "skipped", None)
    if skipped:
        print(
            f"note: {len(skipped)} unreadable images of {spec} are left out (e.g. "
            f"{escape(skipped[0]['error'])}); the Signals' meta lists them "
            "(skipped_unreadable).",
            file=sys.stderr,
        )
    return data


def provenance(spec: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What the Signals' meta records about where ``data`` came from."""
    meta: dict[str, Any] = {"source": spec}
    if class_names(args) is not None:
        meta["classes"] = class_names(args)
    if getattr(data, "skipped", None):
        meta["skipped_unreadable"] = data.skipped
    return meta


def accuracy_line(what: str, agreement: Any) -> str:
    return (
        f"{what}: the model's accuracy on its labels is {agreement.accuracy:.1%} "
        f"({agreement.n:,} labelled items)"
    )


def check_device(device: str | None) -> None:
    import torch

    if device is not None and torch.device(device).type == "cuda":
        if not torch.cuda.is_available():
            raise InputValueError(
                f"--device {device}: no CUDA GPU is visible to PyTorch here. Fix: run on a "
                "machine with a GPU (and a CUDA build of torch), or pass --device cpu."
            )


# --------------------------------------------------------------------------- probing, errors
def worker_error(err: BaseException, spec: str) -> InputValueError | None:
    """The one-line user error for an error that a DataLoader worker raised while reading
    ``spec`` (torch re-raises it with the worker's traceback in the message): bad input (an
    :class:`InputError`, or items of unequal size), else None (a bug or the user's own code,
    which keeps its type and traceback)."""
    text = str(err)
    last = [line for line in text.strip().splitlines() if line.strip()][-1]
    name, sep, message = last.partition(": ")
    message = message if sep and " " not in name else last
    if "stack expects each tensor to be equal size" in message:
        return unequal_sizes(message, spec)
    return InputValueError(message) if isinstance(err, InputError) else None


def unequal_sizes(first: str, spec: str) -> InputValueError:
    return InputValueError(
        f"the items of {spec} differ in size and cannot be batched ({first}). Fix: pass "
        "--image-size S to resize every image to S x S."
    )


def probe_options(model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The ``probe`` keyword options that the model options of ``args`` give."""
    from dataperf._models import ScriptedModel

    layer = args.layer
    if isinstance(model, ScriptedModel):
        if layer is not None:
            raise InputValueError(
                f"--layer {layer}: a TorchScript model hides its layers, so no layer can be "
                "chosen. Fix: export a model whose forward returns (logits, features) and drop "
                "--layer, or pass --model module:Class --state-dict FILE."
            )
        layer = ScriptedModel.LAYER
    return dict(
        layer=layer,
        mc_samples=args.mc_samples,
        batch_size=args.batch_size,
        device=args.device,
        num_workers=args.workers,
        progress=not args.no_progress,
        outputs=args.outputs,
        seed=args.seed,
        label_check=args.label_check,
    )


def run_guarded(call: Any, model: Any, spec: str) -> Any:
    """``call()``, with errors from the model pass over ``spec`` as one-line user errors, and
    a note when a TorchScript model gave only logits."""
    from dataperf._models import ScriptedModel

    try:
        result = call()
    except Exception as err:
        error = probe_error(err, spec)
        if error is None:
            raise
        raise error from err
    if isinstance(model, ScriptedModel) and model.has_features is False:
        print(
            "note: the TorchScript model returns only logits, so its logits serve as embeddings; "
            "export one whose forward returns (logits, features) for better novelty and "
            "labelability scores.",
            file=sys.stderr,
        )
    return result


def probe_data(model: Any, data: Any, name: str, spec: str, args: argparse.Namespace) -> Any:
    """Run :func:`dataperf.probe` over ``data`` (``--name spec``); record its class names and
    source in meta, and print the accuracy on labelled data."""
    from dataperf.probing import run_probe

    options = probe_options(model, args)
    meta = provenance(spec, data, args)
    signals, report = run_guarded(lambda: run_probe(model, data, meta=meta, **options), model, spec)
    if report.agreement is not None:
        print(accuracy_line(f"--{name} {spec}", report.agreement), file=sys.stderr)
    return signals


def probe_error(err: Exception, spec: str) -> Exception | None:
    """A one-line user error for an exception raised while probing ``spec``, or None."""
    if "DataLoader worker process" in str(err) and "Original Traceback" in str(err):
        return worker_error(err, spec)
    if not isinstance(err, RuntimeError):
        return None
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "stack expects each tensor to be equal size" in str(err):
        return unequal_sizes(first, spec)
    if "on another rank" in first:
        return None
    return InputValueError(
        f"running the model on {spec} failed: {first}. Fix: check that --image-size, "
        "--grayscale, --mean/--std or --transform give the inputs the model was trained on "
        "(set DATAPERF_TRACEBACK=1 to see the traceback)."
    )
