"""What a test of the command line gets back from the ``msgbridge`` fixture (``conftest.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        """Standard output, then standard error: everything a terminal would show."""
        return self.out + self.err

    def json(self) -> dict[str, object]:
        return json.loads(self.out)  # type: ignore[no-any-return]
