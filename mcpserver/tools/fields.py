"""Argument checks shared by the tools, each failing with the field and the reason."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import Field

from mcpserver.errors import InvalidArgument
from shared.settings import Settings
from shared.variables import placeholders

Visibility = Literal["private", "workspace", "public"]
Role = Literal["owner", "member"]

WorkspaceId = Annotated[uuid.UUID, Field(description="Workspace id (UUID), from list_workspaces")]
SnippetId = Annotated[uuid.UUID, Field(description="Snippet id (UUID), from list_snippets")]
UserId = Annotated[uuid.UUID, Field(description="User id (UUID) of a member, from list_members")]

MAX_TAGS = 20
MAX_TAG_LENGTH = 40
"""Defaults of ``snippet_max_tags`` and ``snippet_max_tag_length``, for callers without settings."""
MAX_VERSION = 2**31 - 1
"""Version numbers are 32-bit columns: a larger one cannot name a version (and Postgres would refuse it)."""
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def text(field: str, value: str, *, required: bool = True) -> str:
    """Surrounding whitespace removed; an empty required value is an error."""
    value = value.strip()
    if required and not value:
        raise InvalidArgument(field, "must not be empty")
    return value


def body(value: str, settings: Settings) -> str:
    """A snippet body: not empty, and with no more distinct ``{{variables}}`` than configured."""
    value = text("body", value)
    names, _ = placeholders(value)
    if len(names) > settings.snippet_max_variables:
        raise InvalidArgument(
            "body", f"it uses {len(names)} {{{{variables}}}}: a snippet has at most {settings.snippet_max_variables}"
        )
    return value


def tags(values: list[str], settings: Settings | None = None) -> list[str]:
    """Lower-cased, trimmed, without duplicates, order kept; within the configured count and length."""
    most = settings.snippet_max_tags if settings else MAX_TAGS
    longest = settings.snippet_max_tag_length if settings else MAX_TAG_LENGTH
    result: list[str] = []
    for raw in values:
        tag = " ".join(raw.strip().lower().split())
        if not tag:
            raise InvalidArgument("tags", "a tag must not be empty")
        if len(tag) > longest:
            raise InvalidArgument("tags", f"a tag has at most {longest} characters")
        if tag not in result:
            result.append(tag)
    if len(result) > most:
        raise InvalidArgument("tags", f"at most {most} tags")
    return result


def tags_description(settings: Settings, what: str) -> str:
    """A tags parameter's description, stating the limits the server enforces."""
    return f"{what} (at most {settings.snippet_max_tags}, each at most {settings.snippet_max_tag_length} characters)"


def slug(value: str) -> str:
    value = value.strip()
    if not SLUG.match(value) or len(value) > 80:
        raise InvalidArgument("slug", "lower-case letters and digits joined by single hyphens, at most 80 characters")
    return value


def email(value: str) -> str:
    value = value.strip().lower()
    if not EMAIL.match(value) or len(value) > 320 or not value.isprintable():
        raise InvalidArgument("email", "not an email address")
    return value


def idempotency_key(value: str) -> str:
    value = value.strip()
    if not value or not value.isprintable():
        raise InvalidArgument("idempotency_key", "a non-empty printable string (a random UUID is a good key)")
    return value
