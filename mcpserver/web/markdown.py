"""Snippet bodies as HTML: Markdown rendered with nothing in it that could run or phone out.

markdown-it-py (CommonMark, plus tables and strikethrough) with raw HTML off, so any tag in a
body shows as text. Links keep only ``http``, ``https`` and ``mailto`` targets and relative
ones, and open nothing with the library's referrer; images are not loaded (the pages load
nothing from third parties) but shown as a link to their address.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"


def is_safe_link(url: str) -> bool:
    """Whether a link target may be followed: a relative address or one of :data:`SAFE_SCHEMES`."""
    candidate = "".join(url.split()).lower()  # browsers ignore whitespace and control characters in schemes
    try:
        scheme = urlsplit(candidate).scheme
    except ValueError:
        return False
    return not scheme or scheme in SAFE_SCHEMES


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    token.attrSet("rel", LINK_REL)
    return self.renderToken(tokens, idx, options, env)


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """An image as a link to it, labelled with its alt text: nothing is fetched while reading."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    label = escape(f"image: {alt}")
    if not is_safe_link(src):
        return str(label)
    return f'<a class="md-image" href="{escape(src)}" rel="{LINK_REL}">{label}</a>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = is_safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


_MD = _parser()


def render_markdown(text: str) -> Markup:
    """``text`` (Markdown) as HTML that is safe to put in a page as it is."""
    return Markup(_MD.render(text))  # noqa: S704 - raw HTML is off, links checked: the output is ours
