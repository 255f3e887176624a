"""Self-contained HTML pages: the shell, escaping, thumbnails and an interactive table.

The reports (:mod:`dataperf.propose.report`, :mod:`dataperf.curate.reports`) are single files
that open offline in any browser: the style and a small vanilla script are inline, images are
inline PNG data URIs, and a Content-Security-Policy forbids loading anything else.

Everything shown goes through :func:`escape`: ids, class names and explanations come from data
and may hold markup. Only :class:`Markup` (HTML this module built) passes through unchanged;
:func:`element` escapes every attribute and every child that is not :class:`Markup`, so a page
built from it cannot carry an unescaped value. JSON inside a ``<script>`` goes through
:func:`script_json`, which cannot close the script element.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from dataperf._files import atomic_write_text, check_output_file

__all__ = [
    "Column",
    "Markup",
    "Section",
    "Thumbnail",
    "element",
    "escape",
    "join",
    "key_values",
    "load_image",
    "number",
    "page",
    "percent",
    "plain",
    "script_json",
    "section",
    "table",
    "thumbnail",
    "thumbnails",
    "write_page",
]

THUMBNAIL_SIZE = 96
"""Thumbnails are downscaled so that their longer side is at most this many pixels."""


# --------------------------------------------------------------------------- escaping
class Markup(str):
    """HTML built by this module: :func:`escape` and :func:`element` pass it through as is."""


def escape(value: Any) -> Markup:
    """``value`` as text that shows as itself in HTML (``<``, ``>``, ``&``, quotes escaped).

    :class:`Markup` is returned unchanged; anything else is converted with ``str`` first.
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    """Concatenate ``parts``, escaping each that is not :class:`Markup`."""
    return Markup(escape(sep).join(escape(p) for p in parts))


