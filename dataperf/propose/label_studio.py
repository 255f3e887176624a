"""Hand proposals to people for labelling: Label Studio tasks and config, or a plain CSV.

:func:`export_label_studio` writes what a Label Studio project needs:

- ``tasks.json``: one task per proposal. ``data`` holds ``image`` (a reference the tool can
  read: ``url_prefix`` + the image's path under ``image_root``), ``dataperf_id`` (the pool id,
  stable across rounds), ``rank``, ``bucket`` and, unless ``blind``, ``prediction`` and the
  sentence of ``explanation``. Unless ``blind``, each task carries the model's prediction as a
  pre-annotation (``predictions``, scored by the model's confidence).
- ``<stem>_config.xml``: the labelling config: the image, the explanation (unless blind) and
  one single choice among the class names plus :data:`CANNOT_TELL`, so that items a person
  cannot label are counted, not forced into a class.

``blind=True`` exports no prediction, no pre-annotation and no explanation (they anchor
annotators). With Label Studio's local file serving, start it with
``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<image_root>`` and keep the default ``url_prefix``;
for images behind a web server pass its URL as ``url_prefix``.

:func:`export_csv` writes dataperf's own form, ``id,image,label`` with ``label`` empty, for any
other tool or a spreadsheet; :mod:`dataperf.propose.labels` reads both back.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import numpy as np

from dataperf._errors import InputTypeError, InputValueError
from dataperf._files import atomic_file, atomic_write_text, check_output_file
from dataperf._validate import describe
from dataperf.propose.proposal import Proposal

__all__ = [
    "CANNOT_TELL",
    "LOCAL_FILES",
    "choice_result",
    "class_choices",
    "proposal_choices",
    "export_csv",
    "export_label_studio",
    "label_config",
]

CANNOT_TELL = "cannot tell"
"""The choice for an item a person cannot give one label (ambiguous, garbage, other domain)."""

LOCAL_FILES = "/data/local-files/?d="
"""Label Studio's URL prefix for files under ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``."""


def class_choices(names: Sequence[str] | None, num_classes: int) -> list[str]:
    """The class choices shown to annotators: the class names, else ``class 0``, ``class 1``...
    (as :meth:`Proposal.records` names predictions)."""
    choices = [str(c) for c in names] if names else [f"class {c}" for c in range(num_classes)]
    if CANNOT_TELL in choices:
        raise InputValueError(
            f"a class is named {CANNOT_TELL!r}, the choice kept for items a person cannot "
            "label. Fix: rename that class (--classes / meta['classes'])."
        )
    return choices


def proposal_choices(proposal: Proposal) -> list[str]:
    """:func:`class_choices` of a Proposal (its class names, else its number of classes)."""
    k = proposal.settings.get("num_classes")
    if proposal.class_names is None and k is None:
        raise InputValueError(
            "this Proposal knows neither its class names nor its number of classes. Fix: "
            "propose with HardnessSampler (it records both)."
        )
    return class_choices(proposal.class_names, int(k or 0))


def label_config(choices: Sequence[str], *, blind: bool = False) -> str:
    """The Label Studio labelling config (XML) for ``choices`` plus :data:`CANNOT_TELL`."""
    lines = ["<View>", '  <Image name="image" value="$image" zoom="true"/>']
    if not blind:
        lines.append('  <Text name="why" value="$explanation"/>')
    lines.append(
        '  <Choices name="label" toName="image" choice="single" showInline="true" required="true">'
    )
    lines += [f"    <Choice value={quoteattr(c)}/>" for c in [*choices, CANNOT_TELL]]
    lines += ["  </Choices>", "</View>"]
    return "\n".join(lines) + "\n"


def _ids(proposal: Proposal) -> list[Any]:
    return [i.item() if hasattr(i, "item") else str(i) for i in proposal.ids]


def _image_refs(
    proposal: Proposal,
    images: Any,
    image_root: str | Path | None,
    url_prefix: str,
    images_dir: Path,
) -> list[str]:
    """One reference per proposal: ``url_prefix`` + the path under ``image_root`` (URL-quoted).

    With ``images`` (indexable by pool position), the proposed images are written as PNG files
    into ``images_dir`` first. Otherwise the ids must be paths of files under ``image_root``.
    """
    from dataperf.viz import confine_paths

    if images is not None:
        from dataperf.viz import load_image, to_display

        root = Path(image_root) if image_root is not None else images_dir.parent
        images_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for r, i in enumerate(proposal.indices):
            path = images_dir / f"{_file_stem(proposal.ids[r], int(i))}.png"
            image = load_image(images[int(i)])
            _save_png(to_display(image), path)
            paths.append(path)
    else:
        if proposal.ids.dtype.kind != "U":
            raise InputValueError(
                f"the pool ids are not file paths (got {describe(proposal.ids[0])}), so the "
                "images must be exported. Fix: pass images= (the pool images, indexable by "
                "pool position), or --pool as an image folder."
            )
        root = Path(image_root) if image_root is not None else Path.cwd()
        paths = confine_paths(list(proposal.ids), root, what="pool ids")
    root = root.resolve()
    refs = []
    for path in paths:
        try:
            relative = Path(path).resolve().relative_to(root)
        except ValueError:
            raise InputValueError(
                f"image {path} is not under the image root {root}. Fix: pass image_root "
                "(--image-root) as the folder the labelling tool serves, holding every image."
            ) from None
        refs.append(url_prefix + quote(relative.as_posix()))
    return refs


