"""Shared pieces of the HTML report tests: a small proposal with hostile strings, and a parser."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np

from dataperf.propose.proposal import Proposal
from dataperf.propose.sampler import HardnessSampler
from dataperf.signals import Signals

XSS_ID = "<img src=x onerror=alert(1)>"
XSS_CLASS = "</script><b>dog</b>"
CLASSES = ["cat", XSS_CLASS, "bird & co"]
K = 12

YIELD = {
    "yield": {"value": 0.42, "low": 0.30, "high": 0.55, "hits": 21, "n": 50},
    "per_class": {
        "cat": {"value": 0.5, "low": 0.2, "high": 0.8, "hits": 5, "n": 10},
        XSS_CLASS: {"value": 0.25, "low": 0.05, "high": 0.6, "hits": 2, "n": 8},
    },
    "counts": {"labelled": 40, "cannot_tell": 8, "no_majority": 1, "unlabelled": 1},
    "agreement": {"mean": 0.93, "items_with_disagreement": 3, "annotations": 120},
}


def small_proposal(k: int = K, seed: int = 0) -> Proposal:
    """HardnessSampler on three Gaussian classes; the first proposal's id is markup."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 8)) * 3

    def make(n: int, labelled: bool, ids: np.ndarray | None = None) -> Signals:
        y = rng.integers(0, 3, n)
        x = centres[y] + rng.normal(size=(n, 8)) * 1.5
        logits = x @ centres.T / 3
        p = np.exp(logits - logits.max(1, keepdims=True))
        return Signals(
            probs=p / p.sum(1, keepdims=True),
            embeddings=x,
            labels=y if labelled else None,
            ids=ids,
            meta={"classes": CLASSES},
        )

    train, test = make(300, True), make(150, True)
    pool = make(200, False, np.array([f"item_{i:03d}.png" for i in range(200)]))
    proposal = HardnessSampler(k).propose(pool, test=test, train=train)
    ids = proposal.ids.astype(object)
    ids[0] = XSS_ID
    return replace(proposal, ids=ids)


def pool_images(n: int = 200, seed: int = 0) -> np.ndarray:
    """(n, 120, 160, 3) uint8 images: large enough that thumbnails must be downscaled."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 120, 160, 3), dtype=np.uint8)


class Page(HTMLParser):
    """Every start tag with its attributes, the text outside script/style, script bodies."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in: str | None = None
        self._attrs: dict[str, str | None] = {}
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in, self._attrs = tag, dict(attrs)

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts.append((self._attrs, data))
        elif self._in is None:
            self.text.append(data)

    def all_text(self) -> str:
        return "".join(self.text)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in want.items())]

    def data(self) -> dict:
        (body,) = [b for a, b in self.scripts if a.get("id") == "report-data"]
        return json.loads(body)
