"""``core.sendable.check_text``: the texts every way in refuses before anything is queued, and their codes."""

from __future__ import annotations

import pytest

from msgbridge.core.encoding import MAX_SEGMENTS, Encoding
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.sendable import check_text

GSM_PER_PART = 153  # GSM-7 characters per part of a concatenated message (8-bit reference)
UCS2_PER_PART = 67


@pytest.mark.parametrize(
    ("text", "code", "reason"),
    [
        ("", ErrorCode.INVALID_ARGUMENT, "the text is empty"),
        (" \t\n", ErrorCode.INVALID_ARGUMENT, "the text is empty"),
        ("a\x00b", ErrorCode.INVALID_ARGUMENT, "the text contains a NUL character"),
        ("x" * (GSM_PER_PART * MAX_SEGMENTS + 1), ErrorCode.MESSAGE_TOO_LONG, "needs 256 segments"),
        ("я" * (UCS2_PER_PART * MAX_SEGMENTS + 1), ErrorCode.MESSAGE_TOO_LONG, "needs 256 segments"),
    ],
)
def test_a_text_that_cannot_be_sent_is_refused_with_its_code(text: str, code: ErrorCode, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_text(text)
    assert caught.value.code is code and reason in str(caught.value)


def test_the_longest_text_passes_measured_and_the_caller_may_say_why_a_text_is_empty() -> None:
    gsm = check_text("x" * (GSM_PER_PART * MAX_SEGMENTS))
    assert (gsm.encoding, gsm.segments) == (Encoding.GSM7, MAX_SEGMENTS)
    assert check_text("я" * (UCS2_PER_PART * MAX_SEGMENTS)).segments == MAX_SEGMENTS
    assert check_text("hi").segments == 1
    with pytest.raises(ConfigError, match=r"^the text is empty once the template is filled in$"):
        check_text("  ", empty="the text is empty once the template is filled in")
