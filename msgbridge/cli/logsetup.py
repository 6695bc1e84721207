"""The CLI's logging: one stderr handler, its level from ``-v``, and the secret filter on everything.

Every command goes through :func:`setup_logging` (the root group calls it), so
``-v`` on ``send`` and on ``gateway smtp`` behaves the same, and no log line
from us or from a library underneath (httpx logs request URLs at INFO, where
``mobizon://...?key_in=query`` puts the API key) carries a secret.
"""

from __future__ import annotations

import logging
import sys

from msgbridge.core import redaction

FORMAT = "%(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: int) -> None:
    """``-v`` shows what the dispatcher and transports log at INFO, ``-vv`` at DEBUG; warnings always."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    root = logging.getLogger()
    ours: list[logging.Handler] = []
    if not root.handlers:  # as logging.basicConfig: an embedding application's own setup wins
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
        ours.append(handler)
    # Our handler filters every record; the libraries' loggers filter their own records wherever they go.
    redaction.install(ours)
