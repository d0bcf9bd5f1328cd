"""The README's runnable blocks: each is marked `<!-- ci:block NAME -->` on the line before its fence, and a test
runs it (`tests/test_readme.py` checks that every marked block has one). The test command between the
`ci:test-command` markers is run by `.ci/run`."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^<!-- ci:block (?P<name>[\w-]+) -->\n```[\w-]*\n(?P<body>.*?)^```$", re.M | re.S)

# The repository the README's install lines and snippets name; tests put a local clone in its place.
REPOSITORY = "https://github.com/freezelint/freezelint"


def blocks() -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(README.read_text(encoding="utf-8")):
        assert match["name"] not in found, f"two README blocks are marked {match['name']!r}"
        found[match["name"]] = match["body"]
    return found


def block(name: str) -> str:
    return blocks()[name]


def commands(name: str) -> list[str]:
    """A shell block's commands, one per line, comments and blank lines left out."""
    lines = []
    for line in block(name).splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if command and not command.startswith("#"):
            lines.append(command)
    return lines
