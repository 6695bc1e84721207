"""A message as columns of its ``messages`` row, without what every row of a campaign repeats.

Schema version 3 keeps no JSON body per message. A campaign's messages share
their template, sender, campaign name and the first part of their idempotency
key (``campaign:``), so those are kept once and named by a small number:

- ``words``: short texts many rows repeat (campaign names, senders, links, the
  part of an idempotency key before its first ``:``), each once, by id;
- ``templates``: campaign templates, each text once. A message rendered from
  its campaign's template keeps only what was filled in (``fills``: the
  values between the template's literal pieces, joined by U+001F); any other
  text is kept whole. The values are what lies between the pieces, so
  joining pieces and values gives the text back exactly whatever the values
  hold (a literal piece, a brace); a text that cannot be split so (another
  template, a value holding U+001F) is kept whole;
- the idempotency key is ``(key_prefix, key_rest)``: the word before the
  first ``:`` (0 for a key without one) and the rest. For a campaign's
  ``campaign:E.164`` the rest is the phone, so ``phone`` is left NULL
  ("the same as ``key_rest``");
- the rarer fields (channel other than SMS, subject, html, validity,
  scheduled_at, metadata) are one JSON object, ``extras``, NULL for an SMS;
- the callback target (``metadata["callback"]``, a ``CallbackTarget`` as JSON)
  is a word of its own (``callback_id``): many messages name one target, and
  the events of a status change read it without parsing ``extras``.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from msgbridge.core.message import CALLBACK, RECEIPT_ID, Channel, Message

SEPARATOR = "\x1f"
# A template's holes, as core/template.py writes them; ``{{`` and ``}}`` stand for one brace.
_HOLE = re.compile(r"\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_.-]*\}")


class Template:
    """A template's literal pieces, and what a text filled in between them."""

    __slots__ = ("pieces",)

    def __init__(self, text: str) -> None:
        pieces, piece, at = [], "", 0
        for m in _HOLE.finditer(text):
            piece += text[at : m.start()]
            at = m.end()
            if m.group(0) in ("{{", "}}"):
                piece += m.group(0)[0]
            else:
                pieces.append(piece)
                piece = ""
        pieces.append(piece + text[at:])
        self.pieces: tuple[str, ...] = tuple(pieces)

    def fills(self, text: str) -> str | None:
        """What ``text`` filled into this template, or None when it is not this template filled in.

        The first piece must start the text and the last end it; each one between is taken where it is
        first found. Linear in the text (no backtracking), and the values are what lies between the
        pieces, so pieces and values in turn are the text. A text it cannot split so, or a value holding
        the separator, is None (kept whole).
        """
        pieces = self.pieces
        first, last = pieces[0], pieces[-1]
        if len(pieces) == 1:
            return "" if text == first else None
        end = len(text) - len(last)
        if end < len(first) or not text.startswith(first) or not text.endswith(last):
            return None
        if len(pieces) == 2:  # one hole (the common template): the value is what lies between
            value = text[len(first) : end]
            return None if SEPARATOR in value else value
        values, at = [], len(first)
        for piece in pieces[1:-1]:
            found = text.find(piece, at, end)
            if found < 0:
                return None
            values.append(text[at:found])
            at = found + len(piece)
        values.append(text[at:end])
        if any(SEPARATOR in v for v in values):
            return None
        return SEPARATOR.join(values)

    def text(self, fills: str) -> str:
        if len(self.pieces) == 1:
            return self.pieces[0]
        values = fills.split(SEPARATOR)
        out = [self.pieces[0]]
        for value, piece in zip(values, self.pieces[1:], strict=True):
            out += (value, piece)
        return "".join(out)


@functools.lru_cache(maxsize=64)
def template(text: str) -> Template:
    return Template(text)


def split_key(key: str) -> tuple[str | None, str]:
    """(the word before the first ``:``, or None; the rest)."""
    head, colon, rest = key.partition(":")
    return (head, rest) if colon else (None, key)


def receipt_id_of(extras: str | None) -> str | None:
    """The ``RECEIPT_ID`` in the metadata of a row's ``extras``; None for most rows, which have no extras."""
    if extras is None:
        return None
    value = json.loads(extras).get("metadata", {}).get(RECEIPT_ID)
    return value if isinstance(value, str) else None


def extras_of(m: Message) -> str | None:
    """The rarer fields of ``m``, as JSON; None when it has none of them (an SMS)."""
    out: dict[str, Any] = {}
    if m.channel is not Channel.SMS:
        out["channel"] = m.channel.value
    if m.subject is not None:
        out["subject"] = m.subject
    if m.html is not None:
        out["html"] = m.html
    if m.validity is not None:
        out["validity"] = m.validity.total_seconds()
    if m.scheduled_at is not None:
        out["scheduled_at"] = m.scheduled_at.isoformat()
    if m.metadata:
        metadata = (
            {k: v for k, v in m.metadata.items() if k != CALLBACK} if CALLBACK in m.metadata else m.metadata
        )
        if metadata:
            out["metadata"] = metadata
    return json.dumps(out) if out else None


def extras_from(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    out: dict[str, Any] = json.loads(text)
    if "channel" in out:
        out["channel"] = Channel(out["channel"])
    if "validity" in out:
        out["validity"] = timedelta(seconds=out["validity"])
    if "scheduled_at" in out:
        out["scheduled_at"] = datetime.fromisoformat(out["scheduled_at"])
    return out


class BodyRow(NamedTuple):
    """The columns of ``messages`` a :class:`Message` is made from (ids resolved to their texts)."""

    id: str
    key_rest: str
    phone: str | None
    template_id: int | None
    text: str
    sender_id: int | None
    campaign_id: int | None
    reference: str | None
    extras: str | None
    callback_id: int | None


BODY_COLUMNS = ", ".join(BodyRow._fields)
