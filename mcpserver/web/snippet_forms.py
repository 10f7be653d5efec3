"""The snippet form: what a person typed, checked the way the save tool checks it, and its variables panel.

The panel lists one row per ``{{variable}}`` the body uses, in order of appearance, keeping
what was already typed for a name (description, required, default); names the body no
longer uses drop out, new ones appear as required. So a save never fails for a declaration
the person cannot see, and re-rendering the form never loses their input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from mcpserver.errors import InvalidArgument
from mcpserver.repository.snippets import SnippetView
from mcpserver.tools import fields
from mcpserver.tools.fields import MAX_VERSION
from shared.settings import Settings
from shared.variables import Variable, placeholders

MAX_MESSAGE = 500
VISIBILITIES = ("private", "workspace", "public")


@dataclass
class SnippetForm:
    """The form's fields as typed (strings), so a refused save shows them again unchanged."""

    title: str = ""
    slug: str = ""
    description: str = ""
    tags: str = ""
    visibility: str = "workspace"
    body: str = ""
    message: str = ""
    expected_version: int | None = None
    idempotency_key: str = ""
    variables: list[Variable] = field(default_factory=list)

    @classmethod
    def of(cls, view: SnippetView) -> SnippetForm:
        return cls(
            title=view.title,
            slug=view.slug,
            description=view.description,
            tags=", ".join(view.tags),
            visibility=view.visibility,
            body=view.body,
            expected_version=view.version,
            variables=[Variable.from_dict(v) for v in view.variables],
        )

    @classmethod
    def read(cls, form: FormData) -> SnippetForm:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value if isinstance(value, str) else ""

        expected = text("expected_version").strip()
        typed = cls(
            title=text("title"),
            slug=text("slug"),
            description=text("description"),
            tags=text("tags"),
            visibility=text("visibility") or "workspace",
            body=text("body").replace("\r\n", "\n"),
            message=text("message"),
            expected_version=int(expected) if expected.isdecimal() and 1 <= int(expected) <= MAX_VERSION else None,
            idempotency_key=text("idempotency_key"),
            variables=declared_in(form),
        )
        typed.variables = panel(typed.body, typed.variables)
        return typed

    def checked(self, settings: Settings) -> CheckedSnippet:
        """The values to save, or InvalidArgument naming the first field that is wrong.

        The limits are the configured ones the save tool applies (``SKILLS_SNIPPET_MAX_*``,
        ``SKILLS_VARIABLE_MAX_*``), so a form and a tool call accept the same snippets.
        """
        title = fields.text("title", self.title)
        if len(title) > settings.snippet_max_title:
            raise InvalidArgument("title", f"at most {settings.snippet_max_title} characters")
        body = fields.body(self.body, settings)
        if len(body) > settings.snippet_max_body:
            raise InvalidArgument("body", f"at most {settings.snippet_max_body} characters ({len(body)} given)")
        description = self.description.strip()
        if len(description) > settings.snippet_max_description:
            raise InvalidArgument("description", f"at most {settings.snippet_max_description} characters")
        most_description, most_default = settings.variable_max_description, settings.variable_max_default
        for variable in self.variables:
            if len(variable.description) > most_description:
                raise InvalidArgument(
                    "variables", f"the description of {variable.name!r} has more than {most_description} characters"
                )
            if variable.default is not None and len(variable.default) > most_default:
                raise InvalidArgument(
                    "variables", f"the default of {variable.name!r} has more than {most_default} characters"
                )
        message = self.message.strip()
        if len(message) > MAX_MESSAGE:
            raise InvalidArgument("message", f"at most {MAX_MESSAGE} characters")
        if self.visibility not in VISIBILITIES:
            raise InvalidArgument("visibility", "private, workspace or public")
        tags = fields.tags([t for t in self.tags.split(",") if t.strip()], settings)
        slug = fields.slug(self.slug) if self.slug.strip() else None
        return CheckedSnippet(title, body, description, tags, self.visibility, slug, message, self.variables)


@dataclass(frozen=True)
class CheckedSnippet:
    title: str
    body: str
    description: str
    tags: list[str]
    visibility: str
    slug: str | None
    message: str
    variables: list[Variable]

    def arguments(self) -> dict[str, Any]:
        """What identifies this save for an idempotent retry."""
        return {
            "title": self.title,
            "body": self.body,
            "description": self.description,
            "tags": self.tags,
            "visibility": self.visibility,
            "slug": self.slug,
            "variables": [v.as_dict() for v in self.variables],
        }


def declared_in(form: FormData) -> list[Variable]:
    """The variables panel's rows as submitted: ``var-<i>-name``, ``-description``, ``-required``, ``-default``."""
    rows: list[Variable] = []
    indexes = sorted({int(k.split("-")[1]) for k in form if k.startswith("var-") and k.split("-")[1].isdigit()})
    for index in indexes:
        values: Mapping[str, Any] = {
            part: form.get(f"var-{index}-{part}") for part in ("name", "description", "required", "default")
        }
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            continue
        default = values["default"] if isinstance(values["default"], str) and values["default"] != "" else None
        description = values["description"] if isinstance(values["description"], str) else ""
        rows.append(Variable(name.strip(), description.strip(), values["required"] is not None, default))
    return rows


def panel(body: str, typed: list[Variable]) -> list[Variable]:
    """One row per variable the body uses, keeping what was typed for each name."""
    names, _ = placeholders(body)
    known = {v.name: v for v in typed}
    rows = []
    for name in names:
        row = known.get(name) or Variable(name)
        rows.append(Variable(row.name, row.description, row.required and row.default is None, row.default))
    return rows


def bad_placeholders(body: str) -> list[str]:
    """Placeholders that are not variables (the panel warns about them before a save refuses them)."""
    return placeholders(body)[1]
