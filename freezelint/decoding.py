"""A file's bytes as the program to lint: a Jupyter notebook's code cells, or Python source (above both, so that
neither imports the other)."""

from __future__ import annotations

from freezelint.notebook import NotebookSource
from freezelint.source import Source


def decode(path: str, data: bytes) -> Source:
    """A file's bytes as the program to lint (raises `SourceError` with a one-line cause)."""
    if path.endswith(".ipynb"):
        return NotebookSource.from_notebook_bytes(path, data)
    return Source.from_bytes(path, data)
