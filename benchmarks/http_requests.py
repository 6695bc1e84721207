"""HTTP requests per campaign: batched and provider-side campaigns vs one request per message.

For each provider whose adapter and emulator are available, a campaign of
``--size`` recipients is sent in-process over real HTTP (loopback) to the
provider's emulator, in each way the adapter offers:

- ``per-message``: the baseline, one ``send([message])`` call (one request)
  per message, ``--concurrency`` in flight;
- ``send() batched``: one ``send(all)`` call, the adapter batching as the
  provider allows (Selzy 150 numbers per sendSms, BSG 10,000 per campaign,
  SMSC.ru several phones per request);
- ``campaign API``: ``run_campaign()``, the provider's own campaign objects;
- ``... personalised``: the same with a different text per recipient.

Requests are read from the emulator's counters (logins included), so the
count is what the provider would see. After each send, every message's status
is polled once the way the dispatcher does it (``status_poll`` ids per
``status()`` call): "status poll reqs" is what learning the outcome costs. Every line prints its ratio against the
per-message baseline of the same provider, measured in the same run.

    .venv/bin/python benchmarks/http_requests.py                 # 10,000 recipients
    .venv/bin/python benchmarks/http_requests.py --size 1000 --providers selzy,bsg
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from msgbridge.adapters.base import ProviderCampaigns, StatusPolling, Transport, open_transport
from msgbridge.core.message import Campaign, Message, Recipient, SendResult
from msgbridge.simulators.http.server import Emulator, serve

KEY = "bench-key"

# provider -> (transport URL with {url} for the emulator, emulator knobs)
SETUPS: dict[str, tuple[str, dict[str, Any]]] = {
    "selzy": (
        f"selzy://{KEY}@api.selzy.com?platform=bench&sender=Bench&rate=0&base_url={{url}}",
        {"api_keys": [KEY]},
    ),
    "bsg": (f"bsg://{KEY}@one-api.bsg.world?sender=Bench&base_url={{url}}", {"api_keys": [KEY]}),
    "smsc": (
        "smsc://bench:secret@smsc.ru?sender=Bench&base_url={url}",
        # one poll round of every message counts what learning outcomes costs; SMSC.ru would allow
        # only one of its mass requests a minute (the dispatcher's poller spreads them out)
        {"logins": {"bench": "secret"}, "balance": 1e9, "status_limits": False},
    ),
    "mobizon": (
        f"mobizon://{KEY}@api.mobizon.kz?sender=Bench&base_url={{url}}",
        {"api_keys": [KEY], "balance": 1e9},
    ),
}


@dataclass
class Row:
    provider: str
    approach: str
    messages: int
    requests: int
    seconds: float
    ok: int
    status_requests: int = 0  # requests for one status poll of every message sent
    final: int = 0  # messages that poll found in a final status

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def recipients(size: int, offset: int) -> list[Recipient]:
    # Distinct, valid-looking Kazakh mobile numbers; offset keeps runs from colliding on duplicates.
    return [Recipient(phone=f"+7701{offset + i:07d}", fields={"name": f"N{i}"}) for i in range(size)]


def messages_for(people: Sequence[Recipient], personalised: bool) -> list[Message]:
    if personalised:
        return [
            Message(to=r.phone, text=f"Hello {r.fields['name']}, spring sale today", sender="Bench")
            for r in people
        ]
    return [Message(to=r.phone, text="Hello, spring sale today", sender="Bench") for r in people]


async def per_message(t: Transport, messages: Sequence[Message], concurrency: int) -> list[SendResult]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(message: Message) -> SendResult:
        async with semaphore:
            [result] = await t.send([message])
            return result

    return list(await asyncio.gather(*(one(m) for m in messages)))


async def measure(
    provider: str,
    approach: str,
    emulator: Emulator,
    url: str,
    size: int,
    offset: int,
    run: Callable[[Transport, list[Message], Campaign], Awaitable[list[SendResult]]],
    personalised: bool = False,
) -> Row:
    people = recipients(size, offset)
    messages = messages_for(people, personalised)
    template = "Hello {name}, spring sale today" if personalised else "Hello, spring sale today"
    campaign = Campaign(name=f"bench {approach}", template=template, recipients=tuple(people), sender="Bench")
    before = emulator.total_requests
    start = time.perf_counter()
    async with open_transport(url) as t:
        results = await run(t, messages, campaign)
        seconds = time.perf_counter() - start
        sent = emulator.total_requests - before
        status_requests, final = await poll_once(t, emulator, results)
    ok = sum(1 for r in results if r.ok)
    return Row(provider, approach, size, sent, seconds, ok, status_requests, final)


async def poll_once(t: Transport, emulator: Emulator, results: Sequence[SendResult]) -> tuple[int, int]:
    """One status poll of every message, as the dispatcher would do it (status_poll ids per call)."""
    per_call = t.capabilities.status_poll
    ids = [r.native_id for r in results if r.native_id]
    if not isinstance(t, StatusPolling) or per_call <= 0 or not ids:
        return 0, 0
    before = emulator.total_requests
    final = 0
    for start in range(0, len(ids), per_call):
        receipts = await t.status(ids[start : start + per_call])
        final += sum(1 for r in receipts if r.status.is_final)
    return emulator.total_requests - before, final


async def bench_provider(provider: str, size: int, baseline_size: int, concurrency: int) -> list[Row]:
    template, knobs = SETUPS[provider]
    try:
        importlib.import_module(f"msgbridge.adapters.http.{provider}")
        module = importlib.import_module(f"msgbridge.simulators.http.{provider}")
    except ImportError as exc:
        print(f"# {provider}: skipped ({exc})", file=sys.stderr)
        return []
    emulator: Emulator = module.create_emulator(**knobs)
    rows: list[Row] = []
    async with serve(emulator) as server:
        url = template.format(url=server.url)

        async def batched(t: Transport, ms: list[Message], c: Campaign) -> list[SendResult]:
            return await t.send(ms)

        async def baseline(t: Transport, ms: list[Message], c: Campaign) -> list[SendResult]:
            return await per_message(t, ms, concurrency)

        async def provider_campaign(t: Transport, ms: list[Message], c: Campaign) -> list[SendResult]:
            assert isinstance(t, ProviderCampaigns)
            result = await t.run_campaign(c, ms)
            return list(result.results)

        offset = 0
        rows.append(
            await measure(provider, "per-message (baseline)", emulator, url, baseline_size, offset, baseline)
        )
        offset += baseline_size
        probe = type(open_transport(url))
        if probe.capabilities.max_batch > 1:
            rows.append(await measure(provider, "send() batched", emulator, url, size, offset, batched))
            offset += size
        if issubclass(probe, ProviderCampaigns):
            rows.append(
                await measure(provider, "campaign API", emulator, url, size, offset, provider_campaign)
            )
            offset += size
            rows.append(
                await measure(
                    provider,
                    "campaign API personalised",
                    emulator,
                    url,
                    size,
                    offset,
                    provider_campaign,
                    personalised=True,
                )
            )
    return rows


def render(rows: Sequence[Row]) -> str:
    header = (
        f"{'provider':<9} {'approach':<28} {'msgs':>7} {'requests':>9} {'req/msg':>8} {'msgs/s':>9} "
        f"{'fewer requests':>15} {'speed vs baseline':>18} {'ok':>7} {'status poll reqs':>17} {'final':>7}"
    )
    lines = [header, "-" * len(header)]
    baselines = {r.provider: r for r in rows if r.approach.startswith("per-message")}
    for r in rows:
        base = baselines[r.provider]
        base_per_msg = base.requests / base.messages if base.messages else 0.0
        per_msg = r.requests / r.messages if r.messages else 0.0
        fewer = base_per_msg / per_msg if per_msg else float("inf")
        speed = r.rate / base.rate if base.rate else float("inf")
        lines.append(
            f"{r.provider:<9} {r.approach:<28} {r.messages:>7,} {r.requests:>9,} {per_msg:>8.4f} {r.rate:>9,.0f} "
            f"{fewer:>14,.1f}x {speed:>17,.1f}x {r.ok:>7,} {r.status_requests:>17,} {r.final:>7,}"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    for provider in args.providers.split(","):
        provider = provider.strip()
        if provider not in SETUPS:
            raise SystemExit(f"unknown provider {provider!r}; known: {', '.join(SETUPS)}")
        rows.extend(
            await bench_provider(provider, args.size, args.baseline_size or args.size, args.concurrency)
        )
    return rows


def main(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10_000, help="recipients per campaign (default 10,000)")
    parser.add_argument(
        "--baseline-size",
        type=int,
        default=0,
        help="messages for the per-message baseline "
        "(default: --size; requests per message and msgs/s are what is compared)",
    )
    parser.add_argument("--providers", default="selzy,bsg,smsc,mobizon")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight for the baseline")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    rows = asyncio.run(main_async(args))
    print(
        f"# {args.size:,} recipients per campaign; emulators in-process over loopback HTTP/1.1; "
        f"baseline concurrency {args.concurrency}"
    )
    print(render(rows))
    return rows


if __name__ == "__main__":
    main()
