"""The formats a target may name (validated in core) are exactly the formats the worker can build."""

from __future__ import annotations

from msgbridge.core import callbacks
from msgbridge.webhooks.formats import FORMATS


def test_every_accepted_format_has_a_builder_and_no_builder_is_unreachable() -> None:
    assert sorted(callbacks.FORMATS) == sorted(FORMATS)
    for name, fmt in FORMATS.items():
        assert fmt.name == name
