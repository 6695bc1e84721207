"""What one status change costs SQLite in the outbox, with the open-message indexes and without them.

    python benchmarks/store_status_change.py                 # 50,000 messages
    python benchmarks/store_status_change.py --rows 10000    # smoke run

A message changes status three times after its INSERT (in doubt, answered,
receipted), and each change is an UPDATE of its row by id. This builds an
outbox with ``SqliteStore.enqueue``, then times, in SQLite alone (no store
code around it), the same UPDATE a result makes (status, native id, due,
updated_at and a trail line, in ``executemany`` batches of 500, one
transaction each) on a copy of that file as the schema has it, and on a copy
without the two indexes every status change rewrites (``messages_open`` and
``messages_origin``, which the claims, the settling of what is in doubt and
the service's lanes read). It prints both and their ratio: the part of a
status change that is those indexes' upkeep, and the least a change costs in
a row-per-message outbox without them. A third copy is changed by the integer
row number ``n`` instead of the text ``id`` (one index lookup fewer per
change), to show whether that lookup matters.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from smpp_campaign import enqueue_bench  # beside this file

from msgbridge.store.sqlite import SqliteStore

BATCH = 500
CHANGE = (
    "UPDATE messages SET status = 'SUBMITTED', native_id = ?, updated_at = ?, due = ?, "
    "trail = COALESCE(trail, '') || ? WHERE {key} = ?"
)
OPEN_INDEXES = ("messages_open", "messages_origin")


async def build(path: Path, rows: int) -> None:
    async with SqliteStore(path, checkpoint_interval=0) as store:
        await enqueue_bench(store, rows)


def copy(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copy(source, target)


def change_cost(path: Path, drop: tuple[str, ...], key: str = "id") -> float:
    """CPU µs per row of the result's UPDATE over every message of ``path`` by ``key`` (``id`` or
    ``n``), after dropping ``drop``."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384"):
            db.execute(f"PRAGMA {pragma}")
        for index in drop:
            db.execute(f"DROP INDEX {index}")
        ids = [r[0] for r in db.execute(f"SELECT {key} FROM messages ORDER BY n")]
        change = CHANGE.format(key=key)
        cpu = 0.0
        for start in range(0, len(ids), BATCH):
            rows = [(str(10**9 + start + k), 1.0, 2.0, "1500S", mid) for k, mid in enumerate(ids[start : start + BATCH])]
            c0 = time.thread_time()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(change, rows)
            db.execute("COMMIT")
            cpu += time.thread_time() - c0
        return cpu / len(ids) * 1e6
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="status-change-") as tmp:
        base = Path(tmp) / "outbox.db"
        asyncio.run(build(base, args.rows))
        with_indexes: list[float] = []
        without: list[float] = []
        by_n: list[float] = []
        for _ in range(args.rounds):
            for drop, key, out in (((), "id", with_indexes), (OPEN_INDEXES, "id", without), ((), "n", by_n)):
                work = Path(tmp) / "work.db"
                copy(base, work)
                out.append(change_cost(work, drop, key))
    best_with, best_without = min(with_indexes), min(without)
    print(f"{args.rows:,} messages, UPDATE of a result in batches of {BATCH}, SQLite alone, best of {args.rounds}:")
    print(f"  as the schema has it: {best_with:.1f} µs per status change")
    print(f"  without {' and '.join(OPEN_INDEXES)}: {best_without:.1f} µs per status change")
    print(f"  as the schema has it, by row number n: {min(by_n):.1f} µs per status change "
          f"({min(by_n) / best_with:.2f}x by id)")
    print(f"  the two indexes' upkeep: {best_with - best_without:.1f} µs, {1 - best_without / best_with:.0%} of a change; "
          f"a message's three changes after its INSERT cost SQLite {3 * best_with:.1f} µs as the schema has it")  # fmt: skip


if __name__ == "__main__":
    main()
