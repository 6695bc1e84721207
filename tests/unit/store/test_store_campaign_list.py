"""``Store.list_campaigns``: the newest campaigns first, on SQLite and PostgreSQL (the dashboard's list)."""

from __future__ import annotations

from test_store import store  # noqa: F401 -- the fixture: one store of each backend

from msgbridge.store.base import CampaignRecord, Store


async def test_the_newest_campaigns_come_first_and_limit_counts(store: Store) -> None:  # noqa: F811
    assert await store.list_campaigns(10) == []
    for i, name in enumerate(["spring", "summer", "autumn"]):
        await store.save_campaign(
            CampaignRecord(
                name=name,
                template=f"t{i}",
                sender=None,
                transport="sms",
                created_at=100.0 + i,
                options={"k": "v"},
            )
        )
    listed = await store.list_campaigns(10)
    assert [c.name for c in listed] == ["autumn", "summer", "spring"]
    assert listed[0] == await store.get_campaign("autumn")
    assert [c.name for c in await store.list_campaigns(2)] == ["autumn", "summer"]
