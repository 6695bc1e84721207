"""health() of the HTTP provider transports, against their emulators on real sockets (port 0).

One rule for all four providers (``msgbridge/adapters/linkstate.py``): requests held by the provider are
in flight; a 429 is throttling until an answer that is not; three requests in a row without an answer,
or one answer refusing the key, put the link down and the next answer puts it up again; ``last_error``
never shows a credential, wherever the provider carries it (query, header, form or JSON body).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import pytest
from http_peers import PROVIDERS, Answer, Held, Misbehaving, Provider

from msgbridge.adapters.base import LinkHealth, ReportsHealth, Transport, open_transport, registry
from msgbridge.adapters.http.base import HttpTransport
from msgbridge.adapters.http.bsg.client import BsgClient
from msgbridge.adapters.linkstate import DOWN_AFTER, DOWN_FOR
from msgbridge.core.errors import ErrorCode, MessagingError
from msgbridge.core.message import Message, SendResult
from msgbridge.core.ratelimit import Backoff
from msgbridge.simulators.http import bsg, mobizon, selzy, smsc
from msgbridge.simulators.http.server import (
    App,
    Emulator,
    Request,
    Response,
    json_response,
    serve,
    text_response,
)

T = TypeVar("T")
ALL = sorted(PROVIDERS)
# Generous: these bound a test that would otherwise hang, they time nothing.
GUARD = 30.0


async def guarded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, GUARD)


async def until(predicate: Callable[[], bool], what: str, seconds: float = GUARD) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def message(i: int = 0) -> Message:
    return Message(to=f"+7701{1000000 + i:07d}", text="hello")


def health(t: Transport) -> LinkHealth:
    assert isinstance(t, ReportsHealth)
    return t.health()


@asynccontextmanager
async def opened(
    app: App, provider: Provider, extra: str = "", backoff: Backoff | None = None
) -> AsyncIterator[HttpTransport]:
    """The provider's transport, opened, pointed at ``app`` served on a free port."""
    async with serve(app) as server:
        cls = registry.get(provider.name)
        assert issubclass(cls, HttpTransport)
        t = cls.from_url(provider.url(server.url, extra), backoff=backoff)
        assert isinstance(t, HttpTransport)
        await guarded(t.open())
        try:
            yield t
        finally:
            await t.aclose()


async def send_one(t: Transport, i: int = 0) -> SendResult:
    [result] = await guarded(t.send([message(i)]))
    return result


# --------------------------------------------------------------------------- in flight


@pytest.mark.parametrize("name", ALL)
async def test_requests_the_provider_holds_are_in_flight(name: str) -> None:
    provider = PROVIDERS[name]
    held = Held(provider.create(), provider.send_endpoint)
    async with opened(held, provider) as t:
        assert health(t) == LinkHealth(up=True)
        sends = [asyncio.ensure_future(send_one(t, i)) for i in range(3)]
        await until(lambda: held.holding == 3, "three sends held by the provider")
        h = health(t)
        assert h.in_flight == 3 and h.up and not h.throttled
        held.release.set()
        results = await guarded(asyncio.gather(*sends))
        assert all(r.error is None for r in results), results
        assert health(t).in_flight == 0


# --------------------------------------------------------------------------- throttled


def too_many(retry_after: float) -> Callable[[], Response]:
    return lambda: text_response("Too Many Requests", 429, headers=[("Retry-After", f"{retry_after:g}")])


@pytest.mark.parametrize("name", ALL)
async def test_a_429_is_throttling_until_an_answer_that_is_not(name: str) -> None:
    provider = PROVIDERS[name]
    app = Misbehaving(provider.create())
    app.next(provider.send_endpoint, Answer(too_many(30)))
    async with opened(app, provider, "attempts=1") as t:
        first = await send_one(t)
        assert first.error is not None and first.error.code is ErrorCode.THROTTLED
        h = health(t)
        assert h.throttled and h.throttle_events == 1 and h.up
        assert h.last_error is not None and "THROTTLED" in h.last_error
        second = await send_one(t, 1)
        assert second.error is None, second
        h = health(t)
        assert not h.throttled and h.throttle_events == 1 and h.last_error is None


