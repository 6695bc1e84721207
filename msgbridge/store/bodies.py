"""A message as columns of its ``messages`` row, without what every row of a campaign repeats.

Schema version 3 keeps no JSON body per message. A campaign's messages share
their template, sender, campaign name and the first part of their idempotency
key (``campaign:``), so those are kept once and named by a small number:

- ``words``: short texts many rows repeat (campaign names, senders, links, the
  part of an idempotency key before its first ``:``), each once, by id;
- ``templates``: campaign templates, each text once. A message rendered from
  its campaign's template keeps only what was filled in (``fills``: the
  values between the template's literal pieces, joined by U+001F); any other
  text is kept whole. The values are what a full match of the pieces leaves
  between them, so joining pieces and values gives the text back exactly
  whatever the values hold (a literal piece, a brace); a text that does not
  match (another template, a value holding U+001F) is kept whole;
- the idempotency key is ``(key_prefix, key_rest)``: the word before the
  first ``:`` (0 for a key without one) and the rest. For a campaign's
  ``campaign:E.164`` the rest is the phone, so ``phone`` is left NULL
  ("the same as ``key_rest``");
- the rarer fields (channel other than SMS, subject, html, validity,
  scheduled_at, metadata) are one JSON object, ``extras``, NULL for an SMS.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from msgbridge.core.message import Channel, Message

SEPARATOR = "\x1f"
# A template's holes, as core/template.py writes them; ``{{`` and ``}}`` stand for one brace.
_HOLE = re.compile(r"\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_.-]*\}")


class Template:
    """A template's literal pieces, and the pattern that finds what a text filled in between them."""

    __slots__ = ("pattern", "pieces")

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
        self.pattern = re.compile("(.*?)".join(map(re.escape, pieces)), re.DOTALL)

    def fills(self, text: str) -> str | None:
        """What ``text`` filled into this template, or None when it is not this template filled in."""
        m = self.pattern.fullmatch(text)
        if m is None:
            return None
        # A full match is the text as pieces and values in turn, so ``text()`` gives it back, unless a value
        # holds the separator (then it could not be split again).
        values = m.groups()
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
        out["metadata"] = m.metadata
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


BODY_COLUMNS = ", ".join(BodyRow._fields)
