"""The hot-path records at the edges: JSON out, validated values in, a JSON schema to publish.

``SendResult``, ``DeliveryReceipt``, ``InboundMessage`` and ``ErrorInfo`` are
plain dataclasses so the transports can make them by the hundred thousand
without validation (see ``msgbridge.core.message``). Where one leaves the
process (the CLI's JSON, a parked receipt in the store, an HTTP API) or comes
back in from text, pydantic does the work it is good at, through one
``TypeAdapter`` per record type: the same rules and the same schema an API
would generate from a pydantic model.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def adapter(kind: type[T]) -> TypeAdapter[T]:
    """The one TypeAdapter for ``kind``, built on first use (a build costs milliseconds, not a lookup)."""
    found = _ADAPTERS.get(kind)
    if found is None:
        found = _ADAPTERS[kind] = TypeAdapter(kind)
    return found


def dump(record: object) -> dict[str, Any]:
    """``record`` as JSON-ready values (enums as their values, tuples as lists)."""
    data: dict[str, Any] = adapter(type(record)).dump_python(record, mode="json")
    return data


def dump_json(record: object) -> str:
    return adapter(type(record)).dump_json(record).decode()


def load(kind: type[T], data: object) -> T:
    """A ``kind`` validated from plain values (a dict as :func:`dump` gives it, or parsed JSON)."""
    return adapter(kind).validate_python(data)


def load_json(kind: type[T], text: str | bytes) -> T:
    return adapter(kind).validate_json(text)


def json_schema(kind: type[Any]) -> dict[str, Any]:
    """The JSON schema of ``kind``, as an HTTP API would publish it."""
    return adapter(kind).json_schema()
