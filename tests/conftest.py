from __future__ import annotations

from pathlib import Path

import pytest

from figures import pytest_terminal_summary  # noqa: F401 - prints what the reliability tests tried


@pytest.fixture
def write(tmp_path: Path):
    """Write a file under tmp_path and return its path."""

    def writer(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return writer
