"""Whether a text can go out as one message at all: the rule every way in shares.

A campaign row, ``msgbridge send``, the HTTP API, the Python client and the SMPP and Kannel fronts all refuse
the same texts with the same codes, before anything is queued: an empty text (nothing to send), one with a
NUL character (no transport carries it intact: C strings end there, SMPP's short_message among them), and
one that needs more segments than a concatenated message may have (``MAX_SEGMENTS``: the UDH counts parts
in one byte). Refused at the transport instead, such a text would already be in the outbox.
"""

from __future__ import annotations

from msgbridge.core.encoding import TextInfo, info
from msgbridge.core.errors import ConfigError, ErrorCode

EMPTY = "the text is empty"


def check_text(text: str, *, empty: str = EMPTY) -> TextInfo:
    """The measured text, or a ConfigError (INVALID_ARGUMENT, or MESSAGE_TOO_LONG) saying why it cannot be
    sent. ``empty``: what to say of an empty one, where the caller knows why it is empty."""
    if not text.strip():
        raise ConfigError(empty)
    if "\x00" in text:
        raise ConfigError("the text contains a NUL character")
    measured = info(text)
    if measured.too_long:
        raise ConfigError(
            f"the text needs {measured.segments} segments, more than a message may have",
            code=ErrorCode.MESSAGE_TOO_LONG,
        )
    return measured
