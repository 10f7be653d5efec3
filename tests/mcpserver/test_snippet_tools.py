"""Snippet tools through the real MCP client, on SQLite and Postgres: save, get, update, share, delete.

Every save writes the snippet, a complete ``snippet_versions`` row and an audit event in
one transaction; a stale ``expected_version`` is a conflict, not a lost update.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import make_engine
from shared.models import AuditEvent, Snippet, SnippetVersion
from tests.mcpserver.harness import McpHarness, call, fails, text_of


def _admin_rows(harness: McpHarness, query: Any) -> list[Any]:
    engine = make_engine(harness.settings.admin_database_url)
    try:
        with Session(engine) as session:
            return list(session.execute(query))
    finally:
        engine.dispose()


async def _workspace(client: Any, name: str = "Team") -> str:
    return str((await call(client, "create_workspace", name=name))["id"])


async def test_save_then_get_round_trips_every_field(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        saved = await call(
            client,
            "save_snippet",
            workspace_id=ws,
            title="  Code review checklist ",
            body="1. Tests\n2. Names",
            description="Before approving",
            tags=["Review", "checklist", "review"],
            visibility="private",
        )
        assert saved["title"] == "Code review checklist"
        assert saved["slug"] == "code-review-checklist"
        assert saved["tags"] == ["review", "checklist"]
        assert (saved["visibility"], saved["version"], saved["mine"], saved["can_edit"]) == ("private", 1, True, True)

        by_id = await client.call_tool("get_snippet", {"id": saved["id"]})
        assert by_id.structured_content == saved
        assert "1. Tests" in text_of(by_id)  # the readable text block carries the body
        by_slug = await call(client, "get_snippet", workspace_id=ws, slug="code-review-checklist")
        assert by_slug == saved

    versions = _admin_rows(harness, select(SnippetVersion).where(SnippetVersion.snippet_id == uuid.UUID(saved["id"])))
    assert len(versions) == 1
    (version,) = (row[0] for row in versions)
    assert (version.version, version.title, version.body, version.tags, version.visibility) == (
        1,
        "Code review checklist",
        "1. Tests\n2. Names",
        ["review", "checklist"],
        "private",
    )
    assert (version.description, version.variables, version.author_id) == ("Before approving", [], ada)
    actions = [row[0] for row in _admin_rows(harness, select(AuditEvent.action).order_by(AuditEvent.id))]
    assert actions == ["workspace.create", "snippet.create"]


async def test_update_changes_only_the_given_fields_and_keeps_every_version(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        first = await call(client, "save_snippet", workspace_id=ws, title="Tone", body="Be kind.", tags=["style"])
        second = await call(client, "save_snippet", id=first["id"], body="Be kind and brief.", message="shorter")
        assert (second["version"], second["title"], second["body"], second["tags"]) == (
            2,
            "Tone",
            "Be kind and brief.",
            ["style"],
        )
        third = await call(client, "save_snippet", id=first["id"], expected_version=2, title="Tone of voice")
        assert (third["version"], third["body"]) == (3, "Be kind and brief.")

    rows = _admin_rows(
        harness,
        select(SnippetVersion.version, SnippetVersion.title, SnippetVersion.body, SnippetVersion.message)
        .where(SnippetVersion.snippet_id == uuid.UUID(first["id"]))
        .order_by(SnippetVersion.version),
    )
    assert [tuple(r) for r in rows] == [
        (1, "Tone", "Be kind.", "created"),
        (2, "Tone", "Be kind and brief.", "shorter"),
        (3, "Tone of voice", "Be kind and brief.", ""),
    ]


async def test_stale_expected_version_is_a_conflict_not_a_lost_update(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        snippet = await call(client, "save_snippet", workspace_id=ws, title="T", body="v1")
        await call(client, "save_snippet", id=snippet["id"], expected_version=1, body="ada's edit")
        error = await fails(client, "save_snippet", id=snippet["id"], expected_version=1, body="bob's edit")
        assert "conflict" in error and "version 2" in error
        assert (await call(client, "get_snippet", id=snippet["id"]))["body"] == "ada's edit"


async def test_concurrent_saves_lose_no_version(harness: McpHarness) -> None:
    """Many saves of one snippet at once: every one gets its own version, none overwrites another's row."""
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        snippet = await call(client, "save_snippet", workspace_id=ws, title="T", body="v1")
        results = await asyncio.gather(
            *(client.call_tool("save_snippet", {"id": snippet["id"], "body": f"edit {i}"}) for i in range(8))
        )
        versions = sorted(r.structured_content["version"] for r in results if r.structured_content)
        errors = [text_of(r) for r in results if r.is_error]
        assert all("conflict" in e for e in errors), errors
        assert versions == list(range(2, 2 + len(versions)))
        final = await call(client, "get_snippet", id=snippet["id"])
    rows = _admin_rows(
        harness, select(SnippetVersion.version).where(SnippetVersion.snippet_id == uuid.UUID(final["id"]))
    )
    assert sorted(r[0] for r in rows) == list(range(1, final["version"] + 1))


