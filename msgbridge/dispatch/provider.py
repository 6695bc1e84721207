"""``campaign run --mode provider``: the whole campaign handed to the provider's own campaign API.

Deliberately simple, and apart from the send loop: one claim of everything,
one call, its per-recipient results recorded like any send.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from msgbridge.adapters.base import ProviderCampaigns
from msgbridge.core.errors import ErrorCode, ErrorInfo, MessagingError
from msgbridge.core.message import Campaign, SendResult
from msgbridge.dispatch.stats import DispatchStats
from msgbridge.store.base import MessageRecord

if TYPE_CHECKING:
    from msgbridge.dispatch.dispatcher import Dispatcher

log = logging.getLogger("msgbridge.dispatch.dispatcher")

# Messages per claim and per results transaction.
PAGE = 500


async def send_provider_campaign(dispatcher: Dispatcher, campaign: Campaign) -> DispatchStats:
    """Hand the whole queued campaign to the provider's own campaign API, where the transport has one.

    Kept simple: everything queued for the campaign is claimed, given to
    ``transport.run_campaign(campaign, messages)`` in one call, and its
    per-recipient results recorded like any send; retryable refusals are
    requeued for a normal per-message run. A transport that is not a
    ``ProviderCampaigns`` is sent to message by message.
    """
    transport = dispatcher.transport
    if not isinstance(transport, ProviderCampaigns):
        log.info("%s:// has no campaign API; sending message by message", dispatcher.transport.scheme)
        return await dispatcher.send_pending(campaign.name)
    await dispatcher.settle(campaign.name)
    claimed: list[MessageRecord] = []
    while batch := await dispatcher.store.claim(PAGE, campaign=campaign.name):
        claimed.extend(batch)
    if not claimed:
        return dispatcher.stats
    dispatcher.stats.claimed += len(claimed)
    dispatcher.stats.batches += 1
    outcomes: list[SendResult] = []
    retry: list[tuple[MessageRecord, ErrorInfo]] = []
    try:
        await dispatcher.store.mark_in_doubt([r.message.id for r in claimed])
        result = await transport.run_campaign(campaign, [r.message for r in claimed])
        results = list(result.results)
        if len(results) != len(claimed):
            raise MessagingError(
                f"{dispatcher.transport.scheme}:// campaign returned {len(results)} results for {len(claimed)} messages",
                code=ErrorCode.PROTOCOL_ERROR,
            )
        log.info("provider campaign %s: %s", result.campaign_id, result.status)
        for rec, res in zip(claimed, results, strict=True):
            dispatcher.outcomes.classify(rec, res, outcomes, retry)
    except MessagingError as exc:
        dispatcher.outcomes.on_send_error(claimed, exc, outcomes, retry)
        if not exc.code.retryable and not exc.code.outcome_unknown:
            raise
    finally:
        for start in range(0, len(outcomes), PAGE):
            await dispatcher.store.record_results(
                outcomes[start : start + PAGE], link=dispatcher.transport.link
            )
        await dispatcher.outcomes.requeue(retry)
        if dispatcher.progress is not None:
            dispatcher.progress(dispatcher.stats)
        dispatcher.stats.send_seconds = dispatcher.stats.elapsed
    return dispatcher.stats
