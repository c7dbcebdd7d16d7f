"""Untrusted names (labels, licence values) in the card's Markdown, shown as they are.

A label is whatever a folder, CSV cell or dataset feature says: ``a|b`` splits a table cell, a line
break ends the table or starts a heading, ``<img …>`` is raw HTML on the Hub, ``*`` and ``[`` are
emphasis and links. :func:`text` makes a name safe as a table cell or inside a line, :func:`code` as a
code span; both show line breaks and other non-printables as Python escapes (``\\n``), as the terminal
does (:func:`builder.errors.one_line`). Code blocks print names with ``repr`` and need neither.
"""

from __future__ import annotations

import re

from ..errors import one_line

# CommonMark escapes any ASCII punctuation with a backslash; these are the ones that can start
# markup inside a line or table cell (GFM: | cells, ~ strikethrough; the Hub: $ math). "_" only
# where it can open or close emphasis, so that snake_case names keep their bytes.
_MARKUP = re.compile(r"[\\`*\[\]<>&|~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def text(name: str) -> str:
    """``name`` as literal text in a Markdown line or table cell: one line, no markup, no HTML."""
    return _MARKUP.sub(lambda m: "\\" + m.group(0), one_line(name))


def code(name: str) -> str:
    """``name`` as an inline code span (its own backticks), one line: fenced by more backticks than
    it holds in a row, padded with a space where it starts or ends with one."""
    shown = one_line(name)
    fence = "`" * (max(map(len, re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"
