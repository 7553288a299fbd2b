"""Fixtures shared by the search tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kb.models import Entry
from kb.search.index import SearchIndex


@pytest.fixture
def index_of(tmp_path) -> Iterator[Callable[[list[Entry]], SearchIndex]]:
    """Build an index of the given entries in tmp_path (each call a new file); closed after."""
    opened: list[SearchIndex] = []

    def build(entries: list[Entry]) -> SearchIndex:
        ix = SearchIndex(tmp_path / f"kb{len(opened)}.index.sqlite")
        ix.rebuild(entries, "sig")
        opened.append(ix)
        return ix

    yield build
    for ix in opened:
        ix.close()
