"""The Transport base class: what ``async with`` does around open() and aclose()."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from msgbridge.adapters.base import Transport
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo
from msgbridge.core.message import Message, SendResult
from msgbridge.core.url import TransportURL


class Recording(Transport):
    """Opens (or refuses to) and counts closes, as a transport holding connections would."""

    scheme = "recording"

    def __init__(
        self, url: TransportURL, refuse: BaseException | None = None, close_fails: bool = False
    ) -> None:
        super().__init__(url)
        self.refuse = refuse
        self.close_fails = close_fails
        self.closed = 0

    async def open(self) -> None:
        if self.refuse is not None:
            raise self.refuse

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return []

    async def aclose(self) -> None:
        self.closed += 1
        if self.close_fails:
            raise OSError("close failed too")


URL = TransportURL.parse("recording://host")
REFUSED = AuthError("login refused", ErrorInfo(code=ErrorCode.AUTH_FAILED))


async def test_a_failed_open_still_closes_the_transport() -> None:
    t = Recording(URL, refuse=REFUSED)
    with pytest.raises(AuthError):
        async with t:
            pytest.fail("the body must not run")
    assert t.closed == 1


async def test_the_open_error_wins_over_a_failing_close() -> None:
    t = Recording(URL, refuse=REFUSED, close_fails=True)
    with pytest.raises(AuthError):
        async with t:
            pass
    assert t.closed == 1


async def test_a_good_open_closes_once_on_exit() -> None:
    t = Recording(URL)
    async with t:
        assert t.closed == 0
    assert t.closed == 1
