"""What one hot-path record costs to build: the frozen slotted dataclass against pydantic, in one process.

The SMPP transport builds a ``SendResult`` for every message and the
correlator a ``DeliveryReceipt`` for every receipt. This times, on the same
values and in the same run:

- ``SendResult``/``DeliveryReceipt`` as they are now, positional (as the
  transport and the correlator build them) and with keywords;
- the baseline: a frozen pydantic model with the same fields, validated, and
  the hand-built form that skipped validation (``object.__new__`` plus a
  hand-set ``__dict__`` and ``__pydantic_fields_set__``), as the transport
  built them before the records became dataclasses;
- for comparison, the same dataclass slotted but not frozen: what
  ``frozen=True`` costs (an ``object.__setattr__`` per field).

    python benchmarks/records.py               # 1,000,000 constructions per line, best of 5
    python benchmarks/records.py --count 100000

Each line gives ns per record and the ratio against the validated pydantic baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import timeit
import typing
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, Field, create_model

from msgbridge.core.message import DeliveryReceipt, SendResult
from msgbridge.core.status import DeliveryStatus


def pydantic_twin(kind: type[Any]) -> Any:
    """A frozen pydantic model with ``kind``'s fields and defaults: the record as it was before."""
    hints = typing.get_type_hints(kind)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        if f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], Field(default_factory=f.default_factory))
        elif f.default is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], f.default)
        else:
            fields[f.name] = (hints[f.name], ...)
    return create_model(f"Pydantic{kind.__name__}", __config__=ConfigDict(frozen=True), **fields)


def unfrozen(kind: type[Any]) -> Any:
    """``kind``'s fields and defaults as a slotted dataclass that is not frozen."""
    fields = [
        (f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))
        for f in dataclasses.fields(kind)
    ]
    return dataclasses.make_dataclass(f"Unfrozen{kind.__name__}", fields, slots=True)


PydanticResult = pydantic_twin(SendResult)
PydanticReceipt = pydantic_twin(DeliveryReceipt)
UnfrozenResult = unfrozen(SendResult)
UnfrozenReceipt = unfrozen(DeliveryReceipt)

_new = object.__new__
_set = object.__setattr__


def hand_built(model: Any, values: dict[str, object], fields_set: frozenset[str]) -> Any:
    """A pydantic model instance made without validation, the way the SMPP transport made them before."""
    r = _new(model)
    _set(r, "__dict__", dict(values))
    _set(r, "__pydantic_fields_set__", set(fields_set))
    _set(r, "__pydantic_extra__", None)
    _set(r, "__pydantic_private__", None)
    return r


SUBMITTED = DeliveryStatus.SUBMITTED
DELIVERED = DeliveryStatus.DELIVERED
IDS = ("0A1B2C",)
RAW: dict[str, object] = {"id": "0A1B2C"}


RESULT_VALUES: dict[str, object] = {
    "message_id": "m1",
    "status": SUBMITTED,
    "native_id": IDS[-1],
    "native_ids": IDS,
    "segments": 1,
    "error": None,
    "warnings": (),
    "raw": None,
}
RESULT_SET = frozenset({"message_id", "status", "native_id", "native_ids", "segments"})
RECEIPT_VALUES: dict[str, object] = {
    "native_id": "0A1B2C",
    "status": DELIVERED,
    "native_status": "DELIVRD",
    "error": None,
    "message_id": "m1",
    "link": "L",
    "received_at": 1.0,
    "raw": RAW,
}
RECEIPT_SET = frozenset(RECEIPT_VALUES)


CASES: dict[str, list[tuple[str, Callable[[], object]]]] = {
    "SendResult": [
        (
            "pydantic, validated (baseline)",
            lambda: PydanticResult(
                message_id="m1", status=SUBMITTED, native_id=IDS[-1], native_ids=IDS, segments=1
            ),
        ),
        ("pydantic, hand-built (before)", lambda: hand_built(PydanticResult, RESULT_VALUES, RESULT_SET)),
        (
            "dataclass, keywords",
            lambda: SendResult(
                message_id="m1", status=SUBMITTED, native_id=IDS[-1], native_ids=IDS, segments=1
            ),
        ),
        ("dataclass, positional (now)", lambda: SendResult("m1", SUBMITTED, IDS[-1], IDS, 1)),
        ("dataclass not frozen, positional", lambda: UnfrozenResult("m1", SUBMITTED, IDS[-1], IDS, 1)),
    ],
    "DeliveryReceipt": [
        (
            "pydantic, validated (baseline)",
            lambda: PydanticReceipt(
                native_id="0A1B2C",
                status=DELIVERED,
                native_status="DELIVRD",
                error=None,
                message_id="m1",
                link="L",
                received_at=1.0,
                raw=RAW,
            ),
        ),
        ("pydantic, hand-built (before)", lambda: hand_built(PydanticReceipt, RECEIPT_VALUES, RECEIPT_SET)),
        (
            "dataclass, keywords",
            lambda: DeliveryReceipt(
                native_id="0A1B2C",
                status=DELIVERED,
                native_status="DELIVRD",
                error=None,
                message_id="m1",
                link="L",
                received_at=1.0,
                raw=RAW,
            ),
        ),
        (
            "dataclass, positional (now)",
            lambda: DeliveryReceipt("0A1B2C", DELIVERED, "DELIVRD", None, "m1", "L", 1.0, RAW),
        ),
        (
            "dataclass not frozen, positional",
            lambda: UnfrozenReceipt("0A1B2C", DELIVERED, "DELIVRD", None, "m1", "L", 1.0, RAW),
        ),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000, help="constructions per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings per line; the best is shown")
    args = parser.parse_args()
    for record, cases in CASES.items():
        print(f"{record:<34} {'ns/record':>10} {'vs baseline':>12}")
        baseline = 0.0
        for name, build in cases:
            best = min(timeit.repeat(build, number=args.count, repeat=args.repeat)) / args.count * 1e9
            baseline = baseline or best
            print(f"  {name:<32} {best:>10.0f} {baseline / best:>11.2f}x")
        print()


if __name__ == "__main__":
    main()
