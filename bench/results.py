"""Append a run's figures to a bench/RESULTS-*.md file, creating it with its heading."""

from __future__ import annotations

from pathlib import Path


def append(path: Path, heading: str, text: str) -> None:
    """Print ``text`` and add it to ``path`` (a new file starts with ``# heading``)."""
    print(text)
    if not path.exists():
        path.write_text(f"# {heading}\n", encoding="utf-8")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
