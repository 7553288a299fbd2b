"""What a search returns: hits with plain-text snippets, and expert summaries."""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.models import Entry, Expert


@dataclass
class Hit:
    """One search result: the entry, its relevance (higher is better) and a snippet.

    ``snippet`` is plain text with matched terms between ``\\x02`` and ``\\x03``.
    """

    entry: Entry
    score: float
    snippet: str


@dataclass
class SearchResult:
    """The hits of one page, how many entries matched in all, and what to tell the user.

    ``total`` counts the entries the planned query matched (None when unknown);
    ``suggestions`` are "did you mean" spellings; ``reason`` says in one line why
    nothing matched (None when something did).
    """

    hits: list[Hit]
    total: int | None
    suggestions: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass
class ExpertSummary:
    """An expert's profile with how many answers they gave, and in which categories."""

    name: str
    count: int
    categories: list[tuple[str, int]]
    profile: Expert
