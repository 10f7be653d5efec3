"""SKILL.md rendering: valid Agent Skills names, exact escaping, deterministic bytes.

Every value that goes into the front matter must come back unchanged from a real YAML
parser (PyYAML here), whatever characters it holds.
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shared import front_matter
from shared.skill_format import MAX_DESCRIPTION, MAX_NAME, SkillSource, render_skill_md, skill_name

NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def parse(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    header, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(header), body


def test_a_snippet_becomes_a_skill_with_name_description_metadata_and_body() -> None:
    source = SkillSource(
        slug="code-review-checklist",
        title="Code review checklist",
        body="1. Tests\n2. Names",
        description="Before approving a pull request.",
        workspace="platform",
        version=3,
        tags=("review", "checklist"),
        variables=("language",),
        author="ada@example.com",
        updated_at="2026-05-01T10:00:00+00:00",
    )
    text = render_skill_md(source)
    assert text == (
        "---\n"
        "name: code-review-checklist\n"
        'description: "Before approving a pull request."\n'
        "metadata:\n"
        '  title: "Code review checklist"\n'
        "  workspace: platform\n"
        "  slug: code-review-checklist\n"
        '  version: "3"\n'
        '  tags: "review, checklist"\n'
        "  variables: language\n"
        "  author: ada@example.com\n"
        '  updated: "2026-05-01T10:00:00+00:00"\n'
        "---\n"
        "1. Tests\n2. Names\n"
    )
    meta, body = parse(text)
    assert meta["metadata"] == {
        "title": "Code review checklist",
        "workspace": "platform",
        "slug": "code-review-checklist",
        "version": "3",
        "tags": "review, checklist",
        "variables": "language",
        "author": "ada@example.com",
        "updated": "2026-05-01T10:00:00+00:00",
    }
    assert all(isinstance(v, str) for v in meta["metadata"].values())  # the spec: string to string
    assert body == "1. Tests\n2. Names\n"


def test_rendering_is_deterministic_lf_only_with_one_trailing_newline() -> None:
    source = SkillSource(slug="a", title="A", body="line one\r\nline two\rline three\n")
    first, second = render_skill_md(source), render_skill_md(source)
    assert first == second
    assert "\r" not in first
    assert first.endswith("line three\n") and not first.endswith("\n\n")


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("code-review", "code-review"),
        ("a", "a"),
        ("x" * 64, "x" * 64),
        ("2024-plan", "2024-plan"),
    ],
)
def test_a_valid_slug_is_its_own_skill_name(slug: str, expected: str) -> None:
    assert skill_name(slug) == expected


def test_long_slugs_get_distinct_stable_names_within_64_characters() -> None:
    first, second = "review-" * 12 + "one", "review-" * 12 + "two"
    assert skill_name(first) == skill_name(first)
    assert skill_name(first) != skill_name(second)
    for name in (skill_name(first), skill_name(second)):
        assert len(name) <= MAX_NAME and NAME.match(name), name


@given(st.text(max_size=120))
def test_any_text_gives_a_valid_skill_name(text: str) -> None:
    name = skill_name(text)
    assert len(name) <= MAX_NAME and NAME.match(name), name


@pytest.mark.parametrize(
    "title",
    [
        "Deploy: the checklist",
        'He said "ship it"',
        "it's # not a comment",
        "- looks like a list",
        "yes",
        "null",
        "123",
        "2026-05-01",
        "multi\nline\ttitle",
        "Ünïcödé 日本語 🚀",
        "back\\slash and {braces} [brackets] & *stars* | pipe > angle % at @",
        "\u2028line separator\u0085next line\ufeffbom",
        " leading and trailing spaces ",
        "control \x00\x07\x1b chars",
    ],
)
def test_awkward_titles_and_descriptions_read_back_exactly(title: str) -> None:
    source = SkillSource(slug="awkward", title=title, body="Body.", description=title, tags=(title.strip().lower(),))
    meta, _ = parse(render_skill_md(source))
    assert meta["name"] == "awkward"
    assert meta["description"] == title.strip()  # surrounding whitespace is trimmed, the rest is exact
    assert meta["metadata"]["title"] == title
    assert meta["metadata"]["tags"] == title.strip().lower()


def test_without_a_description_it_summarises_title_and_body_within_1024_characters() -> None:
    short = SkillSource(slug="s", title="Commit messages", body="Write the\nsubject   in the imperative.")
    assert parse(render_skill_md(short))[0]["description"] == "Commit messages: Write the subject in the imperative."

    long = SkillSource(slug="l", title="Long", body="word " * 1000)
    description = parse(render_skill_md(long))[0]["description"]
    assert len(description) <= MAX_DESCRIPTION and description.endswith("…")

    too_long = SkillSource(slug="t", title="T", body="b", description="d" * 5000)
    assert len(parse(render_skill_md(too_long))[0]["description"]) == MAX_DESCRIPTION


def test_empty_metadata_fields_are_left_out() -> None:
    meta, _ = parse(render_skill_md(SkillSource(slug="bare", title="Bare", body="x")))
    assert meta == {
        "name": "bare",
        "description": "Bare: x",
        "metadata": {"title": "Bare", "slug": "bare", "version": "1"},
    }


@given(
    title=st.text(min_size=1, max_size=80),
    description=st.text(max_size=200),
    tags=st.lists(st.text(min_size=1, max_size=20), max_size=4),
    body=st.text(max_size=300),
)
def test_every_string_survives_a_yaml_parser(title: str, description: str, tags: list[str], body: str) -> None:
    source = SkillSource(slug="prop", title=title, body=body, description=description, tags=tuple(tags))
    text = render_skill_md(source)
    meta, _ = parse(text)
    assert meta["metadata"]["title"] == title
    if description.strip():
        assert meta["description"] == description.strip()[:MAX_DESCRIPTION] or meta["description"].endswith("…")
    if tags:
        assert meta["metadata"]["tags"] == ", ".join(tags)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=10), children, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_front_matter_dump_reads_back_as_the_same_values(value: object) -> None:
    mapping = {"value": value}
    if _has_nested_list(value):
        with pytest.raises(TypeError):
            front_matter.dump(mapping)
        return
    assert yaml.safe_load(front_matter.dump(mapping)) == mapping


def _has_nested_list(value: object, in_list: bool = False) -> bool:
    if isinstance(value, list):
        return in_list or any(_has_nested_list(item, True) for item in value)
    if isinstance(value, dict):
        return any(_has_nested_list(item) for item in value.values())
    return False


def test_the_example_in_docs_library_is_what_render_writes() -> None:
    from tests.processes import ROOT

    guide = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    shown = guide.split("**What it writes.**", 1)[1].split("```markdown\n", 1)[1].split("```", 1)[0]
    source = SkillSource(
        slug="code-review",
        title="Code review checklist",
        body="1. Tests pass\n2. Names say what things are\n3. {{language}} style guide followed",
        description="Use before approving a pull request.",
        workspace="platform",
        version=3,
        tags=("review", "checklist"),
        variables=("language",),
        updated_at="2026-05-01T10:00:00+00:00",
    )
    assert shown == render_skill_md(source)
