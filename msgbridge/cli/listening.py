"""The one-line error of a command that could not get its listening socket (port in use, no permission).

``sim smsc``, ``sim http`` and ``gateway smtp`` all bind a port given by the
user; when that fails the user needs the address, the port and the reason,
not asyncio's traceback.
"""

from __future__ import annotations

import errno

import click

REASONS: dict[int, str] = {
    errno.EADDRINUSE: "address already in use (another process listens there)",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "address not available on this machine",
}


def bind_error(host: str, port: int, exc: OSError) -> click.ClickException:
    """The error to raise for ``exc`` from binding ``host:port``."""
    reason = REASONS.get(exc.errno or 0) or exc.strerror or str(exc) or type(exc).__name__
    shown = f"[{host}]" if ":" in host else host
    return click.ClickException(f"cannot listen on {shown}:{port}: {reason}")