async def test_the_pause_before_asking_again_after_a_429_is_throttling() -> None:
    provider = PROVIDERS["selzy"]
    app = Misbehaving(provider.create())
    app.next(provider.send_endpoint, Answer(too_many(0)))  # "Retry-After: 0": only our own pause is left
    pause = Backoff(base=1.0, cap=1.0, jitter=False)
    async with opened(app, provider, "attempts=2", backoff=pause) as t:
        send = asyncio.ensure_future(send_one(t))
        await until(lambda: health(t).throttled, "the transport pausing after a 429", seconds=5)
        assert health(t).in_flight == 0  # waiting, not asking
        result = await guarded(send)
        assert result.error is None, result
        h = health(t)
        assert not h.throttled and h.throttle_events == 1


# --------------------------------------------------------------------------- down and up


@pytest.mark.parametrize("name", ALL)
async def test_down_after_three_unanswered_requests_and_up_at_the_next_answer(name: str) -> None:
    provider = PROVIDERS[name]
    emulator = provider.create()
    emulator.inject_at(provider.send_endpoint, *["drop"] * DOWN_AFTER)
    async with opened(emulator, provider, "attempts=1") as t:
        for i in range(DOWN_AFTER - 1):
            await send_one(t, i)
            assert health(t).up, f"down after {i + 1} unanswered requests"
        lost = await send_one(t, DOWN_AFTER)
        assert lost.error is not None and lost.error.code is ErrorCode.TIMEOUT
        h = health(t)
        assert not h.up and h.last_error is not None and "TIMEOUT" in h.last_error
        answered = await send_one(t, DOWN_AFTER + 1)
        assert answered.error is None, answered
        h = health(t)
        assert h.up and h.last_error is None


async def test_a_link_nobody_uses_is_not_known_to_be_down_for_ever() -> None:
    provider = PROVIDERS["selzy"]
    with_nothing_listening = "http://127.0.0.1:9"  # discard port: connections refused
    t = open_transport(provider.url(with_nothing_listening))
    assert isinstance(t, HttpTransport)
    now = [1000.0]
    t.link_state.clock = lambda: now[0]
    await t.open()
    try:
        refused = await send_one(t)  # the connection is refused three times (attempts=3): down
        assert refused.error is not None and refused.error.code is ErrorCode.NETWORK_ERROR
        assert not health(t).up
        now[0] += DOWN_FOR - 1
        assert not health(t).up
        now[0] += 1
        assert health(t).up and health(t).last_error is None
        await send_one(t)  # still refused: down again at once
        assert not health(t).up
    finally:
        await t.aclose()
    assert not health(t).up  # closed


@dataclass
class Refusal:
    """How a test makes a provider refuse our key, and accept it again."""

    revoke: Callable[[Emulator, Misbehaving], None]
    restore: Callable[[Emulator, Misbehaving], None]


def _unauthenticated() -> Response:
    return json_response({"message": "Unauthenticated."}, 401)


def smsc_logins(emulator: Emulator) -> dict[str, str]:
    assert isinstance(emulator, smsc.SmscEmulator)
    return emulator.logins


REFUSALS: dict[str, Refusal] = {
    "selzy": Refusal(lambda e, m: e.api_keys.clear(), lambda e, m: e.api_keys.add("test-key")),
    "mobizon": Refusal(lambda e, m: e.api_keys.clear(), lambda e, m: e.api_keys.add("test-key")),
    "smsc": Refusal(lambda e, m: smsc_logins(e).clear(), lambda e, m: smsc_logins(e).update(user="secret")),
    # BSG logs in again after a 401 and repeats the call once: two 401s refuse it.
    "bsg": Refusal(
        lambda e, m: m.next(
            PROVIDERS["bsg"].send_endpoint, Answer(_unauthenticated), Answer(_unauthenticated)
        ),
        lambda e, m: None,
    ),
}


@pytest.mark.parametrize("name", ALL)
async def test_a_refused_key_is_down_at_once_and_up_at_the_next_answer(name: str) -> None:
    provider = PROVIDERS[name]
    emulator = provider.create()
    app = Misbehaving(emulator)
    refusal = REFUSALS[name]
    async with opened(app, provider) as t:
        assert (await send_one(t)).error is None
        refusal.revoke(emulator, app)
        refused = await send_one(t, 1)
        assert refused.error is not None and refused.error.code is ErrorCode.AUTH_FAILED, refused
        h = health(t)
        assert not h.up and h.last_error is not None and "AUTH_FAILED" in h.last_error
        refusal.restore(emulator, app)
        accepted = await send_one(t, 2)
        assert accepted.error is None, accepted
        assert health(t).up


