"""The statements the store runs over many rows at once, each written once for both backends (see ``Bulk``)."""

from __future__ import annotations

from msgbridge.core.status import FINAL, DeliveryStatus
from msgbridge.store.dialect import Bulk
from msgbridge.store.rows import APPEND_TRAIL, INBOUND_COLUMNS

_T = "text"
_F = "float8"
_I = "int8"
_QUEUED_COLUMNS = (
    "id, key_prefix, key_rest, campaign_id, phone, template_id, text, sender_id, reference, extras, callback_id, "
    "csv_row, status, due, created_at, updated_at"
)
_QUEUED_TYPES = (_T, _I, _T, _I, _T, _I, _T, _I, _T, _T, _I, "int4", _T, _F, _F, _F)


def _insert_messages(extra: tuple[tuple[str, str], ...] = ()) -> Bulk:
    names = "".join(f", {name}" for name, _ in extra)
    marks = ", ".join("?" * (len(_QUEUED_TYPES) + len(extra)))
    return Bulk(
        f"INSERT INTO messages ({_QUEUED_COLUMNS}{names}) VALUES ({marks}) ON CONFLICT DO NOTHING",
        _QUEUED_TYPES + tuple(kind for _, kind in extra),
        (0,),
        copy=True,
    )


# What enqueue writes; the rest of a row starts at its default. A batch with prices writes them too; one
# without (most) binds nothing for them.
INSERT_MESSAGES = _insert_messages()
INSERT_PRICED_MESSAGES = _insert_messages((("price", _I), ("price_currency_id", _I)))
# The step 2 -> 3: every column, as the old row had it.
COPY_MESSAGES = Bulk(
    "INSERT INTO messages_v3 (id, key_prefix, key_rest, campaign_id, phone, template_id, text, sender_id, reference, "
    "extras, callback_id, csv_row, status, attempts, native_id, native_ids, link_id, segments, error_code, "
    "error_native_code, error_text, error_retry_after, due, created_at, updated_at, trail, claimed_by) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    (_T, _I, _T, _I, _T, _I, _T, _I, _T, _T, _I, "int4", _T, "int4", _T, _T, _I, "int4", _T, _T, _T, _F, _F, _F,
     _F, _T, "int4"),
    (),
)  # fmt: skip
# ``due`` after a status change: kept (a retry time) while QUEUED or MAYBE_SUBMITTED, the time of the
# change while a receipt is awaited (the order pollers ask in), NULL once final. ``?`` 1: keep it.
_DUE = "due = CASE WHEN ? = 1 THEN COALESCE(due, 0) ELSE ? END"


def due_after(status: DeliveryStatus, now: float) -> tuple[int, float | None]:
    """``_DUE``'s two values after a change to ``status``: (1 to keep it, else this)."""
    if status in (DeliveryStatus.QUEUED, DeliveryStatus.MAYBE_SUBMITTED):
        return 1, None
    return 0, (None if status in FINAL else now)


RESULT_UPDATE = Bulk(
    "UPDATE messages SET status = ?, native_id = COALESCE(?, native_id), native_ids = COALESCE(?, native_ids), "
    "link_id = ?, segments = ?, error_code = ?, error_native_code = ?, error_text = ?, error_retry_after = ?, "
    f"updated_at = ?, claimed_by = NULL, {_DUE}, {APPEND_TRAIL} WHERE id = ?",
    (_T, _T, _T, _I, "int4", _T, _T, _T, _F, _F, "int4", _F, _I, _T, _T),
    (14,),
)
# An earlier attempt's trail line, at its own time, before the result's (``RESULT_UPDATE``) in one call.
ATTEMPT_TRAIL = Bulk(f"UPDATE messages SET {APPEND_TRAIL} WHERE id = ?", (_I, _T, _T), (2,))
# What the provider said it charged (``SendResult.cost``), for the results that say: most say nothing,
# and their UPDATE (``RESULT_UPDATE``) carries no cost columns for them.
COST_UPDATE = Bulk("UPDATE messages SET cost = ?, cost_currency_id = ? WHERE id = ?", (_I, _I, _T), (2,))
SEGMENT_UPSERT = Bulk(
    "INSERT INTO segments (message_id, seq, link, native_id, status) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (message_id, seq) DO UPDATE SET link = excluded.link, native_id = excluded.native_id, "
    "status = excluded.status",
    (_T, "int4", _T, _T, _T),
    (0, 1),
)
REQUEUE_UPDATE = Bulk(
    "UPDATE messages SET status = ?, due = ?, error_code = COALESCE(?, error_code), "
    "error_native_code = COALESCE(?, error_native_code), error_text = COALESCE(?, error_text), "
    f"error_retry_after = ?, updated_at = ?, claimed_by = NULL, {APPEND_TRAIL} WHERE id = ?",
    (_T, _F, _T, _T, _T, _F, _F, _I, _T, _T),
    (9,),
)
SEGMENT_STATUS = Bulk(
    "UPDATE segments SET status = ? WHERE message_id = ? AND seq = ?", (_T, _T, "int4"), (1, 2)
)
RECEIPT_UPDATE = Bulk(
    "UPDATE messages SET status = ?, error_code = COALESCE(?, error_code), "
    "error_native_code = COALESCE(?, error_native_code), error_text = COALESCE(?, error_text), "
    f"updated_at = ?, {_DUE}, {APPEND_TRAIL} WHERE id = ?",
    (_T, _T, _T, _T, _F, "int4", _F, _I, _T, _T),
    (9,),
)
PARK_RECEIPTS = Bulk(
    "INSERT INTO receipts (link, native_id, status, native_status, error, message_hint, received_at, matched) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    (_T, _T, _T, _T, _T, _T, "float8", "bool"),
    (),
)
MATCH_PARKED = Bulk("UPDATE receipts SET matched = true, message_id = ? WHERE id = ?", (_T, "int8"), (1,))
INSERT_INBOUND = Bulk(
    f"INSERT INTO inbound ({INBOUND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    (_T, _T, _T, _T, _T, "float8", "int4", _T),
    (0,),
)
PREPEND_TRAIL = Bulk("UPDATE messages SET trail = ? || COALESCE(trail, '') WHERE id = ?", (_T, _T), (1,))
INSERT_WORD = Bulk("INSERT INTO words (text) VALUES (?) ON CONFLICT DO NOTHING", (_T,), ())
