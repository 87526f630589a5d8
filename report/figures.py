"""Figures on the page: a matplotlib figure as inline SVG, with its number and caption.

Only "nothing to draw" (``plots.NothingToDraw``) becomes a note on the page in place of
a figure; any other exception while drawing is a bug and propagates.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib as mpl
from markupsafe import Markup

from report import plots


@dataclass(frozen=True)
class FigureBlock:
    id: str
    number: str
    title: str
    caption: str
    svg: Markup  # empty where the figure cannot be drawn
    missing: str = ""  # why there is no figure


_ID = re.compile(r'\bid="([^"]+)"')
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def to_svg(fig: object, prefix: str, title: str) -> Markup:
    """A figure as an inline ``<svg>`` element whose ids cannot clash with another figure's."""
    buf = io.StringIO()
    with mpl.rc_context(plots.SVG_RC):  # read when saving: text as paths, stable ids
        fig.savefig(buf, format="svg", metadata={"Date": None})  # type: ignore[attr-defined]
    text = buf.getvalue()
    text = _COMMENT.sub("", text[text.index("<svg") :])
    for name in set(_ID.findall(text)):
        new = f"{prefix}-{name}"
        text = text.replace(f'id="{name}"', f'id="{new}"')
        text = text.replace(f'href="#{name}"', f'href="#{new}"')
        text = text.replace(f"url(#{name})", f"url(#{new})")
    start = text.index(">", text.index("<svg")) + 1
    label = Markup.escape(title)
    return Markup(
        text[: start - 1] + f' role="img" aria-label="{label}">' + f"<title>{label}</title>"
    ) + Markup(text[start:])


def figure(
    fid: str, number: str, words: tuple[str, str], draw: Callable[[], object], **fill: str
) -> FigureBlock:
    """Draw a figure, or say why there is nothing to draw; ``words``: (title, caption), with
    ``{name}`` fields filled from ``fill``."""
    title, caption = (w.format(**fill) for w in words)
    try:
        fig = draw()
    except plots.NothingToDraw as exc:
        return FigureBlock(fid, number, title, caption, Markup(""), f"Not drawn: {exc}.")
    return FigureBlock(fid, number, title, caption, to_svg(fig, fid, title))
