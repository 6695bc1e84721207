"""Files of credentials (API keys, SMPP accounts): replaced whole, readable by their owner only.

One writer for both, so a reader (a running ``serve`` re-reading the file) never sees half a file and a
credential file is never left world-readable, whichever command wrote it; one reader, so both name the
file the same way in every error (unreadable, not TOML, a section that is not a table).
"""

from __future__ import annotations

import os
import time
import tomllib
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


def read_private(path: str | Path, what: str) -> str | None:
    """The text of ``path``, or None when there is no such file; ``what`` names it in the error."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {file}: {getattr(exc, 'strerror', None) or exc}") from exc


def toml_section(text: str, source: str, what: str, section: str) -> dict[str, object]:
    """The ``[section]`` table of a credential file's TOML text (absent: empty)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {source} is not valid TOML: {exc}") from exc
    table = data.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{what} {source}: [{section}] must be a table")
    return table


class FileWatch:
    """Whether a file changed since it was last read, looked at most once per interval: a running server
    re-reads a credential file within a second of an edit without a stat() per request."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.checked = time.monotonic()  # 0.0: look at the next call, whatever the interval
        self._seen = self._stamp()
        self._pending: tuple[int, int] | None = None

    def _stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def changed(self, every: float) -> bool:
        """True when ``every`` seconds have passed since the last look and the file differs from what
        :meth:`seen` recorded; call :meth:`seen` once its new content is read and kept."""
        if self.path is None or time.monotonic() - self.checked < every:
            return False
        self.checked = time.monotonic()
        self._pending = self._stamp()
        return self._pending != self._seen

    def seen(self) -> None:
        """The content read after :meth:`changed` said so is kept (a file that did not parse is not)."""
        self._seen = self._pending
