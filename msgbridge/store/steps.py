"""The shared parts of the steps between schema versions (``schema.py`` has the tables of each).

Each runs inside the migration's one transaction (``SqlStore._migrate``).
"""

from __future__ import annotations

from msgbridge.store.dialect import Conn
from msgbridge.store.rows import STATUS_BY_VALUE, message_of, micros, trail_tail, v2_trail_entries
from msgbridge.store.schema import AFTER_2_TO_3, fold_history, statements
from msgbridge.store.texts import Texts
from msgbridge.store.writes import COPY_MESSAGES, PREPEND_TRAIL, due_after


async def outbox_to_v3(c: Conn, texts: Texts, ddl: str) -> None:
    """Step 2 -> 3: every message into the new outbox, its body as columns, its trail in short lines."""
    for statement in statements(ddl):
        await c.execute(statement)
    after = ""
    while True:
        rows = await c.fetch(
            "SELECT m.id, m.idempotency_key, m.campaign, m.reference, m.csv_row, m.status, m.attempts, "
            "m.native_id, m.native_ids, m.link, m.segments, m.error_code, m.error_native_code, m.error_text, "
            "m.error_retry_after, m.next_attempt_at, m.created_at, m.updated_at, m.trail, m.claimed_by, b.body "
            "FROM messages m JOIN bodies b ON b.id = m.id WHERE m.id > ? ORDER BY m.id LIMIT 2000",
            [after],
        )
        if not rows:
            break
        after = rows[-1][0]
        bodies = await texts.body_columns(c, [(message_of(r[20]), r[1]) for r in rows])
        links = await texts.word_ids(c, [r[9] for r in rows])
        copied = []
        for r, body in zip(rows, bodies, strict=True):
            status = STATUS_BY_VALUE[r[5]]
            keep, due = due_after(status, r[17])
            trail = "".join(
                f"{micros(at) - micros(r[16])}{trail_tail(s, note)}"
                for at, s, note in v2_trail_entries(r[18])
            )
            copied.append(
                (*body, r[4], r[5], r[6], r[7], r[8], links[r[9]], *r[10:15], r[15] if keep else due, r[16],
                 r[17], trail or None, r[19])
            )  # fmt: skip
        await c.bulk(COPY_MESSAGES, copied)
    for statement in statements(AFTER_2_TO_3):
        await c.execute(statement)


async def history_onto_trail(c: Conn, order: str) -> None:
    """Step 1 -> 2, shared part: version-1 ``history`` rows onto the trail, in front of what it holds."""
    rows = await c.fetch(f"SELECT message_id, at, status, note FROM history ORDER BY message_id, {order}")
    await c.bulk(PREPEND_TRAIL, fold_history(rows))
    await c.execute("DROP TABLE history")
