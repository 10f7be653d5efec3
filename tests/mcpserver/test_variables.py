"""``shared.variables``: placeholders, declarations checked on save, and literal rendering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.variables import MissingVariables, Variable, VariableError, declare, placeholders, render


def test_placeholders_in_first_appearance_order_with_spaces_and_escapes() -> None:
    body = "Hi {{ name }}, about {{topic}} and {{name}} again; \\{{not_a_variable}} stays"
    assert placeholders(body) == (["name", "topic"], [])
    assert placeholders("{{ user.name }} {{1st}} {{}} {{ok}}") == (["ok"], ["{{ user.name }}", "{{1st}}", "{{}}"])


def test_inferred_when_not_declared_keeping_earlier_descriptions() -> None:
    earlier = [Variable("topic", "What it is about", required=False, default="tests")]
    assert declare("{{topic}} for {{audience}}", None, earlier) == [earlier[0], Variable("audience")]
    assert declare("no variables", None, earlier) == []


def test_declarations_are_checked_against_the_body_all_problems_at_once() -> None:
    with pytest.raises(VariableError) as error:
        declare(
            "{{a}} {{b}}",
            [Variable("a"), Variable("a"), Variable("9x"), Variable("unused")],
        )
    problems = " | ".join(error.value.problems)
    assert "'a' is declared twice" in problems
    assert "'9x' is not a valid name" in problems
    assert "undeclared variable(s): b" in problems
    assert "not used in the body: unused" in problems


def test_bad_placeholders_are_refused_with_the_escape_named() -> None:
    with pytest.raises(VariableError, match=r"\{\{ user.name \}\} is not a variable.*\\\{\{"):
        declare("Hello {{ user.name }}", None)


def test_a_default_makes_a_variable_optional() -> None:
    (variable,) = declare("{{tone}}", [Variable("tone", required=True, default="friendly")])
    assert (variable.required, variable.default) == (False, "friendly")
    assert Variable.from_dict({"name": "x", "default": "d"}).required is False


def test_render_fills_defaults_and_reports_every_missing_required_variable() -> None:
    variables = [Variable("who"), Variable("what"), Variable("tone", default="calm"), Variable("extra", required=False)]
    body = "{{who}} {{what}} ({{tone}}){{extra}}"
    assert render(body, variables, {"who": "Ada", "what": "writes"}) == "Ada writes (calm)"
    with pytest.raises(MissingVariables) as missing:
        render(body, variables, {})
    assert missing.value.names == ["who", "what"]
    assert "missing required variable(s): who, what" in str(missing.value)
    asked = render(body, variables, {"who": "A", "what": "b"}, absent_optional=lambda v: f"<ask {v.name}>")
    assert asked == "A b (calm)<ask extra>"


def test_unknown_values_are_an_error_or_ignored() -> None:
    with pytest.raises(VariableError, match=r"unknown variable.*nope.*this snippet has: x"):
        render("{{x}}", [Variable("x")], {"x": "1", "nope": "2"})
    assert render("{{x}}", [Variable("x")], {"x": "1", "nope": "2"}, unknown="ignore") == "1"


def test_values_are_inserted_literally_never_expanded() -> None:
    values = {"a": "{{b}}", "b": r"\1 \g<0> $HOME {% raw %}"}
    assert render("{{a}}|{{b}}|\\{{a}}", [Variable("a"), Variable("b")], values) == (
        r"{{b}}|\1 \g<0> $HOME {% raw %}|{{a}}"
    )


@given(st.text(), st.text())
def test_any_value_comes_out_exactly_as_given(prefix: str, value: str) -> None:
    body = prefix.replace("{", "(").replace("\\", "/") + "{{v}}"
    assert render(body, [Variable("v")], {"v": value}).endswith(value)
