"""Search results with their matches highlighted, built so no text of a snippet becomes markup.

The repository marks matches in an excerpt between ``«`` and ``»`` (``repository.search``);
here every piece of text is escaped first and only then are the pairs of marks turned into
``<mark>`` elements. A mark without its partner (a body may contain ``«`` itself) stays text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

from mcpserver.repository.search import START, STOP

_WORD = re.compile(r"\w+")
_PAIR = re.compile(re.escape(START) + r"([^" + START + STOP + r"]*)" + re.escape(STOP))


def highlight_excerpt(excerpt: str) -> Markup:
    """An excerpt from the search with each ``«match»`` as ``<mark>match</mark>``, everything escaped."""
    parts: list[str] = []
    position = 0
    for pair in _PAIR.finditer(excerpt):
        parts.append(str(escape(excerpt[position : pair.start()])))
        parts.append(f"<mark>{escape(pair.group(1))}</mark>")
        position = pair.end()
    parts.append(str(escape(excerpt[position:])))
    return Markup(" ".join("".join(parts).split()))  # noqa: S704 - every piece was escaped above


def query_words(query: str) -> list[str]:
    """The words a search looks for (not the excluded ``-word`` ones, nor ``or``), lower-cased."""
    words: list[str] = []
    for token in re.findall(r'-?"[^"]*"|\S+', query):
        if token.startswith("-") or token.lower() == "or":
            continue
        for word in _WORD.findall(token):
            if word.lower() not in words:
                words.append(word.lower())
    return words


def highlight_words(text: str, words: Iterable[str]) -> Markup:
    """``text`` escaped, each word starting with one of ``words`` wrapped in ``<mark>``.

    A word matches by prefix or by a rough English stem, so that ``deploy`` marks ``deploying``
    and ``deploying`` marks ``Deploy``, as the search's stemming found them (an approximation:
    the excerpt's marks come from the database itself).
    """
    prefixes = tuple(w.lower() for w in words if w)
    stems = {_stem(w) for w in prefixes}
    parts: list[str] = []
    position = 0
    for word in _WORD.finditer(text):
        parts.append(str(escape(text[position : word.start()])))
        piece = escape(word.group(0))
        lower = word.group(0).lower()
        hit = bool(prefixes) and (lower.startswith(prefixes) or _stem(lower) in stems)
        parts.append(f"<mark>{piece}</mark>" if hit else piece)
        position = word.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))  # noqa: S704 - every piece was escaped above


_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
