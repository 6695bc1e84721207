"""Files of credentials (API keys, SMPP accounts): replaced whole, readable by their owner only.

One writer for both, so a reader (a running ``serve`` re-reading the file) never sees half a file and a
credential file is never left world-readable, whichever command wrote it.
"""

from __future__ import annotations

import os
from pathlib import Path

from msgbridge.core.errors import ConfigError


def write_private(path: str | Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600; ``what`` names the file in the error."""
    file = Path(path)
    temp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, file)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {what} {file}: {exc.strerror or exc}") from exc
