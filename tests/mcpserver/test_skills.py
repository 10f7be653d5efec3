"""The library as Agent Skills (SEP-2640): declaration, listing, retrieval, reads, folders.

Everything goes through the official ``mcp`` client against the real server, on SQLite and
on Postgres (where RLS confines the MCP role as well).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Any

import httpx
import pytest
import yaml
from mcp.shared.exceptions import MCPError
from mcp_types import BlobResourceContents, TextResourceContents

from mcpserver.skills import catalog
from tests.mcpserver.harness import McpHarness, call
from tests.mcpserver.skills_client import list_all_skills, request

MODERN = "2026-07-28"
NAME_RULE = re.compile(r"^(?!.*--)[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def read_text(client: Any, uri: str) -> TextResourceContents:
    contents = (await client.read_resource(uri)).contents[0]
    assert isinstance(contents, TextResourceContents), uri
    return contents


async def refusal(client: Any, method: str, **params: Any) -> tuple[int, str]:
    with pytest.raises(MCPError) as refused:
        if method == "resources/read":
            await client.read_resource(params["uri"])
        else:
            await request(client, method, **params)
    return refused.value.code, refused.value.message


async def test_extension_is_declared_inline_with_directory_read(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada, mode=MODERN) as client:
        discovered = await request(client, "server/discover")
    capabilities = discovered["capabilities"]
    assert capabilities["extensions"]["io.modelcontextprotocol/skills"] == {"directoryRead": True}
    assert isinstance(capabilities["resources"], dict)  # skill files are resources


async def test_every_snippet_the_caller_can_read_is_a_skill_and_nothing_else(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(bob) as client:
        theirs = (await call(client, "create_workspace", name="Theirs"))["id"]
        await call(client, "save_snippet", workspace_id=theirs, title="Shared to all", body="b", visibility="public")
        await call(client, "save_snippet", workspace_id=theirs, title="Team only", body="b")
    async with harness.client(ada) as client:
        ours = (await call(client, "create_workspace", name="Docs"))["id"]
        await call(client, "save_snippet", workspace_id=ours, title="Team notes", body="b")
        await call(client, "save_snippet", workspace_id=ours, title="My draft", body="b", visibility="private")
        entries, _ = await list_all_skills(client)
        uris = sorted(entry["uri"] for entry in entries)
        # A public skill of a workspace Ada is not in is named by its id: its slug is not hers to see.
        assert uris == sorted(
            [
                f"skill://{theirs}/shared-to-all/SKILL.md",
                "skill://docs/my-draft/SKILL.md",
                "skill://docs/team-notes/SKILL.md",
            ]
        )
        foreign = await request(client, "skills/get", uri=f"skill://{theirs}/shared-to-all/SKILL.md")
        assert foreign["skill"]["frontmatter"]["metadata"]["workspace"] == theirs
    async with harness.client(bob) as client:
        entries, _ = await list_all_skills(client)
        assert sorted(entry["uri"] for entry in entries) == [
            "skill://theirs/shared-to-all/SKILL.md",
            "skill://theirs/team-only/SKILL.md",
        ]


async def test_skill_names_follow_the_naming_rules_and_come_stably_from_the_slug(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    long_slug = "a-rather-long-snippet-slug-that-goes-on-and-on-well-past-sixty-four-chars"
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        await call(client, "save_snippet", workspace_id=ws, title="Deploy", body="b", slug="deploy-checklist")
        await call(client, "save_snippet", workspace_id=ws, title="Long", body="b", slug=long_slug)
        first, _ = await list_all_skills(client)
        second, _ = await list_all_skills(client)
        names = sorted(entry["frontmatter"]["name"] for entry in first)
        assert names == sorted(entry["frontmatter"]["name"] for entry in second)
        assert "deploy-checklist" in names
        hashed = next(name for name in names if name != "deploy-checklist")
        assert len(hashed) <= 64 and hashed.startswith(long_slug[:40])
        for entry in first:
            assert NAME_RULE.match(entry["frontmatter"]["name"])
            assert entry["uri"].split("/")[-2] == entry["frontmatter"]["name"]
            # Found again by its URI, also when the name is not the slug itself.
            assert (await request(client, "skills/get", uri=entry["uri"]))["skill"] == entry


async def test_front_matter_carries_description_and_metadata_verbatim(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        described = await call(
            client,
            "save_snippet",
            workspace_id=ws,
            title="Release notes",
            body='Write the notes for {{version}}: it\'s: "quoted"',
            description="When a release is cut.",
            tags=["release", "notes"],
        )
        bare = await call(
            client, "save_snippet", workspace_id=ws, title="Stand-up", body="Yesterday,\ntoday,\nblockers."
        )
        for snippet in (described, bare):
            uri = f"skill://docs/{snippet['slug']}/SKILL.md"
            entry = (await request(client, "skills/get", uri=uri))["skill"]
            text = (await read_text(client, uri)).text
            header = yaml.safe_load(text.split("---\n")[1])
            assert entry["frontmatter"] == header  # the verbatim front matter, as JSON
            assert text.endswith(snippet["body"].rstrip("\n") + "\n")  # the body is the snippet's Markdown
    metadata = (await _entry(harness, ada, f"skill://docs/{described['slug']}/SKILL.md"))["frontmatter"]
    assert metadata["description"] == "When a release is cut."
    assert metadata["metadata"]["tags"] == "release, notes"
    assert metadata["metadata"]["version"] == "1"
    assert metadata["metadata"]["workspace"] == "docs"
    assert metadata["metadata"]["updated"] == described["updated_at"]
    assert metadata["metadata"]["author"] == "ada"  # the creator's display name
    fallback = (await _entry(harness, ada, f"skill://docs/{bare['slug']}/SKILL.md"))["frontmatter"]
    assert fallback["description"] == "Stand-up: Yesterday, today, blockers."


async def test_the_author_is_the_creators_name_as_members_see_it(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com", "Ada Lovelace"), harness.add_user("bob@example.com", "Bob")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Team"))["id"]
        await call(client, "invite_to_workspace", workspace_id=ws, email="bob@example.com")
    async with harness.client(bob) as client:
        await call(client, "save_snippet", workspace_id=ws, title="By Bob", body="b")
        own = (await call(client, "create_workspace", name="Bobs"))["id"]
        await call(client, "save_snippet", workspace_id=own, title="Public", body="p", visibility="public")

    async def author(uri: str) -> str | None:
        return (await _entry(harness, ada, uri))["frontmatter"]["metadata"].get("author")  # type: ignore[no-any-return]

    assert await author("skill://team/by-bob/SKILL.md") == "Bob"
    # Read from outside its workspace, a public snippet names no author: Ada cannot list Bob's members.
    async with harness.client(ada) as client:
        entries, _ = await list_all_skills(client)
    [public] = [e for e in entries if e["frontmatter"]["metadata"]["title"] == "Public"]
    assert "author" not in public["frontmatter"]["metadata"]
    # Nor does a snippet whose creator has left the workspace.
    async with harness.client(bob) as client:
        await call(client, "leave_workspace", workspace_id=ws)
    assert await author("skill://team/by-bob/SKILL.md") is None


async def test_json_looking_file_text_is_stored_verbatim(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        snippet = await call(client, "save_snippet", workspace_id=ws, title="Config", body="See the files.")
        for path, text in (("a.json", '{"a": 1}'), ("b.txt", "null"), ("c.txt", "[1, 2]"), ("d.txt", "42")):
            await call(client, "add_skill_file", id=snippet["id"], path=path, content=text)
            served = await read_text(client, f"skill://docs/config/{path}")
            assert served.text == text, path


async def _entry(harness: McpHarness, user: uuid.UUID, uri: str) -> dict[str, Any]:
    async with harness.client(user) as client:
        return (await request(client, "skills/get", uri=uri))["skill"]  # type: ignore[no-any-return]


async def test_skills_list_pages_hold_whole_entries_and_are_private(
    harness: McpHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "PAGE_SIZE", 2)
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        for i in range(5):
            snippet = await call(client, "save_snippet", workspace_id=ws, title=f"Skill {i}", body=f"body {i}")
            for n in range(3):
                await call(client, "add_skill_file", id=snippet["id"], path=f"examples/{n}.md", content=f"ex {n}")
        entries, pages = await list_all_skills(client)
    assert [len(page["skills"]) for page in pages] == [2, 2, 1]
    assert len({entry["uri"] for entry in entries}) == 5
    assert all(len(entry["resources"]) == 4 for entry in entries)  # never split across pages
    assert all("ttlMs" not in page and "cacheScope" not in page for page in pages)  # no such fields before 2026
    async with harness.client(ada, mode=MODERN) as client:
        _, pages = await list_all_skills(client)
        got = await request(client, "skills/get", uri=entries[0]["uri"])
    assert all((page["ttlMs"], page["cacheScope"], page["resultType"]) == (0, "private", "complete") for page in pages)
    assert (got["ttlMs"], got["cacheScope"]) == (0, "private")
    assert "nextCursor" not in got
    async with harness.client(ada) as client:
        assert (await refusal(client, "skills/list", cursor="not-a-cursor"))[0] == -32602


async def test_invisible_and_nonexistent_skills_answer_identically(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        await call(client, "save_snippet", workspace_id=ws, title="Secret", body="s", visibility="private")
        await call(client, "save_snippet", workspace_id=ws, title="Team", body="t")
    async with harness.client(bob) as client:
        answers = [
            await refusal(client, "skills/get", uri=uri)
            for uri in (
                "skill://docs/secret/SKILL.md",  # exists, private to Ada
                "skill://docs/team/SKILL.md",  # exists, Bob is not a member
                f"skill://{ws}/team/SKILL.md",  # the same, by workspace id
                "skill://docs/nothing-here/SKILL.md",
                "skill://mcp-conformance-nonexistent-skill-9f3a2b/SKILL.md",
            )
        ]
        reads = [
            await refusal(client, "resources/read", uri=uri)
            for uri in ("skill://docs/secret/SKILL.md", "skill://docs/nothing-here/SKILL.md")
        ]
    assert len(set(answers)) == 1 and answers[0][0] == -32602
    assert len(set(reads)) == 1 and reads[0][0] == -32602
    async with harness.client(ada) as client:
        for uri in (
            f"skill://{ws}/team/SKILL.md",  # a member's workspace is named by its slug only
            "skill://docs/team",  # a folder, not a SKILL.md
            "skill://docs/team/other.md",
            "https://example.com/SKILL.md",
        ):
            assert await refusal(client, "skills/get", uri=uri) == answers[0], uri


async def test_supporting_files_are_served_with_their_types_digests_and_sizes(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        snippet = await call(client, "save_snippet", workspace_id=ws, title="Refunds", body="See templates/.")
        added = await call(
            client, "add_skill_file", id=snippet["id"], path="templates/email.md", content="Dear {{name}},\n"
        )
        await call(client, "add_skill_file", id=snippet["id"], path="assets/logo.png", content_base64=b64(png))
        await call(client, "add_skill_file", id=snippet["id"], path="scripts/check.py", content="print('ok')\n")
        assert added["uri"] == "skill://docs/refunds/templates/email.md"
        entry = (await request(client, "skills/get", uri="skill://docs/refunds/SKILL.md"))["skill"]
        files = {r["uri"].removeprefix("skill://docs/refunds/"): r for r in entry["resources"]}
        assert list(files) == ["SKILL.md", "assets/logo.png", "scripts/check.py", "templates/email.md"]
        skill_md = (await read_text(client, "skill://docs/refunds/SKILL.md")).text.encode()
        assert (files["SKILL.md"]["digest"], files["SKILL.md"]["size"]) == (sha256(skill_md), len(skill_md))

        email = await read_text(client, "skill://docs/refunds/templates/email.md")
        assert (email.text, email.mime_type) == ("Dear {{name}},\n", "text/markdown")
        assert files["templates/email.md"]["digest"] == sha256(email.text.encode()) == added["digest"]
        logo = (await client.read_resource("skill://docs/refunds/assets/logo.png")).contents[0]
        assert isinstance(logo, BlobResourceContents) and logo.mime_type == "image/png"
        assert base64.b64decode(logo.blob) == png
        assert (files["assets/logo.png"]["digest"], files["assets/logo.png"]["size"]) == (sha256(png), len(png))
        script = await read_text(client, "skill://docs/refunds/scripts/check.py")
        assert script.mime_type == "text/x-python"

        removed = await call(client, "remove_skill_file", id=snippet["id"], path="scripts/check.py")
        assert removed["path"] == "scripts/check.py"
        entry = (await request(client, "skills/get", uri="skill://docs/refunds/SKILL.md"))["skill"]
        assert "skill://docs/refunds/scripts/check.py" not in {r["uri"] for r in entry["resources"]}
        for gone in ("skill://docs/refunds/scripts/check.py", "skill://docs/refunds/templates"):
            assert (await refusal(client, "resources/read", uri=gone))[0] == -32602


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_directory_read_lists_the_direct_children_of_each_folder(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        snippet = await call(
            client, "save_snippet", workspace_id=ws, title="PDF", body="b", description="Fill PDF forms."
        )
        for path in ("templates/invoice.md", "templates/regional/eu-invoice.md", "references/FORMS.md"):
            await call(client, "add_skill_file", id=snippet["id"], path=path, content=f"# {path}\n")
        root = (await request(client, "resources/directory/read", uri="skill://docs/pdf"))["resources"]
        assert [(r["name"], r["mimeType"]) for r in root] == [
            ("pdf", "text/markdown"),  # SKILL.md: name and description from the front matter
            ("references", "inode/directory"),
            ("templates", "inode/directory"),
        ]
        assert (root[0]["uri"], root[0]["description"]) == ("skill://docs/pdf/SKILL.md", "Fill PDF forms.")
        templates = (await request(client, "resources/directory/read", uri="skill://docs/pdf/templates"))["resources"]
        assert [(r["uri"], r["mimeType"]) for r in templates] == [
            ("skill://docs/pdf/templates/invoice.md", "text/markdown"),
            ("skill://docs/pdf/templates/regional", "inode/directory"),
        ]
        assert templates[0]["name"] == "invoice.md" and templates[0]["size"] == len("# templates/invoice.md\n")
        nested = await request(client, "resources/directory/read", uri="skill://docs/pdf/templates/regional")
        assert [r["name"] for r in nested["resources"]] == ["eu-invoice.md"]
        not_folders = [
            await refusal(client, "resources/directory/read", uri=uri)
            for uri in (
                "skill://docs/pdf/SKILL.md",
                "skill://docs/pdf/templates/invoice.md",
                "skill://docs/pdf/nothing",
                "skill://docs/pdf/templates/",
                "skill://docs/other",
            )
        ]
        assert {code for code, _ in not_folders} == {-32602}
    async with harness.client(bob) as client:
        assert await refusal(client, "resources/directory/read", uri="skill://docs/pdf") == not_folders[-1]


async def test_file_tools_check_paths_permissions_and_conflicts(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        snippet = await call(client, "save_snippet", workspace_id=ws, title="S", body="b", visibility="public")
        sid = snippet["id"]
        for bad in ("../escape.md", "/etc/passwd", "SKILL.md", "skill.md", ".hidden", "a//b.md", "a b.md", "x/./y"):
            assert "invalid path" in await fails(client, sid, bad), bad
        first = await call(client, "add_skill_file", id=sid, path="notes/a.md", content="one")
        again = await call(client, "add_skill_file", id=sid, path="notes/a.md", content="two")
        assert (first["replaced"], again["replaced"]) == (False, True)
        assert again["digest"] == sha256(b"two")
        assert "conflict: notes is a folder" in await fails(client, sid, "notes")
        assert "conflict: notes/a.md is a file" in await fails(client, sid, "notes/a.md/b.md")
        assert "conflict: notes/a.md differs only in case" in await fails(client, sid, "Notes/A.md")
        both = await client.call_tool(
            "add_skill_file", {"id": sid, "path": "x.md", "content": "a", "content_base64": "YQ=="}
        )
        assert both.is_error
        not_b64 = await client.call_tool("add_skill_file", {"id": sid, "path": "x.bin", "content_base64": "@@"})
        assert not_b64.is_error
        missing = await client.call_tool("remove_skill_file", {"id": sid, "path": "notes/zzz.md"})
        assert missing.is_error
    async with harness.client(bob) as client:  # Bob reads the public skill but may not change it
        denied = await client.call_tool("add_skill_file", {"id": sid, "path": "evil.md", "content": "x"})
        assert denied.is_error and "permission denied" in str(denied.content[0])
        denied = await client.call_tool("remove_skill_file", {"id": sid, "path": "notes/a.md"})
        assert denied.is_error and "permission denied" in str(denied.content[0])


async def fails(client: Any, snippet_id: str, path: str) -> str:
    result = await client.call_tool("add_skill_file", {"id": snippet_id, "path": path, "content": "x"})
    assert result.is_error, path
    return str(result.content[0].text)


async def test_file_tools_enforce_the_extension_limits(harness: McpHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcpserver.skills import limits

    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        sid = (await call(client, "save_snippet", workspace_id=ws, title="S", body="b"))["id"]
        monkeypatch.setattr(limits, "MAX_SUPPORTING_FILES", 2)
        monkeypatch.setattr(limits, "MAX_SUPPORTING_BYTES", 10)
        monkeypatch.setattr(limits, "MAX_FILE_BYTES", 8)
        await call(client, "add_skill_file", id=sid, path="a.md", content="12345")
        too_big = await fails_with(client, sid, "b.md", "123456789")
        assert "invalid content: a file has at most 8 bytes" in too_big
        over_total = await fails_with(client, sid, "b.md", "123456")
        assert "conflict: a skill's supporting files hold at most 10 bytes" in over_total
        await call(client, "add_skill_file", id=sid, path="b.md", content="1")
        over_count = await fails_with(client, sid, "c.md", "1")
        assert "conflict: a skill has at most 512 files" in over_count
        await call(client, "add_skill_file", id=sid, path="a.md", content="12")  # replacing stays within
        # The real limits are the extension's.
        assert (limits.MAX_FILES, limits.MAX_SKILL_BYTES) == (512, 16 * 1024 * 1024)


async def fails_with(client: Any, snippet_id: str, path: str, content: str) -> str:
    result = await client.call_tool("add_skill_file", {"id": snippet_id, "path": path, "content": content})
    assert result.is_error, path
    return str(result.content[0].text)


async def test_listing_leaves_out_a_skill_over_the_limits(harness: McpHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcpserver.skills import limits

    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        big = await call(client, "save_snippet", workspace_id=ws, title="Big", body="b")
        await call(client, "save_snippet", workspace_id=ws, title="Small", body="b")
        await call(client, "add_skill_file", id=big["id"], path="a.md", content="x")
        monkeypatch.setattr(limits, "MAX_FILES", 1)  # as if the data had been written around the tools
        entries, _ = await list_all_skills(client)
    assert [entry["uri"] for entry in entries] == ["skill://docs/small/SKILL.md"]


def test_skill_methods_need_the_read_scope(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    token = harness.token(ada, scope="workspaces:write")
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Mcp-Protocol-Version": "2025-11-25",
    }
    for method in ("skills/list", "skills/get", "resources/directory/read"):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"uri": "skill://a/b/SKILL.md"}}
        response = httpx.post(harness.resource, json=body, headers=headers, timeout=10)
        assert response.status_code == 403, method
        assert 'scope="snippets:read' in response.headers["www-authenticate"]