def _file_stem(pool_id: Any, index: int) -> str:
    """A file name for an exported image: the id made safe, and the pool index (unique)."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", str(pool_id))[-60:].strip("._") or "item"
    return f"{index:08d}_{text}"


def _save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    with atomic_file(path, "wb") as f:
        Image.fromarray(array).save(f, format="PNG")


def export_label_studio(
    proposal: Proposal,
    path: str | Path,
    *,
    images: Any = None,
    image_root: str | Path | None = None,
    url_prefix: str = LOCAL_FILES,
    blind: bool = False,
) -> tuple[Path, Path]:
    """Write the Label Studio tasks (``path``) and labelling config (``<stem>_config.xml``).

    Parameters
    ----------
    proposal : Proposal
    path : str or Path
        The tasks file (JSON); created with its folders, written atomically.
    images : indexable by pool position, optional
        The pool images (array, Dataset, list of arrays / PIL images / tensors); the proposed
        ones are written as PNG files into ``<stem>_images/`` next to ``path``. Without it,
        the pool ids must be image file paths.
    image_root : str or Path, optional
        The folder the labelling tool serves; each reference is ``url_prefix`` + the image's
        path under it. Default: the folder of ``path`` for exported images, else the current
        folder. No image outside it is referenced, symbolic links included.
    url_prefix : str
        Default :data:`LOCAL_FILES` (Label Studio's local file serving); a web server's URL
        (``"https://host/images/"``) otherwise.
    blind : bool
        No prediction, pre-annotation or explanation.

    Returns
    -------
    (tasks path, config path)
    """
    if not isinstance(proposal, Proposal):
        raise InputTypeError(f"proposal must be a Proposal; got {describe(proposal)}.")
    if not isinstance(url_prefix, str):
        raise InputTypeError(f"url_prefix must be a str; got {describe(url_prefix)}.")
    path = check_output_file(path)
    choices = proposal_choices(proposal)
    images_dir = path.with_name(f"{path.stem}_images")
    refs = _image_refs(proposal, images, image_root, url_prefix, images_dir)
    tasks = []
    for record, ref in zip(proposal.records(), refs, strict=True):
        data: dict[str, Any] = {
            "image": ref,
            "dataperf_id": record["id"],
            "rank": record["rank"],
        }
        if "bucket" in record:
            data["bucket"] = record["bucket"]
        task: dict[str, Any] = {"data": data}
        if not blind:
            predicted = choices[int(proposal.details["prediction"][record["index"]])]
            data["prediction"] = predicted
            data["explanation"] = record["explanation"]
            task["predictions"] = [
                {
                    "model_version": "dataperf",
                    "score": record["confidence"],
                    "result": [choice_result(predicted)],
                }
            ]
        tasks.append(task)
    atomic_write_text(path, json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    config = path.with_name(f"{path.stem}_config.xml")
    atomic_write_text(config, label_config(choices, blind=blind))
    return path, config


def choice_result(value: str) -> dict[str, Any]:
    """One Label Studio result choosing ``value`` in dataperf's labelling config."""
    return {
        "from_name": "label",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": [value]},
    }


def export_csv(
    proposal: Proposal,
    path: str | Path,
    *,
    images: Any = None,
    image_root: str | Path | None = None,
    url_prefix: str = "",
) -> Path:
    """Write ``id,image,label`` rows (``label`` empty) for any labelling tool or a
    spreadsheet: fill ``label`` with a class name or :data:`CANNOT_TELL` and read it back with
    :func:`dataperf.propose.labels.read_labels`. ``images``, ``image_root`` as in
    :func:`export_label_studio`; ``url_prefix`` default ``""`` (paths under ``image_root``)."""
    path = check_output_file(path)
    refs = _image_refs(
        proposal, images, image_root, url_prefix, path.with_name(f"{path.stem}_images")
    )
    with atomic_file(path, "w") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "image", "label"])
        writer.writerows([pid, ref, ""] for pid, ref in zip(_ids(proposal), refs, strict=True))
    return path
