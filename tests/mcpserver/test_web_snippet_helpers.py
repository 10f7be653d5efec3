"""The web library's snippet helpers: Markdown that cannot run, excerpts that cannot inject, diffs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import FormData

from mcpserver.errors import InvalidArgument
from mcpserver.repository.versions import VersionView
from mcpserver.web.diffs import Document, compare, describe_variables, document_of
from mcpserver.web.excerpts import highlight_excerpt, highlight_words, query_words
from mcpserver.web.markdown import is_safe_link, render_markdown
from mcpserver.web.snippet_forms import SnippetForm, bad_placeholders, panel
from shared.settings import Settings
from shared.variables import Variable


def test_markdown_renders_headings_lists_tables_and_code() -> None:
    html = render_markdown("# Deploy\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode <x>\n```")
    assert "<h1>Deploy</h1>" in html
    assert "<li>one</li>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<pre><code>code &lt;x&gt;\n</code></pre>" in html


def test_raw_html_in_a_body_shows_as_text() -> None:
    html = render_markdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)"> and <b>bold</b>')
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "target",
    ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "java\tscript:alert(1)", "vbscript:x", "data:text/html,<b>x</b>"],
)
def test_links_to_scripts_and_data_are_not_links(target: str) -> None:
    html = render_markdown(f"[click]({target})")
    assert "<a" not in html
    assert not is_safe_link(target)


def test_safe_links_open_without_referrer_and_images_are_not_loaded() -> None:
    html = render_markdown("[docs](https://example.com/a) [here](/library/x) ![diagram](https://cdn.example.com/d.png)")
    assert '<a href="https://example.com/a" rel="nofollow noopener noreferrer">docs</a>' in html
    assert '<a href="/library/x" rel="nofollow noopener noreferrer">here</a>' in html
    assert "<img" not in html
    assert 'href="https://cdn.example.com/d.png"' in html and "image: diagram" in html


def test_an_image_with_a_script_address_is_only_its_label() -> None:
    html = render_markdown('![x"><script>](javascript:alert(1))')
    assert "<a" not in html and "<script" not in html


def test_excerpt_marks_become_mark_elements_and_everything_else_is_escaped() -> None:
    html = highlight_excerpt("use «deploy» with <b>care</b> & «staging»")
    assert html == "use <mark>deploy</mark> with &lt;b&gt;care&lt;/b&gt; &amp; <mark>staging</mark>"


def test_a_lone_mark_in_a_body_stays_text() -> None:
    assert highlight_excerpt("quotes « like this and «word»") == "quotes « like this and <mark>word</mark>"
    assert highlight_excerpt("<mark>«x»") == "&lt;mark&gt;<mark>x</mark>"


def test_query_words_leave_out_exclusions_and_or() -> None:
    assert query_words('deploy -staging "blue green" or Deploy -"old thing"') == ["deploy", "blue", "green"]


def test_title_words_are_marked_by_prefix_and_escaped() -> None:
    html = highlight_words("Deploying <apps> & amps", ["deploy", "amp"])
    assert html == "<mark>Deploying</mark> &lt;apps&gt; &amp; <mark>amps</mark>"
    assert highlight_words("<b>", []) == "&lt;b&gt;"
    assert highlight_words("Deploy checklists", ["deploying", "checklist"]) == (
        "<mark>Deploy</mark> <mark>checklists</mark>"
    )


def _version(number: int, **changes: object) -> VersionView:
    values: dict[str, object] = {
        "version": number,
        "title": "Deploy",
        "description": "",
        "body": "one\ntwo\nthree",
        "tags": ["ops"],
        "visibility": "workspace",
        "variables": [],
        "author_id": None,
        "message": "",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        **changes,
    }
    return VersionView(**values)  # type: ignore[arg-type]


def test_diff_lists_changed_fields_and_body_lines_with_their_numbers() -> None:
    before = _version(1)
    after = _version(2, title="Deploy safely", body="one\n2\nthree\nfour", tags=["ops", "prod"])
    diff = compare(document_of(before), document_of(after))
    assert [(f.name, f.before, f.after) for f in diff.fields] == [
        ("title", "Deploy", "Deploy safely"),
        ("tags", "ops", "ops, prod"),
    ]
    (hunk,) = diff.hunks
    assert hunk.header == "@@ -1,3 +1,4 @@"
    assert [(x.kind, x.old, x.new, x.text) for x in hunk.lines] == [
        ("context", 1, 1, "one"),
        ("removed", 2, None, "two"),
        ("added", None, 2, "2"),
        ("context", 3, 3, "three"),
        ("added", None, 4, "four"),
    ]
    assert (diff.added, diff.removed) == (2, 1)
    assert "-two\n+2" in diff.unified


def test_identical_versions_have_no_diff() -> None:
    diff = compare(document_of(_version(1)), document_of(_version(2)))
    assert diff.same and diff.unified == ""


def test_far_apart_changes_are_separate_hunks() -> None:
    body = "\n".join(str(i) for i in range(1, 21))
    changed = body.replace("2\n", "two\n", 1).replace("19", "nineteen")
    diff = compare(Document("t", "", "", "private", "", body), Document("t", "", "", "private", "", changed))
    assert [h.header for h in diff.hunks] == ["@@ -1,5 +1,5 @@", "@@ -16,5 +16,5 @@"]


def test_variables_are_described_in_one_line() -> None:
    variables = [
        {"name": "service", "description": "What to deploy", "required": True, "default": None},
        {"name": "region", "description": "", "required": False, "default": "eu"},
    ]
    assert describe_variables(variables) == "service (required): What to deploy; region = 'eu'"


def _form(**fields: str) -> FormData:
    return FormData([(name.replace("_", "-"), value) for name, value in fields.items()])


def test_the_variables_panel_follows_the_body_and_keeps_what_was_typed() -> None:
    typed = [Variable("service", "Which service", True, None), Variable("gone", "no longer used")]
    rows = panel("Deploy {{ service }} to {{region}}, then {{service}} again; \\{{literal}}", typed)
    assert rows == [Variable("service", "Which service", True, None), Variable("region")]
    assert panel("no variables", typed) == []


def test_a_default_makes_a_variable_optional_and_an_empty_default_is_none() -> None:
    form = SnippetForm.read(
        _form(
            title="T",
            body="{{a}} {{b}}",
            var_0_name="a",
            var_0_description=" first ",
            var_0_required="1",
            var_0_default="x",
            var_1_name="b",
            var_1_default="",
        )
    )
    assert form.variables == [Variable("a", "first", False, "x"), Variable("b", "", False, None)]


def test_the_form_is_checked_like_the_save_tool_checks_its_arguments() -> None:
    settings = Settings()
    good = SnippetForm(title="  Deploy ", body="go\r\n", tags="Ops, ops, , Deploy", slug="").checked(settings)
    assert (good.title, good.tags, good.slug) == ("Deploy", ["ops", "deploy"], None)
    for form, field in (
        (SnippetForm(title=" ", body="x"), "title"),
        (SnippetForm(title="t", body=""), "body"),
        (SnippetForm(title="t" * 201, body="x"), "title"),
        (SnippetForm(title="t", body="x", slug="Not A Slug"), "slug"),
        (SnippetForm(title="t", body="x", visibility="everyone"), "visibility"),
        (SnippetForm(title="t", body="x", message="m" * 501), "message"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            form.checked(settings)
        assert refused.value.field == field


def test_the_form_applies_the_configured_limits_not_the_defaults() -> None:
    strict = Settings(
        snippet_max_title=10,
        snippet_max_body=20,
        snippet_max_description=5,
        snippet_max_tags=1,
        snippet_max_variables=1,
        variable_max_default=3,
    )
    SnippetForm(title="t" * 11, body="x").checked(Settings())  # within the defaults
    long_default = SnippetForm(title="t", body="{{a}}")
    long_default.variables = [Variable("a", "", False, "four")]
    for form, field in (
        (SnippetForm(title="t" * 11, body="x"), "title"),
        (SnippetForm(title="t", body="x" * 21), "body"),
        (SnippetForm(title="t", body="{{a}} {{b}}"), "body"),
        (SnippetForm(title="t", body="x", description="d" * 6), "description"),
        (SnippetForm(title="t", body="x", tags="a, b"), "tags"),
        (long_default, "variables"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            form.checked(strict)
        assert refused.value.field == field


def test_placeholders_that_are_not_variables_are_pointed_out() -> None:
    assert bad_placeholders("{{ 1st }} and {{ok}} and {{a-b}}") == ["{{ 1st }}", "{{a-b}}"]
