"""What a search returns: a sequence of hits with plain-text snippets, and expert summaries.

A snippet never carries the index's highlight markers: the spans it highlights are
offsets beside it (``Hit.highlights``), which ``Hit.highlighted`` turns into text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

from kb.models import Entry, Expert, Record


class Hit(Record):
    """One search result: the entry, its relevance (higher is better) and a snippet.

    ``snippet`` is plain text from the question or answer; ``highlights`` are the
    ``(start, end)`` offsets in it of the words that matched the query.
    """

    __slots__ = ("entry", "score", "snippet", "highlights")
    entry: Entry
    score: float
    snippet: str
    highlights: list[tuple[int, int]]

    def __init__(
        self, entry: Entry, score: float, snippet: str, highlights: list[tuple[int, int]] | None = None
    ) -> None:
        self.entry = entry
        self.score = score
        self.snippet = snippet
        self.highlights = [] if highlights is None else highlights

    def highlighted(self, start: str = "[", end: str = "]") -> str:
        """Return the snippet with each highlighted span between ``start`` and ``end``."""
        out: list[str] = []
        pos = 0
        for a, b in self.highlights:
            out += [self.snippet[pos:a], start, self.snippet[a:b], end]
            pos = b
        out.append(self.snippet[pos:])
        return "".join(out)


class SearchResult(Record, Sequence[Hit]):
    """The hits of one page, how many entries matched in all, and what to tell the user.

    It is a sequence of its hits: iterate, index, ``len`` and test it like a list.
    ``total`` counts the entries the planned query matched (None when unknown);
    ``suggestions`` are "did you mean" spellings; ``reason`` says in one line why
    nothing matched (None when something did).
    """

    __slots__ = ("hits", "total", "suggestions", "reason")
    hits: list[Hit]
    total: int | None
    suggestions: list[str]
    reason: str | None

    def __init__(
        self, hits: list[Hit], total: int | None, suggestions: list[str] | None = None, reason: str | None = None
    ) -> None:
        self.hits = hits
        self.total = total
        self.suggestions = [] if suggestions is None else suggestions
        self.reason = reason

    def with_hits(self, hits: list[Hit]) -> SearchResult:
        """The same result with other hits (the same total, suggestions and reason)."""
        return SearchResult(hits, self.total, self.suggestions, self.reason)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @overload
    def __getitem__(self, index: int) -> Hit: ...

    @overload
    def __getitem__(self, index: slice) -> list[Hit]: ...

    def __getitem__(self, index: int | slice) -> Hit | list[Hit]:
        return self.hits[index]

    def __bool__(self) -> bool:
        return bool(self.hits)


class ExpertSummary(Record):
    """An expert's profile with how many answers they gave, and in which categories."""

    __slots__ = ("name", "count", "categories", "profile")
    name: str
    count: int
    categories: list[tuple[str, int]]
    profile: Expert

    def __init__(self, name: str, count: int, categories: list[tuple[str, int]], profile: Expert) -> None:
        self.name = name
        self.count = count
        self.categories = categories
        self.profile = profile


def expert_summaries(
    profiles: Mapping[str, Expert | None], rows: Iterable[tuple[str, str, int]]
) -> list[ExpertSummary]:
    """Every expert's summary, most answers first, from (name, category, count) rows
    grouped by name (any case) and category, and the stored profiles by case-folded name."""
    summaries: dict[str, ExpertSummary] = {}
    for name, category, n in rows:
        key = name.casefold()
        summary = summaries.get(key)
        if summary is None:
            profile = profiles.get(key) or Expert(name=name)
            summary = summaries[key] = ExpertSummary(profile.name, 0, [], profile)
        summary.count += n
        if category:
            summary.categories.append((category, n))
    return sorted(summaries.values(), key=lambda s: (-s.count, s.name.casefold()))
