"""Templates that cannot make a sensible message are refused before anything is queued."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgbridge.core.errors import ErrorCode, TemplateError
from msgbridge.core.template import check, fields, render


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hi {name", "at character 4, '{' is never closed"),
        ("Hi {name}, code {", "at character 17, '{' is never closed"),
        ("Hi name}", "at character 8, '}' closes nothing"),
        ("Hi {first name}", "at character 4, '{first name}' is not a {field}"),
        ("{1st}", "at character 1, '{1st}' is not a {field}"),
        ("Hi {{name}", "at character 10, '}' closes nothing"),
        ("{{ {a {b}", "at character 4, '{' is never closed"),
    ],
)
def test_an_unbalanced_brace_is_refused(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape("write {{ or }} for a literal brace")) as err:
        check(template)
    assert message in str(err.value) and err.value.code is ErrorCode.INVALID_ARGUMENT
    with pytest.raises(TemplateError, match="literal brace"):
        render(template, {"name": "Ann", "a": 1, "b": 2})  # never sent literally


@pytest.mark.parametrize("template", ["", " ", "\n\t"])
def test_an_empty_template_is_refused(template: str) -> None:
    with pytest.raises(TemplateError, match="the template is empty"):
        check(template)


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("Hi {name}", "Hi Ann"),
        ("{{x}} {name}", "{x} Ann"),
        ("}}{{", "}{"),
        ("{a.b-c_d}", "1"),
        ("plain", "plain"),
    ],
)
def test_balanced_templates_pass(template: str, text: str) -> None:
    check(template)
    assert render(template, {"name": "Ann", "a.b-c_d": 1}) == text


def test_fields_ignore_stray_braces() -> None:
    assert fields("{a} { {b} }") == ["a", "b"]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.sampled_from(["{a}", "{b.c}", "{{", "}}", "{phone}"]), st.text(alphabet="xy ,!{}", max_size=4)
        ),
        max_size=8,
    ),
    missing=st.booleans(),
)
def test_rendering_from_the_pieces_read_once_equals_rendering_token_by_token(
    parts: list[str], missing: bool
) -> None:
    """``render`` reads a template's pieces once (cached); the token-by-token form is the reference."""
    from msgbridge.core.template import _render_each

    template = "".join(parts)
    values: dict[str, object] = {"a": "A{b}", "b.c": 7, "phone": None if missing else "+7701"}
    try:
        expected: str | Exception = _render_each(template, values, row=3)
    except TemplateError as exc:
        expected = exc
    try:
        got: str | Exception = render(template, values, row=3)
    except TemplateError as exc:
        got = exc
    if isinstance(expected, Exception):
        assert isinstance(got, TemplateError) and str(got) == str(expected)
    else:
        assert got == expected
