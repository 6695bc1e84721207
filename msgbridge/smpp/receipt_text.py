"""The delivery receipt text: written by the simulator, read by the client, declared here once.

SMPP 3.4 Appendix B gives the de-facto layout of a receipt's short_message
(``id:... sub:... dlvrd:... submit date:... done date:... stat:... err:...
text:...``) and the 7-letter stat words; §5.2.28 numbers the message states
the ``message_state`` TLV carries. Real SMSCs reorder the fields, write
``Text:``, add seconds to the dates: so the reader has a one-pass pattern for
the usual layout and one pattern per field, searched anywhere, for the rest.
"""

from __future__ import annotations

import re

# message_state (SMPP 3.4 §5.2.28) -> its name, and the stat word a receipt text writes for it (Appendix B).
MESSAGE_STATES: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVERED",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIVERABLE",
    6: "ACCEPTED",
    7: "UNKNOWN",
    8: "REJECTED",
}
STAT_WORDS: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

# The characters of an id: a dot too, as the SMPP front's ``<message id>.<k>`` for part k of a long message
# (without it "id:abc.2" read as "abc", the id of no part, whenever a receipt came without its TLVs).
_ID = r"[0-9A-Za-z_.\-]+"

# One regex per field, searched anywhere, so field order and extra fields do not matter.
FIELD_PATTERNS: dict[str, re.Pattern[str]] = {
    "id": re.compile(rf"(?:^|\s)id:\s*({_ID})", re.IGNORECASE),
    "sub": re.compile(r"\bsub:\s*(\w+)", re.IGNORECASE),
    "dlvrd": re.compile(r"\bdlvrd:\s*(\w+)", re.IGNORECASE),
    "submit_date": re.compile(r"\bsubmit[ _]date:\s*(\d{10,12})", re.IGNORECASE),
    "done_date": re.compile(r"\bdone[ _]date:\s*(\d{10,12})", re.IGNORECASE),
    "stat": re.compile(r"\bstat:\s*([A-Za-z_]+)", re.IGNORECASE),
    "err": re.compile(r"\berr:\s*(\w+)", re.IGNORECASE),
    "text": re.compile(r"\btext:(.*)", re.IGNORECASE | re.DOTALL),
}

# The common layout in one pass; anything else falls back to the per-field search.
STANDARD = re.compile(
    rf"id:(?P<id>{_ID}) sub:(?P<sub>\w+) dlvrd:(?P<dlvrd>\w+) "
    r"submit date:(?P<submit_date>\d{10,12}) done date:(?P<done_date>\d{10,12}) "
    r"stat:(?P<stat>[A-Za-z_]+) err:(?P<err>\w+)(?: [Tt]ext:(?P<text>.*))?$",
    re.DOTALL,
)


def format_receipt(
    message_id: str, sub: int, dlvrd: int, submit_date: str, done_date: str, stat: str, err: int, text: str
) -> str:
    """The usual layout (the one :data:`STANDARD` reads in one pass); dates are ``YYMMDDhhmm``."""
    return (
        f"id:{message_id} sub:{sub:03d} dlvrd:{dlvrd:03d} submit date:{submit_date} "
        f"done date:{done_date} stat:{stat} err:{err % 1000:03d} text:{text}"
    )


def parse_text(text: str) -> dict[str, str]:
    """Every recognised ``name:value`` field of a receipt text."""
    m = STANDARD.match(text)
    if m is not None:
        fields = m.groupdict()
        if fields["text"] is None:
            del fields["text"]
        return fields
    out: dict[str, str] = {}
    for name, pattern in FIELD_PATTERNS.items():
        m = pattern.search(text)
        if m:
            out[name] = m.group(1).strip() if name != "text" else m.group(1)
    return out
