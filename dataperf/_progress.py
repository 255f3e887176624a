"""Progress of long loops: a tqdm bar on a terminal, plain lines in a log.

A tqdm bar redraws itself with carriage returns, which fill a log file (stderr redirected, a
batch job, CI) with hundreds of overwritten lines. :func:`progress` shows the bar only when
stderr is a terminal; otherwise it writes a plain line about every 10% of the work or every
30 seconds, whichever comes first, and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

__all__ = ["progress"]

T = TypeVar("T")


def progress(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    enabled: bool = True,
    every_seconds: float = 30.0,
    leave: bool = False,
    file: IO[str] | None = None,
) -> Iterable[T]:
    """``items``, reporting progress on stderr while they are consumed.

    Parameters
    ----------
    items : iterable
        The loop's iterable; yielded unchanged.
    total : int, optional
        How many items there are (default: ``len(items)`` when it has one).
    desc, unit : str
        What is counted, e.g. ``desc="probe", unit="batch"``.
    enabled : bool, default True
        False returns ``items`` as they are: no output at all.
    every_seconds : float, default 30
        Off a terminal, the longest time between two lines.
    leave : bool, default False
        On a terminal, keep the finished bar on screen.
    file : text stream, optional
        Where to write (default: ``sys.stderr`` at the time of the call).

    Returns
    -------
    iterable
        A tqdm bar over ``items`` on a terminal; otherwise a generator that writes lines such
        as ``probe: 40/100 batch (40%), 12.0 s`` with no carriage return.
    """
    if not enabled:
        return items
    stream = sys.stderr if file is None else file
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if _is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(items, total=total, desc=desc, unit=unit, leave=leave, file=stream)
    return _lines(items, total, desc, unit, every_seconds, stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _lines(
    items: Iterable[T], total: int | None, desc: str, unit: str, every: float, stream: IO[str]
) -> Iterator[T]:
    start = last = time.monotonic()
    step = max(1, -(-total // 10)) if total else None  # ~10% of the work
    done = written = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if (step is not None and done // step > written // step) or now - last >= every:
            _write(stream, desc, done, total, unit, now - start)
            last, written = now, done
    if done != written:  # the end, when it was not just reported
        _write(stream, desc, done, total, unit, time.monotonic() - start)


def _write(stream: IO[str], desc: str, done: int, total: int | None, unit: str, sec: float) -> None:
    share = f"/{total} {unit} ({done / total:.0%})" if total else f" {unit}"
    stream.write(f"{desc}: {done}{share}, {sec:.1f} s\n")
    stream.flush()
