"""Pictures of data: image grids (a preview of augmentations, a contact sheet of proposals)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._errors import InputValueError
from dataperf._files import atomic_file, check_output_file
from dataperf._validate import describe

__all__ = ["confine_paths", "image_grid", "load_image", "save_grid", "to_display"]


def to_display(image: Any) -> np.ndarray:
    """Convert one image to an (H, W, 3) uint8 array for display.

    Accepts (H, W), (H, W, C) or (C, H, W) NumPy arrays and torch tensors (C in 1, 3, 4), and
    PIL images. Float images in [0, 1] are scaled by 255; float images outside [0, 1] (e.g.
    after ``Normalize``) are min-max rescaled, per image, so they remain visible.
    """
    if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL
        array = np.asarray(image.convert("RGB"))
    else:
        array = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise InputValueError(
            f"cannot display {describe(image)}: expected (H, W), (H, W, C) or (C, H, W) "
            "with C in 1, 3, 4"
        )
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            array = (array - low) / (high - low) if high > low else np.zeros_like(array)
        array = np.round(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def image_grid(
    rows: Sequence[Sequence[Any]],
    *,
    cell: int = 96,
    pad: int = 4,
    background: int = 255,
    captions: Sequence[Sequence[str]] | None = None,
) -> Any:
    """Lay out ``rows`` of images as one PIL image; each image is resized to ``cell`` pixels.

    Parameters
    ----------
    rows : sequence of sequences of images
        Row ``r`` holds the images shown left to right (rows may differ in length).
    cell : int
        Side of each (square) cell in pixels; images keep their aspect ratio inside it.
    captions : sequence of sequences of str, optional
        A short text under each image, laid out like ``rows``.
    """
    from PIL import Image, ImageDraw

    if not rows or not any(len(row) for row in rows):
        raise InputValueError("image_grid needs at least one image; got an empty sequence of rows")
    ncols = max(len(row) for row in rows)
    text = 12 if captions is not None else 0  # caption line height in pixels
    width = ncols * cell + (ncols + 1) * pad
    height = len(rows) * (cell + text) + (len(rows) + 1) * pad
    sheet = Image.new("RGB", (width, height), (background,) * 3)
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            tile = Image.fromarray(to_display(image))
            scale = cell / max(tile.size)
            size = (max(1, round(tile.size[0] * scale)), max(1, round(tile.size[1] * scale)))
            tile = tile.resize(size, Image.Resampling.NEAREST)
            x = pad + c * (cell + pad) + (cell - size[0]) // 2
            y = pad + r * (cell + text + pad) + (cell - size[1]) // 2
            sheet.paste(tile, (x, y))
            if captions is not None and c < len(captions[r]):
                y_text = pad + r * (cell + text + pad) + cell
                draw.text((pad + c * (cell + pad), y_text), str(captions[r][c]), fill=(0, 0, 0))
    return sheet


def save_grid(rows: Sequence[Sequence[Any]], path: str | Path, **kwargs: Any) -> Path:
    """Save :func:`image_grid` of ``rows`` to ``path`` (format by extension); return the path.

    The file is written atomically: an interrupted run leaves the old file or the new one.
    """
    from PIL import Image

    path = check_output_file(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise InputValueError(
            f"cannot tell the image format of {path} from its extension {path.suffix!r}. Fix: "
            "end the path with .png (or another image extension, e.g. .jpg)."
        )
    grid = image_grid(rows, **kwargs)
    with atomic_file(path, "wb") as f:
        grid.save(f, format=fmt)
    return path


def confine_paths(
    ids: Iterable[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    *,
    what: str = "ids",
    fix: str | None = None,
) -> list[Path]:
    """Resolve file-path ``ids`` against ``root``, refusing any that lead outside it.

    Ids from a saved Signals folder or from data are untrusted: ``../../etc/x.png``, an
    absolute path, or a symbolic link inside ``root`` that points elsewhere would read files
    outside the folder the user meant. Each id is joined to ``root`` (an absolute id stays as
    it is), then resolved with every symbolic link followed; the result must lie inside the
    resolved ``root``.

    Parameters
    ----------
    ids : iterable of str or path-like
        Relative or absolute file paths.
    root : str or path-like
        The folder the files must lie in.
    what : str
        How the error names the ids (e.g. ``"pool ids"``).
    fix : str, optional
        The fix the error names; by default the command line's (``--image-root``).

    Returns
    -------
    list of Path
        The resolved paths, one per id, in order.

    Raises
    ------
    InputValueError
        For the first id that resolves outside ``root``, naming it, where it leads and the fix.
    """
    from dataperf._term import escape

    fix = fix or (
        "pass --image-root with the folder that holds the images (ids may be relative to it "
        "or absolute paths inside it), or check where these Signals came from."
    )
    base = Path(root).resolve()
    resolved = []
    for item in ids:
        path = (base / Path(item)).resolve()
        if not path.is_relative_to(base):
            raise InputValueError(
                f"{what}: {escape(item, newlines=False)!s} leads to {escape(path, newlines=False)}"
                f", outside the image root {base}; files outside it are not read. Fix: {fix}"
            )
        resolved.append(path)
    return resolved


def load_image(
    item: Any,
    *,
    root: str | os.PathLike[str] | None = None,
    root_fix: str | None = None,
    fix: str = "replace or remove the file",
) -> Any:
    """The image of one element of a pool: the first field of a tuple or list, the file read
    (RGB) from a path, or the element itself (an array, tensor or PIL image).

    With ``root``, a path must lie inside it (:func:`confine_paths`; ``root_fix`` is the fix
    that error names); without, a path is read as given. An unreadable file is an
    InputValueError that names it and ``fix``.
    """
    if isinstance(item, (tuple, list)):
        if not item:
            raise InputValueError("an element of images is an empty tuple; expected an image.")
        item = item[0]
    if not isinstance(item, (str, os.PathLike)):
        return item
    from PIL import Image, UnidentifiedImageError

    path = (
        Path(item)
        if root is None
        else confine_paths([item], root, what="image path", fix=root_fix)[0]
    )
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError) as err:
        raise InputValueError(f"cannot read image {path}: {err}. Fix: {fix}.") from None
