"""Make untrusted text safe to print on a terminal.

Ids, file paths and class names come from data and saved Signals folders, which anyone may
have written. Printed raw, control characters in them act on the terminal: ESC starts escape
sequences (colours, cursor moves, window titles, hyperlinks), CR overwrites a line, BEL rings,
C1 controls (U+0080-U+009F) act like ESC on some terminals, and bidirectional overrides
(U+202A-U+202E, U+2066-U+2069) make text display in another order than it is stored.
:func:`escape` replaces each such character by a visible escape, so the text shows what it
holds and changes nothing on the screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["EscapingWriter", "escape", "escaping_showwarning"]

# C0 controls but tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates, the
# bidi marks, line/paragraph separators, and BOM/zero-width no-break space.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_UNSAFE_LINES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: object, *, newlines: bool = True) -> str:
    """``str(text)`` with every terminal control character shown as an escape (``\\x1b``).

    Parameters
    ----------
    text : object
        What to print; converted with ``str``.
    newlines : bool, default True
        Keep newlines and tabs (for multi-line messages). With False they are escaped too,
        for values that must stay on one line (an id, a path).

    Returns
    -------
    str
        The text, printable: ESC becomes ``\\x1b``, CR ``\\x0d``, a bidi override
        ``\\u202e``, and so on; other characters, including non-ASCII letters, are kept.
    """
    pattern = _UNSAFE if newlines else _UNSAFE_LINES
    return pattern.sub(_visible, str(text))


class EscapingWriter:
    """A text stream that passes everything written through :func:`escape` (newlines kept).

    ``contextlib.redirect_stdout(EscapingWriter(sys.stdout))`` makes every ``print`` of a
    command safe, whatever data-derived string it holds.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(escape(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno, ...
        return getattr(self.stream, name)


def escaping_showwarning(show: Callable[..., Any]) -> Callable[..., Any]:
    """A ``warnings.showwarning`` that escapes the message, then calls ``show``."""

    def showwarning(message: Any, category: Any, *args: Any, **kwargs: Any) -> Any:
        return show(escape(message), category, *args, **kwargs)

    return showwarning
