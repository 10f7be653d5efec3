"""Ranked full-text search over the snippets a user can read.

One query language for both databases, the one of Postgres' ``websearch_to_tsquery``
reduced to what FTS5 can say too: words (all must occur; English stemming),
``"quoted phrases"``, ``or`` between alternatives, ``-word`` to exclude.

- Postgres: ``snippets.search`` (tsvector; title A, tags B, description and body C) with a
  GIN index, ranked by ``ts_rank``. The ``@@`` operator is LEAKPROOF in our databases
  (migration 0004), so the index is used under row-level security too.
- SQLite: the FTS5 table ``snippets_fts`` ranked by ``bm25`` with the same column weights.

Results come best first, with keyset pages on (rank, id), and an excerpt of the body with
the matching words between ``«`` and ``»``. Visibility is the same filter as listing
(``snippets.readable_by``), and RLS again on Postgres.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Select, and_, cast, column, func, literal, literal_column, or_, select, table
from sqlalchemy.dialects.postgresql import REAL, REGCONFIG, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mcpserver.repository.snippets import SUMMARY, Filters, SnippetSummary, readable_by, with_tags
from shared.models import Snippet

START, STOP, ELLIPSIS = "«", "»", " … "
CONFIG = "english"
HEADLINE = f'StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter="{ELLIPSIS}"'
SQLITE_WEIGHTS = (10.0, 4.0, 2.0, 2.0)  # title, tags, description, body: ts_rank's 1.0, 0.4, 0.2, 0.2

_Query = Select[*tuple[Any, ...]]
_search_vector = literal_column("snippets.search", TSVECTOR)
_fts = table("snippets_fts", column("rowid"))
_fts_rows = table("snippets_fts_rows", column("id"), column("snippet_id", Snippet.id.type))
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    snippet: SnippetSummary
    rank: float
    excerpt: str


@dataclass(frozen=True)
class After:
    """Where a page of results ends: its last (rank, id), both descending."""

    rank: float
    id: uuid.UUID


async def search(
    session: AsyncSession, user_id: uuid.UUID, query: str, filters: Filters, *, after: After | None, limit: int
) -> tuple[list[Hit], After | None]:
    """One page of the readable snippets matching ``query``, best first; where the next page starts."""
    if session.get_bind().dialect.name == "postgresql":
        statement = _postgres(session, user_id, query, filters, after, limit + 1)
    else:
        match = fts5_query(query)
        if match is None:
            return [], None
        statement = _sqlite(session, user_id, match, filters, after, limit + 1)
    rows = (await session.execute(statement)).all()
    hits = [Hit(SnippetSummary(*row[: len(SUMMARY)]), float(row.rank), row.excerpt or "") for row in rows[:limit]]
    more = len(rows) > limit and hits
    return hits, (After(hits[-1].rank, hits[-1].snippet.id) if more else None)


def _filtered(session: AsyncSession, query: _Query, user_id: uuid.UUID, filters: Filters) -> _Query:
    query = query.where(readable_by(user_id))
    if filters.workspace_id is not None:
        query = query.where(Snippet.workspace_id == filters.workspace_id)
    return with_tags(session, query, filters.tags) if filters.tags else query


def _keyset(rank: ColumnElement[float], after: After | None, rank_type: Any = None) -> ColumnElement[bool] | None:
    """Rows after ``after`` in (rank, id) descending order; ``rank_type`` compares the rank at its own
    precision (``ts_rank`` is a ``real``: psycopg reads one as its shortest decimal, which as a
    double is not the same number)."""
    if after is None:
        return None
    bound = cast(literal(after.rank), rank_type) if rank_type is not None else literal(after.rank)
    return or_(rank < bound, and_(rank == bound, Snippet.id < after.id))


def _postgres(
    session: AsyncSession, user_id: uuid.UUID, text: str, filters: Filters, after: After | None, limit: int
) -> _Query:
    """Best matches first; the excerpt (ts_headline, costly) only for the rows of the page."""
    tsquery = func.websearch_to_tsquery(literal(CONFIG, REGCONFIG), text)
    rank = func.ts_rank(_search_vector, tsquery, type_=Float)
    inner = _filtered(session, select(*SUMMARY, Snippet.body, rank.label("rank")), user_id, filters).where(
        _search_vector.op("@@")(tsquery)
    )
    if (position := _keyset(rank, after, REAL)) is not None:
        inner = inner.where(position)
    page = inner.order_by(rank.desc(), Snippet.id.desc()).limit(limit).subquery("page")
    excerpt = func.ts_headline(literal(CONFIG, REGCONFIG), page.c.body, tsquery, HEADLINE)
    columns = [page.c[c.key] for c in SUMMARY]
    return select(*columns, page.c.rank, excerpt.label("excerpt")).order_by(page.c.rank.desc(), page.c.id.desc())


def _sqlite(
    session: AsyncSession, user_id: uuid.UUID, match: str, filters: Filters, after: After | None, limit: int
) -> _Query:
    fts: ColumnElement[Any] = literal_column("snippets_fts")
    rank = (-func.bm25(fts, *SQLITE_WEIGHTS)).label("rank")
    excerpt = func.snippet(fts, 3, START, STOP, ELLIPSIS, 24)
    query: _Query = (
        select(*SUMMARY, rank, excerpt.label("excerpt"))
        .select_from(_fts)
        .join(_fts_rows, _fts_rows.c.id == _fts.c.rowid)
        .join(Snippet, Snippet.id == _fts_rows.c.snippet_id)
        .where(fts.op("MATCH")(match))
    )
    query = _filtered(session, query, user_id, filters)
    if (position := _keyset(-func.bm25(fts, *SQLITE_WEIGHTS), after)) is not None:
        query = query.where(position)
    return query.order_by(rank.desc(), Snippet.id.desc()).limit(limit)


def fts5_query(text: str) -> str | None:
    """The FTS5 form of a search: every word quoted (no FTS5 syntax gets through), phrases kept,
    ``or`` between alternatives, ``-`` terms excluded. None when nothing is left to search for."""
    included: list[str] = []
    excluded: list[str] = []
    for negated_phrase, phrase, word in _TOKEN.findall(text):
        if word.lower() == "or":
            if included and included[-1] != "OR":
                included.append("OR")
            continue
        negated = bool(negated_phrase) or word.startswith("-")
        terms = _WORD.findall(phrase or word)
        if not terms:
            continue
        quoted = '"' + " ".join(terms) + '"'
        (excluded if negated else included).append(quoted)
    while included and included[-1] == "OR":
        included.pop()
    if not included:
        return None
    match = " ".join(included)
    return f"({match})" + "".join(f" NOT {term}" for term in excluded) if excluded else match
