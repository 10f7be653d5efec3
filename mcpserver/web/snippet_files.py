"""A snippet's supporting files (served with its skill as ``skill://…/<path>``): list, add, remove, read.

The same rules as the ``add_skill_file`` and ``remove_skill_file`` tools: whoever may change
the snippet manages its files, paths follow ``shared.skill_rules.paths``, sizes the
extension's limits. A file is added by upload or by typing its text. Reading one shows text
in the page (escaped) and hands anything else over as a download, never as a page of ours.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mcpserver.errors import Conflict, InvalidArgument, NotFound
from mcpserver.repository import skill_files
from mcpserver.repository import snippets as repo
from mcpserver.skills import limits, paths
from mcpserver.skills.media_types import media_type_for
from mcpserver.web.csrf import checked_form
from mcpserver.web.snippet_pages import READ, WRITE, Page, page, redirect, snippet_id_of
from shared.skill_format import skill_name
from shared.skill_rules.media_types import is_text

_ASCII = re.compile(r"[^A-Za-z0-9._-]")


def routes() -> list[BaseRoute]:
    return [
        Route("/snippets/{snippet_id:uuid}/files", files_page, methods=["GET", "POST"]),
        Route("/snippets/{snippet_id:uuid}/files/remove", remove, methods=["POST"]),
        Route("/snippets/{snippet_id:uuid}/files/{path:path}", read, methods=["GET"]),
    ]


def _path(raw: str) -> str:
    try:
        return paths.check(raw.strip())
    except paths.InvalidPath as exc:
        raise InvalidArgument("path", str(exc)) from None


@page
async def files_page(p: Page) -> Response:
    snippet_id = snippet_id_of(p.request)
    if p.request.method == "GET":
        p.require(READ)
        return await _page(p)
    p.require(WRITE)
    form = await checked_form(p.request)
    upload = form.get("upload")
    typed = form.get("content")
    raw_path = str(form.get("path") or "")
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(limits.MAX_FILE_BYTES + 1)
            if not raw_path.strip():
                raw_path = PurePosixPath(upload.filename.replace("\\", "/")).name
            text_given = False
        elif isinstance(typed, str) and typed:
            data = typed.replace("\r\n", "\n").encode()
            text_given = True
        else:
            raise InvalidArgument("content", "choose a file to upload or type its text")
        path = _path(raw_path)
        if len(data) > limits.MAX_FILE_BYTES:
            raise InvalidArgument("content", f"a file has at most {limits.MAX_FILE_BYTES} bytes")
        kind = media_type_for(path, is_text=text_given or _utf8(data))
        async with p.transaction() as session:
            _, replaced = await skill_files.add_file(session, p.caller, snippet_id, path, data, kind)
    except (InvalidArgument, Conflict) as error:
        message = str(error).partition(": ")[2] or str(error)
        return await _page(
            p,
            error=message[:1].upper() + message[1:],
            typed_path=raw_path,
            typed_content=typed if isinstance(typed, str) else "",
            status_code=400 if isinstance(error, InvalidArgument) else 409,
        )
    return redirect(p.request, f"/snippets/{snippet_id}/files", notice="file-replaced" if replaced else "file-added")


def _size(count: int) -> str:
    """``2097152`` → ``2 MiB``: limits as people say them."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _page(
    p: Page,
    *,
    error: str | None = None,
    typed_path: str = "",
    typed_content: str = "",
    status_code: int = 200,
) -> Response:
    async with p.transaction() as session:
        snippet = await repo.get(session, p.user.id, snippet_id_of(p.request))
        workspace = await p.workspace_of(session, snippet.workspace_id)
        found = (await skill_files.files_of(session, [snippet.id]))[snippet.id]
        label = await skill_files.workspace_label(session, p.user.id, snippet.workspace_id)
    return p.render(
        "snippets/files.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "files": found,
            "skill_root": f"skill://{label}/{skill_name(snippet.slug)}",
            "error": error,
            "typed_path": typed_path,
            "typed_content": typed_content,
            "max_file_size": _size(limits.MAX_FILE_BYTES),
            "max_files": limits.MAX_FILES,
        },
        status_code=status_code,
    )


@page
async def remove(p: Page) -> Response:
    p.require(WRITE)
    snippet_id = snippet_id_of(p.request)
    form = await checked_form(p.request)
    path = _path(str(form.get("path") or ""))
    async with p.transaction() as session:
        await skill_files.remove_file(session, p.caller, snippet_id, path)
    return redirect(p.request, f"/snippets/{snippet_id}/files", notice="file-removed")


@page
async def read(p: Page) -> Response:
    """A text file in a page of its own; any other file as a download."""
    p.require(READ)
    snippet_id = snippet_id_of(p.request)
    path = _path(p.request.path_params["path"])
    async with p.transaction() as session:
        snippet = await repo.get(session, p.user.id, snippet_id)
        found = await skill_files.read_file(session, snippet.id, path)
        workspace = await p.workspace_of(session, snippet.workspace_id)
    if found is None:
        raise NotFound("file")
    info, content = found
    if is_text(info.media_type, content) and p.request.query_params.get("download") != "1":
        return p.render(
            "snippets/file.html",
            {"snippet": snippet, "workspace": workspace, "file": info, "text": content.decode("utf-8")},
        )
    name = PurePosixPath(info.path).name
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename=\"{_ASCII.sub('_', name)}\"; filename*=UTF-8''{quote(name)}"
        },
    )
