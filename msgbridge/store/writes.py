"""The statements the store runs over many rows at once, each written once for both backends (see ``Bulk``)."""

from __future__ import annotations

from msgbridge.store.dialect import Bulk
from msgbridge.store.rows import APPEND_TRAIL, INBOUND_COLUMNS

_T = "text"
INSERT_MESSAGES = Bulk(
    "INSERT INTO messages (id, idempotency_key, campaign, reference, csv_row, status, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    (_T, _T, _T, _T, "int4", _T, "float8", "float8"),
    (0,),
)
INSERT_BODIES = Bulk("INSERT INTO bodies (id, body) VALUES (?, ?)", (_T, _T), (0,))
RESULT_UPDATE = Bulk(
    "UPDATE messages SET status = ?, native_id = COALESCE(?, native_id), native_ids = COALESCE(?, native_ids), "
    "link = ?, segments = ?, error_code = ?, error_native_code = ?, error_text = ?, error_retry_after = ?, "
    f"updated_at = ?, claimed_by = NULL, {APPEND_TRAIL} WHERE id = ?",
    (_T, _T, _T, _T, "int4", _T, _T, _T, "float8", "float8", _T, _T),
    (11,),
)
SEGMENT_UPSERT = Bulk(
    "INSERT INTO segments (message_id, seq, link, native_id, status) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (message_id, seq) DO UPDATE SET link = excluded.link, native_id = excluded.native_id, "
    "status = excluded.status",
    (_T, "int4", _T, _T, _T),
    (0, 1),
)
REQUEUE_UPDATE = Bulk(
    "UPDATE messages SET status = ?, next_attempt_at = ?, error_code = COALESCE(?, error_code), "
    "error_native_code = COALESCE(?, error_native_code), error_text = COALESCE(?, error_text), "
    f"error_retry_after = ?, updated_at = ?, claimed_by = NULL, {APPEND_TRAIL} WHERE id = ?",
    (_T, "float8", _T, _T, _T, "float8", "float8", _T, _T),
    (8,),
)
SEGMENT_STATUS = Bulk(
    "UPDATE segments SET status = ? WHERE message_id = ? AND seq = ?", (_T, _T, "int4"), (1, 2)
)
RECEIPT_UPDATE = Bulk(
    "UPDATE messages SET status = ?, error_code = COALESCE(?, error_code), "
    "error_native_code = COALESCE(?, error_native_code), error_text = COALESCE(?, error_text), "
    f"updated_at = ?, {APPEND_TRAIL} WHERE id = ?",
    (_T, _T, _T, _T, "float8", _T, _T),
    (6,),
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