async def test_share_changes_visibility_and_records_a_version(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        snippet = await call(client, "save_snippet", workspace_id=ws, title="T", body="b", visibility="private")
        shared = await call(client, "share_snippet", id=snippet["id"], visibility="public")
        assert (shared["visibility"], shared["version"]) == ("public", 2)
        again = await call(client, "share_snippet", id=snippet["id"], visibility="public")
        assert again["version"] == 2  # nothing changed, no new version
    async with harness.client(bob) as client:
        assert (await call(client, "get_snippet", id=snippet["id"]))["can_edit"] is False
    events = _admin_rows(harness, select(AuditEvent.action, AuditEvent.details).order_by(AuditEvent.id))
    assert events[-1][0] == "snippet.share" and events[-1][1]["visibility"] == "public"  # who may now see it


async def test_delete_removes_the_snippet_and_its_versions(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        snippet = await call(client, "save_snippet", workspace_id=ws, title="T", body="b")
        assert await call(client, "delete_snippet", id=snippet["id"]) == {"id": snippet["id"], "deleted": True}
        assert "not found" in await fails(client, "get_snippet", id=snippet["id"])
        assert "not found" in await fails(client, "delete_snippet", id=snippet["id"])
    assert _admin_rows(harness, select(Snippet.id)) == []
    assert _admin_rows(harness, select(SnippetVersion.snippet_id)) == []


async def test_slugs_are_unique_per_workspace(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws, other = await _workspace(client, "One"), await _workspace(client, "Two")
        first = await call(client, "save_snippet", workspace_id=ws, title="Daily standup", body="b")
        derived = await call(client, "save_snippet", workspace_id=ws, title="Daily Standup!", body="b")
        assert derived["slug"].startswith("daily-standup-") and derived["slug"] != first["slug"]
        elsewhere = await call(client, "save_snippet", workspace_id=other, title="Daily standup", body="b")
        assert elsewhere["slug"] == "daily-standup"
        error = await fails(client, "save_snippet", workspace_id=ws, title="X", body="b", slug="daily-standup")
        assert "conflict" in error and "slug" in error
        error = await fails(client, "save_snippet", id=derived["id"], slug="daily-standup")
        assert "conflict" in error and "slug" in error


async def test_bad_arguments_are_tool_errors_naming_the_field(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"workspace_id": ws, "title": " ", "body": "b"}, "invalid title"),
            ({"workspace_id": ws, "title": "t"}, "invalid body"),
            ({"title": "t", "body": "b"}, "invalid workspace_id"),
            ({"workspace_id": ws, "title": "t", "body": "b", "slug": "Not A Slug"}, "invalid slug"),
            ({"workspace_id": ws, "title": "t", "body": "b", "tags": ["x" * 41]}, "invalid tags"),
            ({"workspace_id": ws, "title": "t", "body": "b", "visibility": "secret"}, "visibility"),
            ({"workspace_id": "not-a-uuid", "title": "t", "body": "b"}, "workspace_id"),
            ({"workspace_id": ws, "title": "t" * 201, "body": "b"}, "title"),
            ({"workspace_id": ws, "title": "t", "body": "b", "expected_version": 1}, "invalid expected_version"),
            ({"id": str(uuid.uuid4()), "workspace_id": ws}, "invalid workspace_id"),
        ]
        for arguments, expected in cases:
            assert expected in await fails(client, "save_snippet", **arguments), arguments
        assert "invalid id" in await fails(client, "get_snippet")
        assert "invalid cursor" in await fails(client, "list_snippets", cursor="garbage")
        assert "limit" in await fails(client, "list_snippets", limit=0)
        # A workspace the caller is not in answers like a missing one.
        assert "not found: no workspace" in await fails(
            client, "save_snippet", workspace_id=str(uuid.uuid4()), title="t", body="b"
        )


async def test_text_that_looks_like_json_is_kept_as_text(harness: McpHarness) -> None:
    """A body, title or description such as `{"a": 1}`, `[1]`, `true` or `null` is text, not JSON to parse."""
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client)
        saved = await call(client, "save_snippet", workspace_id=ws, title="[1, 2]", body='{"a": 1}', description="true")
        assert (saved["title"], saved["description"]) == ("[1, 2]", "true")
        assert (await call(client, "get_snippet", id=saved["id"]))["body"] == '{"a": 1}'
        updated = await call(client, "save_snippet", id=saved["id"], body="null", expected_version=1)
        assert updated["version"] == 2
        assert (await call(client, "get_snippet", id=saved["id"]))["body"] == "null"