def element(tag: str, *children: Any, **attrs: Any) -> Markup:
    """``<tag attrs>children</tag>`` with every attribute value and plain child escaped.

    Attribute names drop a trailing underscore (``class_``) and turn ``_`` into ``-``
    (``data_value``); ``True`` writes a bare attribute, ``None`` and ``False`` none. ``img``,
    ``input`` and ``meta`` are void elements (no children, no end tag).
    """
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(name if value is True else f'{name}="{escape(value)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in ("img", "input", "meta", "br"):
        return Markup(opening)
    return Markup(f"{opening}{join(children)}</{tag}>")


def plain(obj: Any) -> Any:
    """``obj`` with NumPy values, tuples and paths made JSON-ready (non-finite floats: None)."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def script_json(obj: Any) -> Markup:
    """JSON for inside ``<script type="application/json">``: it cannot end the element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026`` (so no ``</script>``
    or ``<!--`` can appear), and U+2028 / U+2029 their escapes; ``JSON.parse`` reads the same
    values back.
    """
    text = json.dumps(plain(obj), ensure_ascii=False, allow_nan=False, sort_keys=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --------------------------------------------------------------------------- thumbnails
@dataclass(frozen=True)
class Thumbnail:
    """An image as an inline PNG: ``uri`` (a ``data:image/png;base64,`` URI) and its size."""

    uri: str
    width: int
    height: int

    def tag(self, alt: Any = "", *, display: int = 56) -> Markup:
        """An ``<img>`` fitted into ``display`` CSS pixels (small images are enlarged with
        crisp pixels)."""
        scale = display / max(self.width, self.height)
        return element(
            "img",
            src=self.uri,
            alt=alt,
            width=max(1, round(self.width * scale)),
            height=max(1, round(self.height * scale)),
            class_="thumb pixelated" if scale > 1 else "thumb",
        )


def thumbnail(image: Any, *, size: int = THUMBNAIL_SIZE) -> Thumbnail:
    """One image (array, tensor or PIL image; see :func:`dataperf.viz.to_display`) as an inline
    PNG, downscaled so that its longer side is at most ``size`` pixels (never enlarged)."""
    from PIL import Image

    from dataperf.viz import to_display

    img = Image.fromarray(to_display(image))
    if max(img.size) > size:
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(uri, img.size[0], img.size[1])


_ROOT_FIX = (
    "pass image_root= the folder that holds the images (paths may be relative to it or "
    "absolute paths inside it), or pass the images themselves (arrays or PIL images)."
)
_NO_IMAGES = "replace or remove the file, or write the report without images"


def load_image(item: Any, *, image_root: str | os.PathLike[str] | None = None) -> Any:
    """:func:`dataperf.viz.load_image` with the report's root guard: a path must lie inside
    ``image_root`` (default: the current folder)."""
    from dataperf.viz import load_image as load

    root = Path.cwd() if image_root is None else image_root
    return load(item, root=root, root_fix=_ROOT_FIX, fix=_NO_IMAGES)


def thumbnails(
    images: Any,
    positions: Iterable[int],
    *,
    image_root: str | os.PathLike[str] | None = None,
    optional: Iterable[int] = (),
    size: int = THUMBNAIL_SIZE,
) -> dict[int, Thumbnail]:
    """:func:`thumbnail` of ``images[p]`` for each position ``p`` (each made once).

    ``images`` is indexable by position (a Dataset, array, list or dict); see
    :func:`load_image` for its elements. Positions in ``optional`` that ``images`` does not
    hold (``KeyError`` / ``IndexError``, e.g. a dict of the proposals' images only) are left
    out; the others must be there. Empty when ``images`` is None.
    """
    if images is None:
        return {}
    out: dict[int, Thumbnail] = {}
    for p in positions:
        p = int(p)
        if p not in out:
            out[p] = thumbnail(load_image(images[p], image_root=image_root), size=size)
    for p in optional:
        p = int(p)
        if p not in out:
            try:
                item = images[p]
            except (KeyError, IndexError):
                continue
            out[p] = thumbnail(load_image(item, image_root=image_root), size=size)
    return out


# --------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Column:
    """A table column.

    ``kind`` is ``"text"`` (sorted as text), ``"number"`` (sorted numerically; the raw value
    is kept in ``data-value``, missing values last) or ``"image"`` (a :class:`Thumbnail`, a
    list of them or None; not sortable). ``fmt`` turns a value into what is shown (a str,
    escaped, or :class:`Markup`). With ``category=True`` a select above the table filters on
    this column; ``choices`` orders its options (default: sorted values). ``wide`` gives
    long text room; ``sortable=False`` leaves the header plain.
    """

    name: str
    kind: str = "text"
    fmt: Callable[[Any], Any] | None = None
    title: str | None = None
    category: bool = False
    choices: Sequence[str] | None = None
    wide: bool = False
    sortable: bool = True


def number(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals (ints as they are); ``–`` when missing or not finite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return "–" if value is None else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{digits}f}" if math.isfinite(float(value)) else "–"


def percent(value: Any) -> str:
    """A share in [0, 1] as ``42%``; ``–`` when missing or not a finite number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return "–"
    return f"{100 * float(value):.0f}%" if math.isfinite(float(value)) else "–"


def _sort_value(value: Any) -> str | None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return None
    return repr(float(value)) if math.isfinite(float(value)) else None


def _cell(column: Column, value: Any) -> Markup:
    if column.kind == "image":
        thumbs = value if isinstance(value, (list, tuple)) else [value]
        return element("td", join(t.tag() for t in thumbs if t is not None), class_="img")
    shown = (
        column.fmt(value) if column.fmt else (number(value) if column.kind == "number" else value)
    )
    if column.kind == "number":
        return element("td", shown, class_="num", data_value=_sort_value(value))
    return element("td", shown, class_="wide" if column.wide else None)


def table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, label: str) -> Markup:
    """A table with a filter box (any text), a select for the category column (if any) and
    sortable headers (click: ascending; again: descending). ``label`` names it for screen
    readers and in the row count."""
    cat = next((j for j, c in enumerate(columns) if c.category), None)
    controls = [
        element(
            "input",
            type="search",
            class_="filter",
            placeholder="Filter rows (any text)",
            aria_label=f"Filter the {label}",
        )
    ]
    if cat is not None:
        present = {str(r[cat]) for r in rows}
        order = [c for c in (columns[cat].choices or sorted(present)) if c in present]
        counts = {c: sum(str(r[cat]) == c for r in rows) for c in order}
        options = [element("option", f"every {columns[cat].name}", value="")]
        options += [element("option", f"{c} ({counts[c]})", value=c) for c in order]
        controls.append(
            element("select", *options, class_="category", aria_label=f"{columns[cat].name}")
        )
    controls.append(element("span", f"{len(rows)} of {len(rows)} {label}", class_="count"))
    head = []
    for c in columns:
        if c.kind == "image" or not c.sortable:
            head.append(element("th", c.name, scope="col", title=c.title))
        else:
            button = element("button", c.name, type="button", title=c.title)
            head.append(element("th", button, scope="col", data_type=c.kind, class_="sortable"))
    body = []
    for row in rows:
        category = None if cat is None else str(row[cat])
        body.append(element("tr", *(_cell(c, v) for c, v in zip(columns, row)), data_cat=category))
    grid = element(
        "table",
        element("thead", element("tr", *head)),
        element("tbody", *body),
        aria_label=label,
    )
    return element(
        "div",
        element("div", *controls, class_="controls"),
        element("div", grid, class_="scroll"),
        class_="table-box",
        data_label=label,
    )


# --------------------------------------------------------------------------- page pieces
class Section(Markup):
    """A ``<section>`` built by :func:`section`; :func:`page` links to it from its header."""

    anchor: str
    title: str


def section(title: str, *content: Any, anchor: str, lead: Any = None) -> Section:
    """``<section id=anchor>`` with a heading, an optional lead paragraph and ``content``."""
    intro = element("p", lead, class_="lead") if lead is not None else ""
    out = Section(element("section", element("h2", title), intro, *content, id=anchor))
    out.anchor, out.title = anchor, title
    return out


def key_values(pairs: Iterable[tuple[Any, Any]], *, class_: str = "facts") -> Markup:
    """A definition list of ``(name, value)`` pairs (both escaped unless :class:`Markup`)."""
    items = [element("div", element("dt", k), element("dd", v)) for k, v in pairs]
    return element("dl", *items, class_=class_)


def page(
    title: str,
    *sections: Any,
    subtitle: Any = None,
    data: Any = None,
) -> str:
    """A complete HTML document: ``title``, a header with links to the sections, ``sections``
    and, when ``data`` is given, a machine-readable copy of it as JSON in
    ``<script type="application/json" id="report-data">``."""
    script = _asset("report.js")
    nav = [element("a", s.title, href=f"#{s.anchor}") for s in sections if isinstance(s, Section)]
    header = element(
        "header",
        element("h1", title),
        element("p", subtitle, class_="sub") if subtitle is not None else "",
        element("nav", *nav) if nav else "",
    )
    blob = (
        element("script", script_json(data), type="application/json", id="report-data")
        if data is not None
        else ""
    )
    footer = element(
        "footer",
        "Written by dataperf. This file is self-contained: it loads nothing "
        "from the network or disk; the data shown is also in the JSON block #report-data.",
    )
    head = join(
        [
            Markup('<meta charset="utf-8">'),
            element("meta", name="viewport", content="width=device-width, initial-scale=1"),
            element("meta", http_equiv="Content-Security-Policy", content=_csp(script)),
            element("title", title),
            element("style", Markup(_asset("report.css"))),
        ]
    )
    body = element(
        "body", header, element("main", *sections), footer, blob, element("script", Markup(script))
    )
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>{head}</head>\n{body}\n</html>\n'


def write_page(path: str | os.PathLike[str], document: str) -> Path:
    """Write ``document`` to ``path`` atomically (a reader sees the old file or the new one);
    return the path. Callers check ``path`` with ``check_output_file`` before their work."""
    return atomic_write_text(check_output_file(path, "report"), document)


@functools.cache
def _asset(name: str) -> str:
    return (resources.files("dataperf") / "assets" / name).read_text(encoding="utf-8")


def _csp(script: str) -> str:
    """Nothing may load from anywhere; the one inline script runs only if its hash matches."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
