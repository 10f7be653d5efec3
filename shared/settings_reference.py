"""The configuration reference, rendered from ``shared.settings.Settings`` as Markdown.

``python -m shared.settings_reference > docs/configuration.md`` regenerates the file; a test
fails when it is out of date. Everything comes from the fields themselves: the environment
variable from the prefix and the name, the type and bounds from the annotation, the default
from the field. A default computed from other settings is stated in the field's description
as a final ``Default: …`` sentence, which moves into the default column.
"""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo

from shared.settings import Settings

REGENERATE = "uv run python -m shared.settings_reference > docs/configuration.md"
DERIVED_MARKER = " Default: "

_TYPE_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean (`true`/`false`)",
    Path: "path",
}


def env_name(name: str, settings: type[Settings] = Settings) -> str:
    """The environment variable of a field, e.g. ``data_dir`` → ``SKILLS_DATA_DIR``."""
    return f"{settings.model_config.get('env_prefix', '')}{name}".upper()


def split_description(field: FieldInfo) -> tuple[str, str | None]:
    """The description without its ``Default: …`` sentence, and that sentence's text (or None)."""
    description = (field.description or "").strip()
    head, marker, tail = description.partition(DERIVED_MARKER)
    if not marker:
        return description, None
    return head.strip(), tail.strip().removesuffix(".")


def type_name(annotation: Any) -> str:
    """A reader's name for a field type: optional types are named by what they hold."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        held = [arg for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(type_name(arg) for arg in held)
    if origin is list:
        (item,) = get_args(annotation)
        return f"JSON list of {type_name(item)}s"
    if annotation in _TYPE_NAMES:
        return _TYPE_NAMES[annotation]
    raise TypeError(f"no reader's name for the settings type {annotation!r}: add one to _TYPE_NAMES")


def bounds(field: FieldInfo) -> str:
    """The field's numeric bounds, e.g. ``≥ 30, ≤ 600`` (empty when unbounded)."""
    parts = []
    for item in field.metadata:
        if isinstance(item, Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            parts.append(f"< {item.lt}")
    return ", ".join(parts)


def name_settings(text: str, settings: type[Settings] = Settings) -> str:
    """Write the settings a text names by field (``database_url``) as their variables."""
    fields = "|".join(sorted(settings.model_fields, key=len, reverse=True))
    return re.sub(rf"`?\b({fields})\b`?", lambda match: f"`{env_name(match[1], settings)}`", text)


def default_text(field: FieldInfo, settings: type[Settings] = Settings) -> str:
    """The default as a reader should understand it: derived defaults in words, else the value."""
    _, derived = split_description(field)
    if derived is not None:
        return name_settings(derived, settings)
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "unset"
    if value == []:
        return "`[]`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(settings: type[Settings] = Settings) -> str:
    """The whole reference page."""
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from shared/settings.py by `{REGENERATE}`. Do not edit by hand. -->",
        "",
        "Every setting is an environment variable; nothing is read from files in the repository.",
        "Both servers, the migration job and the CLIs read the same variables at start. Lists are",
        'JSON (`SKILLS_MCP_ALLOWED_HOSTS=["skills.example.com"]`). Unset means the setting has no',
        "value; a default in words is computed from other settings when the process starts.",
        "",
        "| variable | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in settings.model_fields.items():
        description, _ = split_description(field)
        kind = type_name(field.annotation)
        if limits := bounds(field):
            kind = f"{kind} ({limits})"
        cells = (
            f"`{env_name(name, settings)}`",
            kind,
            default_text(field, settings),
            name_settings(description, settings),
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