# --------------------------------------------------------------------------- no credential in last_error


@dataclass
class Echo:
    """An App: the emulator, but ``endpoint`` answers HTTP 500 with everything the request carried.

    Every query, form and JSON value and the Authorization header's token come first, bare (as a
    careless error page might print them), then the raw request: the credential is in the answer
    wherever the provider carries it.
    """

    emulator: Emulator
    endpoint: str

    async def handle(self, request: Request) -> Response:
        if self.emulator.endpoint(request) != self.endpoint:
            return await self.emulator.handle(request)
        values = [v for source in (request.query, request.form) for vs in source.values() for v in vs]
        if request.content_type == "application/json":
            body = request.json()
            values += [str(v) for v in body.values()] if isinstance(body, dict) else []
        auth = request.headers.get("authorization", "")
        values += auth.split()[-1:]
        raw = f"{request.method} {request.path} {request.query} {request.headers} {request.body!r}"
        return text_response(f"{' '.join(values)} | {raw}", 500)


@dataclass(frozen=True)
class Carried:
    """Where a provider carries its credential, and how to read it back from the transport."""

    name: str
    endpoint: str
    extra: str
    secrets: Callable[[HttpTransport], list[str]]


def _key(t: HttpTransport) -> list[str]:
    return [t.api_key()]


def _bsg_token(t: HttpTransport) -> list[str]:
    assert isinstance(t, BsgClient) and t._token
    return [t.api_key(), t._token]


CARRIED = [
    Carried("selzy", "sendSms", "", _key),  # api_key in the form body
    Carried("smsc", "send", "", _key),  # login and psw in the form body
    Carried("mobizon", "message/sendsmsmessage", "key_in=query", _key),  # apiKey in the query string
    Carried("mobizon", "message/sendsmsmessage", "key_in=body", _key),  # apiKey in the form body
    Carried("bsg", "POST /api/campaigns/sms/send", "", _bsg_token),  # the bearer token in a header
]


@pytest.mark.parametrize("carried", CARRIED, ids=lambda c: f"{c.name}-{c.extra or c.endpoint}")
async def test_last_error_never_shows_a_credential(carried: Carried) -> None:
    provider = PROVIDERS[carried.name]
    app = Echo(provider.create(), carried.endpoint)
    async with opened(app, provider, "&".join(filter(None, ["attempts=1", carried.extra]))) as t:
        for i in range(DOWN_AFTER):
            await send_one(t, i)
        h = health(t)
        assert not h.up and h.last_error is not None and "TEMPORARY_FAILURE" in h.last_error
        secrets = carried.secrets(t)
        assert all(s and s not in h.last_error for s in secrets), h.last_error
        assert "***" in h.last_error


async def test_last_error_never_shows_the_key_bsg_logs_in_with() -> None:
    provider = PROVIDERS["bsg"]
    app = Echo(provider.create(), "POST /api/auth/login")  # the key in the JSON body of the login
    async with serve(app) as server:
        t = open_transport(provider.url(server.url))
        assert isinstance(t, HttpTransport)
        try:
            with pytest.raises(MessagingError):
                await guarded(t.open())  # three logins (attempts=3), each answered 500
            h = health(t)
            assert not h.up and h.last_error is not None and "TEMPORARY_FAILURE" in h.last_error
            assert t.api_key() not in h.last_error, h.last_error
            assert "***" in h.last_error
        finally:
            await t.aclose()


def test_the_emulators_take_the_keys_these_tests_use() -> None:
    """The refusals above revoke the keys the emulators start with: they must be the ones PROVIDERS use."""
    assert "test-key" in selzy.create_emulator().api_keys
    assert "test-key" in mobizon.create_emulator().api_keys
    assert "test-key" in bsg.create_emulator().api_keys
    assert smsc.create_emulator().logins == {"user": "secret"}
