"""Templates that cannot make a sensible message are refused before anything is queued."""

from __future__ import annotations

import re

import pytest

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
