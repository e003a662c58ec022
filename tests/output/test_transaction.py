"""Refusing an unwritable target before any computing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ntkviz.errors import ConfigError
from ntkviz.output.transaction import check_writable


def test_check_writable_reports_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        check_writable(tmp_path / "nope" / "a.gif", "output")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        check_writable(blocker / "a.gif", "output")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_writable_reports_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            check_writable(folder / "a.gif", "output")
    finally:
        folder.chmod(0o755)


def test_check_writable_on_read_only_filesystem():
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    with pytest.raises(ConfigError, match="not writable"):
        check_writable(Path("/proc/self/ntkviz.gif"), "output")
