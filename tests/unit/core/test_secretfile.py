"""Credential files: written whole with mode 0600, and a change noticed until its content is kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from msgbridge.core.errors import ConfigError
from msgbridge.core.secretfile import FileWatch, write_private


def test_written_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    write_private(path, "a = 1\n", "key file")
    assert path.read_text() == "a = 1\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys.toml"]  # no temporary left behind
    with pytest.raises(ConfigError, match="cannot write key file"):
        write_private(tmp_path / "missing" / "keys.toml", "x", "key file")


def test_a_change_is_reported_until_seen_and_not_between_looks(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text("one")
    watch = FileWatch(path)
    assert not watch.changed(0.0)  # as it was when the watch began
    path.write_text("two, longer")
    assert not watch.changed(3600.0)  # the interval has not passed
    assert watch.changed(0.0)
    assert watch.changed(0.0)  # not seen (it did not parse, say): still a change at the next look
    watch.seen()
    assert not watch.changed(0.0)
    assert not FileWatch(None).changed(0.0)
