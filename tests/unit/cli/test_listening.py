"""The one-line error for a listening socket that could not be had: every errno row, and the fallback."""

from __future__ import annotations

import errno

import pytest

from msgbridge.cli.listening import REASONS, bind_error


@pytest.mark.parametrize(("code", "reason"), sorted(REASONS.items()))
def test_each_known_errno_is_explained(code: int, reason: str) -> None:
    exc = bind_error("127.0.0.1", 25, OSError(code, "ignored"))
    assert exc.message == f"cannot listen on 127.0.0.1:25: {reason}"


def test_other_errors_keep_their_own_words_and_ipv6_is_bracketed() -> None:
    exc = bind_error("::1", 2525, OSError(errno.EINVAL, "Invalid argument"))
    assert exc.message == "cannot listen on [::1]:2525: Invalid argument"
    assert bind_error("h", 1, OSError()).message == "cannot listen on h:1: OSError"
