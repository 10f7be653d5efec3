"""Snippet variables: ``{{name}}`` placeholders, their declarations, and literal rendering.

A body names its variables as ``{{name}}`` (spaces inside the braces are allowed); a name
is a letter followed by letters, digits or underscores, at most 64 characters, so that it
is also a valid MCP prompt argument and a Python identifier. ``\\{{`` writes literal braces.

Rendering is one pass of one regular expression over the body: a value is inserted as
it is, never parsed again, so a value containing ``{{other}}`` stays that text, and there
is no template language to execute. Pure functions of plain values, without SDK or
database imports: the MCP server and the command-line tools share them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MAX_NAME = 64
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
PLACEHOLDER = re.compile(r"\\\{\{|\{\{([^{}\n]*)\}\}")
"""An escaped ``\\{{`` (no group), or ``{{ … }}`` on one line (group 1: what is inside)."""

MAX_VARIABLES = 50
MAX_DESCRIPTION = 500
MAX_DEFAULT = 10_000
"""Hard caps; the MCP server's configured limits (``snippet_max_variables`` …) may only be lower."""


class VariableError(ValueError):
    """Something is wrong with the variables; ``problems`` lists every problem at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class MissingVariables(VariableError):
    """Required variables without a value; ``names`` in the order the snippet declares them."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__([f"missing required variable(s): {', '.join(names)}"])
        self.names = list(names)


@dataclass(frozen=True)
class Variable:
    """A declared variable. One with a default is never required."""

    name: str
    description: str = ""
    required: bool = True
    default: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "required": self.required, "default": self.default}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Variable:
        default = data.get("default")
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            required=bool(data.get("required", True)) and default is None,
            default=None if default is None else str(default),
        )


def placeholders(body: str) -> tuple[list[str], list[str]]:
    """The valid variable names in ``body`` (first appearance order) and the invalid placeholders."""
    names: list[str] = []
    invalid: list[str] = []
    for match in PLACEHOLDER.finditer(body):
        inner = match.group(1)
        if inner is None:
            continue  # an escaped \{{
        name = inner.strip()
        if NAME.match(name):
            if name not in names:
                names.append(name)
        elif match.group(0) not in invalid:
            invalid.append(match.group(0))
    return names, invalid


def used_names(body: str) -> list[str]:
    """The variable names of a body that must be valid: a bad placeholder is an error naming all of them."""
    names, invalid = placeholders(body)
    if invalid:
        shown = ", ".join(invalid[:5]) + (" …" if len(invalid) > 5 else "")
        raise VariableError(
            [
                f"{shown} {'is not a variable' if len(invalid) == 1 else 'are not variables'}: a name is a letter "
                "then letters, digits or underscores (at most 64); write \\{{ for literal braces"
            ]
        )
    return names


def declare(body: str, declared: Sequence[Variable] | None, previous: Iterable[Variable] = ()) -> list[Variable]:
    """The variables to store with ``body``.

    Declared ones are checked against the body: every placeholder must be declared and
    every declaration used. Without declarations they are inferred from the body (required,
    no description), keeping the earlier declaration of a name that is still used.
    """
    used = used_names(body)
    if len(used) > MAX_VARIABLES:
        raise VariableError([f"the body uses {len(used)} variables: at most {MAX_VARIABLES}"])
    if declared is None:
        kept = {v.name: v for v in previous}
        return [kept.get(name) or Variable(name) for name in used]
    problems: list[str] = []
    seen: set[str] = set()
    for variable in declared:
        if not NAME.match(variable.name):
            problems.append(f"{variable.name!r} is not a valid name (a letter, then letters, digits or underscores)")
        if variable.name in seen:
            problems.append(f"{variable.name!r} is declared twice")
        seen.add(variable.name)
        if len(variable.description) > MAX_DESCRIPTION:
            problems.append(f"the description of {variable.name!r} is longer than {MAX_DESCRIPTION} characters")
        if variable.default is not None and len(variable.default) > MAX_DEFAULT:
            problems.append(f"the default of {variable.name!r} is longer than {MAX_DEFAULT} characters")
    if len(declared) > MAX_VARIABLES:
        problems.append(f"at most {MAX_VARIABLES} variables")
    undeclared = [name for name in used if name not in seen]
    if undeclared:
        problems.append(f"the body uses undeclared variable(s): {', '.join(undeclared)}")
    unused = [v.name for v in declared if v.name not in used and NAME.match(v.name)]
    if unused:
        problems.append(f"declared but not used in the body: {', '.join(unused)}")
    if problems:
        raise VariableError(problems)
    return [Variable(v.name, v.description, v.required and v.default is None, v.default) for v in declared]


def render(
    body: str,
    variables: Sequence[Variable],
    values: Mapping[str, str],
    *,
    unknown: Literal["error", "ignore"] = "error",
    absent_optional: Callable[[Variable], str] | None = None,
) -> str:
    """``body`` with every placeholder replaced, literally, in one pass.

    A missing value takes the variable's default; an optional variable without one becomes
    ``absent_optional(variable)`` (default: nothing). Every missing required variable is
    reported at once. A placeholder the declarations do not know (an older body) counts as
    required; an invalid one stays as it is.
    """
    declared = {v.name: v for v in variables}
    names, _ = placeholders(body)
    for name in names:
        declared.setdefault(name, Variable(name))
    if unknown == "error":
        extra = [name for name in values if name not in declared]
        if extra:
            known = ", ".join(declared) or "none"
            raise VariableError([f"unknown variable(s): {', '.join(extra)} (this snippet has: {known})"])
    missing = [v.name for v in declared.values() if v.name in names and v.name not in values and _required(v)]
    if missing:
        raise MissingVariables(missing)

    def fill(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner is None:
            return "{{"
        name = inner.strip()
        variable = declared.get(name)
        if variable is None:
            return match.group(0)
        if name in values:
            return values[name]
        if variable.default is not None:
            return variable.default
        return absent_optional(variable) if absent_optional is not None else ""

    return PLACEHOLDER.sub(fill, body)


def _required(variable: Variable) -> bool:
    return variable.required and variable.default is None
