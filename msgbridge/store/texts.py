"""The ids of ``words`` and ``templates``, and messages made from and into a row's body columns.

What a campaign's rows repeat is kept once, by id (``bodies.py``). Ids are
never changed or reused, so what this process has learnt of them stays true;
ids a transaction has just made are kept apart (``fresh``) until it commits,
as a rolled-back one never made them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from msgbridge.core.callbacks import CallbackTarget
from msgbridge.core.message import CALLBACK, Message
from msgbridge.store.base import MessageRecord
from msgbridge.store.bodies import BodyRow, extras_from, extras_of, split_key, template
from msgbridge.store.dialect import Conn
from msgbridge.store.rows import MessageRow
from msgbridge.store.writes import INSERT_WORD

_ROW = len(MessageRow._fields)


class Texts:
    """One store's view of ``words`` and ``templates``: texts by id, ids by text, each campaign's template."""

    def __init__(self) -> None:
        # By text: ids committed, so known to every later transaction; made by the open one: ``fresh``.
        self.word_id_of: dict[str, int] = {}
        self.template_id_of: dict[str, int] = {}
        self.fresh: dict[tuple[str, str], int] = {}
        self.words: dict[int, str] = {}
        self.templates: dict[int, str] = {}
        # Each campaign's template as last read, for enqueue to keep only what fills it in. Another
        # process may change it (``--append`` with a new template): rows written against the old one
        # still name it and read back right; they are only not as short as they could be.
        self.campaign_templates: dict[str, str | None] = {}

    def keep(self) -> None:
        """The transaction committed: what it made is known for good."""
        for (kind, text), id_ in self.fresh.items():
            (self.word_id_of if kind == "w" else self.template_id_of)[text] = id_
        self.fresh.clear()

    def forget(self) -> None:
        """The transaction rolled back: nothing it made exists."""
        self.fresh.clear()

    def campaign_changed(self, name: str) -> None:
        self.campaign_templates.pop(name, None)

    async def word_ids(self, c: Conn, texts: Iterable[str | None]) -> dict[str | None, int | None]:
        """The ``words`` id of each text, made inside ``c``'s transaction where it is new."""
        out: dict[str | None, int | None] = {None: None}
        missing = []
        for text in set(texts):
            if text is None:
                continue
            found = self.word_id_of.get(text) or self.fresh.get(("w", text))
            if found is None:
                missing.append(text)
            else:
                out[text] = found
        if missing:
            # Sorted: two writers adding the same new words wait for each other in one order (PostgreSQL).
            missing.sort()
            await c.bulk(INSERT_WORD, [(t,) for t in missing])
            for id_, text in await c.fetch_in("SELECT id, text FROM words WHERE text {in}", missing):
                out[text] = self.fresh[("w", text)] = int(id_)
        return out

    async def template_id(self, c: Conn, text: str) -> int:
        found = self.template_id_of.get(text) or self.fresh.get(("t", text))
        if found is None:
            rows = await c.fetch("SELECT MIN(id) FROM templates WHERE text = ?", [text])
            if rows and rows[0][0] is not None:
                found = int(rows[0][0])
            else:  # two writers may both add it (PostgreSQL): two ids for one text, either reads back right
                rows = await c.fetch("INSERT INTO templates (text) VALUES (?) RETURNING id", [text])
                found = int(rows[0][0])
            self.fresh[("t", text)] = found
        return found

    async def load(self, c: Conn, words: Iterable[int | None], templates: Iterable[int | None] = ()) -> None:
        """Make sure ``_words`` and ``_templates`` hold these ids (ids never change, so they stay valid)."""
        if any(w is not None and w not in self.words for w in words):
            self.words.update((int(i), t) for i, t in await c.fetch("SELECT id, text FROM words"))
        if any(t is not None and t not in self.templates for t in templates):
            self.templates.update((int(i), t) for i, t in await c.fetch("SELECT id, text FROM templates"))

    async def body_columns(self, c: Conn, entries: Sequence[tuple[Message, str]]) -> list[tuple[Any, ...]]:
        """(id, key_prefix, key_rest, campaign_id, phone, template_id, text, sender_id, reference, extras,
        callback_id) of each (message, idempotency key): see bodies.py."""
        campaigns = {m.campaign for m, _ in entries if m.campaign is not None}
        made: dict[str, Any] = {}
        for name in campaigns:
            if name not in self.campaign_templates:
                rows = await c.fetch("SELECT template FROM campaigns WHERE name = ?", [name])
                self.campaign_templates[name] = rows[0][0] if rows else None
            text = self.campaign_templates[name]
            if text is not None:
                made[name] = (await self.template_id(c, text), template(text))
        keys = [split_key(key) for _, key in entries]
        # A target in its canonical text, so one target is one word whatever spelling it came in.
        targets = [
            CallbackTarget.loads(t).dumps() if (t := m.metadata.get(CALLBACK)) is not None else None
            for m, _ in entries
        ]
        ids = await self.word_ids(
            c, [*campaigns, *(m.sender for m, _ in entries), *(head for head, _ in keys), *targets]
        )
        out = []
        for (m, _), (head, rest), target in zip(entries, keys, targets, strict=True):
            template_id, text = None, m.text
            if m.campaign in made:
                found_id, shape = made[m.campaign]
                fills = shape.fills(m.text)
                if fills is not None:
                    template_id, text = found_id, fills
            out.append(
                (
                    m.id,
                    ids[head] if head is not None else 0,
                    rest,
                    ids[m.campaign],
                    None if m.to == rest else m.to,
                    template_id,
                    text,
                    ids[m.sender],
                    m.reference,
                    extras_of(m),
                    ids[target],
                )
            )
        return out

    def text(self, body: BodyRow) -> str:
        """The text a row's body columns hold: the campaign's template filled in, or the text itself."""
        if body.template_id is not None:
            return template(self.templates[body.template_id]).text(body.text)
        return body.text

    def message(self, body: BodyRow) -> Message:
        """The message a row's body columns hold (after ``_texts`` for its ids)."""
        text = self.text(body)
        extras = extras_from(body.extras)
        if body.callback_id is not None:
            extras["metadata"] = {**extras.get("metadata", {}), CALLBACK: self.words[body.callback_id]}
        return Message(
            id=body.id,
            to=body.phone if body.phone is not None else body.key_rest,
            text=text,
            sender=self.words[body.sender_id] if body.sender_id is not None else None,
            reference=body.reference,
            campaign=self.words[body.campaign_id] if body.campaign_id is not None else None,
            **extras,
        )

    async def records(
        self, c: Conn, rows: Sequence[Sequence[Any]], known: dict[str, Message] | None = None
    ) -> list[MessageRecord]:
        """Records of rows shaped (MessageRow with ``link_id`` for ``link``, BodyRow...)."""
        bodies = [BodyRow(*r[_ROW:]) for r in rows]
        await self.load(
            c,
            [r[5] for r in rows]
            + [b.sender_id for b in bodies]
            + [b.campaign_id for b in bodies]
            + [b.callback_id for b in bodies],
            [b.template_id for b in bodies],
        )
        out = []
        for r, body in zip(rows, bodies, strict=True):
            row = self.row(r)
            m = known.get(row.id) if known else None
            out.append(row.record(m if m is not None else self.message(body)))
        return out

    def row(self, r: Sequence[Any]) -> MessageRow:
        """A MessageRow from a row whose ``link`` is the ``link_id`` (resolved by ``_texts`` before)."""
        link = r[5]
        return MessageRow._make([*r[:5], self.words[link] if link is not None else None, *r[6:_ROW]])
