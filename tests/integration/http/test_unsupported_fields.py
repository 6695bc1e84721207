"""The unsupported-field rule, for every HTTP provider and every field it cannot carry, over real HTTP.

A field the provider cannot carry makes that message an UNSUPPORTED result naming the field while the
rest of the batch goes out; ``unsupported=ignore`` sends it without the field and says so in a warning;
another channel is refused either way; the metadata msgbridge keeps for itself refuses nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from msgbridge.adapters.base import Transport, open_transport
from msgbridge.adapters.http.mobizon import MobizonTransport
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.message import Campaign, Channel, Message, Recipient
from msgbridge.core.status import DeliveryStatus
from msgbridge.simulators.http import bsg, mobizon, selzy, smsc
from msgbridge.simulators.http.server import Emulator, serve

KEY = "fields-key"
FAST = "retry_base=0.01&max_retry_wait=1&rate=0"

# provider -> (emulator factory, transport URL with {url}, the send endpoint the emulator counts)
PROVIDERS: dict[str, tuple[Callable[[], Emulator], str, str]] = {
    "selzy": (
        lambda: selzy.create_emulator(api_keys=[KEY]),
        f"selzy://{KEY}@api.selzy.com?platform=Test&sender=Shop&base_url={{url}}&{FAST}",
        "sendSms",
    ),
    "bsg": (
        lambda: bsg.create_emulator(api_keys=[KEY]),
        f"bsg://{KEY}@one-api.bsg.world?sender=Shop&base_url={{url}}&{FAST}",
        "POST /api/campaigns/sms/send",
    ),
    "smsc": (
        lambda: smsc.create_emulator(logins={"user": "secret"}, balance=1e6),
        f"smsc://user:secret@smsc.ru?sender=Shop&base_url={{url}}&{FAST}",
        "send",
    ),
    "mobizon": (
        lambda: mobizon.create_emulator(api_keys=[KEY], balance=1e6),
        f"mobizon://{KEY}@api.mobizon.kz?sender=Shop&base_url={{url}}&{FAST}",
        "message/sendsmsmessage",
    ),
}

LATER = datetime.now(UTC) + timedelta(days=2)

# field -> what sets it on a message
FIELDS: dict[str, dict[str, Any]] = {
    "subject": {"subject": "Hello"},
    "html": {"html": "<p>hello</p>"},
    "metadata": {"metadata": {"order": "42"}},
    "validity": {"validity": timedelta(hours=2)},
    "scheduled_at": {"scheduled_at": LATER},
}

# What each provider cannot carry (everything else it puts on the wire).
UNCARRIED: dict[str, tuple[str, ...]] = {
    "selzy": ("subject", "html", "metadata", "validity", "scheduled_at"),
    "bsg": ("subject", "html", "metadata"),
    "smsc": ("subject", "html", "metadata"),
    "mobizon": ("subject", "html", "metadata"),
}

CASES = [(provider, name) for provider, names in UNCARRIED.items() for name in names]


@pytest.fixture(autouse=True)
def forget_homes() -> None:
    MobizonTransport._homes.clear()


@asynccontextmanager
async def provider(name: str, extra: str = "") -> AsyncIterator[tuple[Transport, Emulator, str]]:
    factory, template, endpoint = PROVIDERS[name]
    emulator = factory()
    async with serve(emulator) as server:
        url = template.format(url=server.url) + (f"&{extra}" if extra else "")
        async with open_transport(url) as transport:
            yield transport, emulator, endpoint


def plain(i: int) -> Message:
    return Message(to=f"+7701{3000000 + i:07d}", text="hello", reference=f"ref{i}")


@pytest.mark.parametrize(("name", "field"), CASES)
async def test_a_field_the_provider_cannot_carry_refuses_that_message_alone(name: str, field: str) -> None:
    batch = [plain(0), plain(1).model_copy(update=FIELDS[field]), plain(2)]
    async with provider(name) as (transport, emulator, endpoint):
        results = await transport.send(batch)
    assert [r.message_id for r in results] == [m.id for m in batch]
    assert results[0].status is DeliveryStatus.SUBMITTED
    assert results[2].status is DeliveryStatus.SUBMITTED
    refused = results[1]
    assert refused.status is DeliveryStatus.REJECTED
    assert refused.error is not None and refused.error.code is ErrorCode.UNSUPPORTED
    assert refused.error.native_code == field
    assert refused.error.native_message.startswith(f"{field}: {name}:// cannot carry")
    assert "unsupported=ignore" in refused.error.native_message
    assert emulator.requests[endpoint] >= 1  # the others went out


@pytest.mark.parametrize(("name", "field"), CASES)
async def test_unsupported_ignore_sends_without_the_field_and_says_so(name: str, field: str) -> None:
    odd = plain(1).model_copy(update=FIELDS[field])
    async with provider(name, "unsupported=ignore") as (transport, emulator, endpoint):
        (result,) = await transport.send([odd])
    assert result.status is DeliveryStatus.SUBMITTED, result
    assert result.error is None
    assert f"{field} not sent: {name}:// cannot carry it" in result.warnings
    assert emulator.requests[endpoint] == 1


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("policy", ["", "unsupported=ignore"])
async def test_another_channel_is_refused_whatever_the_switch(name: str, policy: str) -> None:
    mail = Message(channel=Channel.EMAIL, to="someone@example.com", text="hello", subject="Hi")
    async with provider(name, policy) as (transport, emulator, endpoint):
        results = await transport.send([mail, plain(0)])
    assert results[0].status is DeliveryStatus.REJECTED
    assert results[0].error is not None and results[0].error.code is ErrorCode.UNSUPPORTED
    assert results[0].error.native_code == "channel"
    assert results[0].error.native_message.startswith(
        f"channel, subject: {name}:// cannot carry email messages"
    )
    assert results[1].status is DeliveryStatus.SUBMITTED
    assert emulator.requests[endpoint] == 1


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_the_metadata_msgbridge_keeps_for_itself_refuses_nothing(name: str) -> None:
    """What the SMTP gateway (msgbridge/inbound/smtp_gateway.py) records on every message it queues."""
    local = {
        "via": "smtp",
        "smtp_identity": "ops",
        "smtp_mail_from": "ops@example.com",
        "smtp_message_id": "<1@x>",
    }
    message = plain(0).model_copy(update={"metadata": local, "campaign": "alerts"})
    async with provider(name) as (transport, _, _):
        (result,) = await transport.send([message])
    assert result.status is DeliveryStatus.SUBMITTED, result
    assert result.warnings == () or all("not sent" not in w for w in result.warnings)


@pytest.mark.parametrize("name", ["selzy", "mobizon"])
async def test_a_provider_campaign_refuses_the_recipient_not_the_campaign(name: str) -> None:
    phones = [f"+7701{4000000 + i:07d}" for i in range(3)]
    campaign = Campaign(
        name="fields", template="hello", recipients=tuple(Recipient(phone=p) for p in phones), sender="Shop"
    )
    messages = [Message(to=p, text="hello", campaign="fields") for p in phones]
    messages[1] = messages[1].model_copy(update={"html": "<b>hello</b>"})
    async with provider(name) as (transport, _, _):
        result = await transport.run_campaign(campaign, messages)  # type: ignore[attr-defined]
    statuses = [r.status for r in result.results]
    assert [r.message_id for r in result.results] == [m.id for m in messages]
    assert statuses[1] is DeliveryStatus.REJECTED
    assert result.results[1].error is not None and result.results[1].error.native_code == "html"
    assert statuses[0] is statuses[2] is DeliveryStatus.SUBMITTED


def test_the_switch_is_a_declared_option() -> None:
    with pytest.raises(ConfigError, match="unsupported"):
        open_transport(f"selzy://{KEY}@api.selzy.com?unsupported=drop")
