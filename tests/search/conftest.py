"""Fixtures shared by the search tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kb.models import Entry
from kb.search.index import SearchIndex

Builder = Callable[[list[Entry]], SearchIndex]


def _builders(folder: Callable[[], Path]) -> Iterator[Builder]:
    """Yield a function that indexes entries in a new file under ``folder()``; close all after."""
    opened: list[SearchIndex] = []

    def build(entries: list[Entry]) -> SearchIndex:
        ix = SearchIndex(folder() / f"kb{len(opened)}.index.sqlite")
        ix.rebuild(entries, "sig")
        opened.append(ix)
        return ix

    yield build
    for ix in opened:
        ix.close()


@pytest.fixture
def index_of(tmp_path) -> Iterator[Builder]:
    """Build an index of the given entries in tmp_path (each call a new file); closed after."""
    yield from _builders(lambda: tmp_path)


@pytest.fixture(scope="module")
def module_index_of(tmp_path_factory) -> Iterator[Builder]:
    """``index_of`` for a whole test module: for indexes too large to build per test."""
    yield from _builders(lambda: tmp_path_factory.mktemp("index"))
