"""What `kb browse` shows, built as Rich ``Text``: hit rows, an entry for reading, the highlights.

No Textual here, so every piece can be checked without a terminal. Entry text is made
inert with ``kb.render.clean`` and only ever becomes ``Text`` (never markup).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text

from kb.render import OPEN_MARK, clean, expert_card, reflow

if TYPE_CHECKING:
    from rich.console import RenderableType

    from kb.models import Entry

HIGHLIGHT = "bold reverse"
FOUND = "bold underline reverse"

# Endings cut from a query word before matching it as a prefix, so that "scans" lights up
# "scan" and "scanning" as the search (Porter-stemmed by FTS5) finds them. Longest first.
_ENDINGS = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s")


def _stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def query_pattern(query: str) -> re.Pattern[str] | None:
    """Return a pattern matching the words a query searches for (None when it has none).

    Words are read the way `kb search` reads them (kb.search.query.parse: stop words,
    exclusions and field filters are not highlighted); each matches as a word start, any
    case. The app marks words itself, over whole entries, rather than using a hit's
    snippet spans: rows, the preview and the reader show more than the snippet.
    """
    from kb.search.query import parse

    parsed = parse(query)
    found = {_stem(w.lower()) for term in parsed.should + parsed.must for w in term.words}
    stems = sorted((s for s in found if s), key=len, reverse=True)
    if not stems:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(s) for s in stems) + r")\w*", re.IGNORECASE)


def highlight(text: str, pattern: re.Pattern[str] | None, *, style: str | None = None) -> Text:
    """Return ``text`` made inert, as a Text with the query's words in the highlight style.

    This is the one place where `kb browse` marks matched words: rows, previews and the
    reader all go through it.
    """
    out = Text(clean(text), style=style or "")
    if pattern is not None:
        out.highlight_regex(pattern, HIGHLIGHT)
    return out


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


# A hit row's lines are cut to this many characters before they are styled: wider than any
# list, and a 100 kB question is not highlighted whole for the two lines that show it.
ROW_CHARS = 400


def _row_line(text: str) -> str:
    line = one_line(text)
    return line if len(line) <= ROW_CHARS else line[: ROW_CHARS - 1] + "…"


def hit_row(entry: Entry, pattern: re.Pattern[str] | None, width: int | None = None) -> Text:
    """Two lines for the hit list: the title (bold), then category · expert, then the question.

    Cut to ``width`` with "…"; without one the lines are left whole (to ``ROW_CHARS``) for
    the list to cut to its own width (kb browse's hit list: CSS ``text-overflow``), so a row
    can be built before the list has a width, and drawn at any.
    """
    title = highlight(_row_line(entry.display_title()) or f"#{entry.id}", pattern, style="bold")
    if entry.is_open:
        title = Text(OPEN_MARK, style="bold yellow").append_text(title)
    meta = " · ".join(clean(x) for x in (entry.category, entry.expert.name if entry.expert else "") if x)
    if entry.is_open:
        meta = " · ".join(x for x in (f"waiting {waiting(entry)}", meta) if x)
    second = Text()
    if meta:
        second.append(_row_line(meta), style="italic")
        second.append("  ")
    second.append_text(highlight(_row_line(entry.question), pattern, style="dim"))
    if width is not None:
        for line in (title, second):
            line.truncate(max(width, 10), overflow="ellipsis")
    return Text("\n").join([title, second])


def entry_text(
    entry: Entry, pattern: re.Pattern[str] | None, *, find: re.Pattern[str] | None = None, limit: int | None = None
) -> Text:
    """The entry for reading: header, question and answer, with words highlighted.

    ``find`` (the reader's `/` search) marks its matches more strongly than the query's.
    ``limit`` cuts the question and the answer to about that many characters each (the
    preview, redrawn on every keystroke, shows a screenful; the reader shows it all).
    """
    out = Text()
    out.append(f"#{entry.id}  ", style="bold")
    out.append_text(highlight(entry.display_title(), pattern, style="bold"))
    facts = [clean(x) for x in (entry.category, ", ".join(entry.tags)) if x]
    if entry.expert and entry.expert.name:
        facts.append("answered by " + clean(entry.expert.name))
    if facts:
        out.append("\n" + "  ·  ".join(facts), style="italic")
    for label, body in (("Question", entry.question), ("Answer", entry.answer)):
        out.append(f"\n\n{label}\n", style="bold underline")
        if label == "Answer" and entry.is_open:
            from kb.render.asking import waiting_line  # only open questions' cards: it imports kb.emit

            line = waiting_line(entry).replace("answer it with: kb answer", "a: answer it here, or kb answer")
            out.append(line, style="yellow")
            continue
        # Paragraphs the source hard-wrapped are reflowed to the screen, as `kb show` does.
        body = reflow(body.replace("\r\n", "\n").strip())
        if limit is not None and len(body) > limit:
            body = body[: body.rfind(" ", 0, limit) if " " in body[:limit] else limit] + " …"
        out.append_text(highlight(body, pattern))
    if find is not None:
        out.highlight_regex(find, FOUND)
    return out


def waiting(entry: Entry) -> str:
    """How long an open question has waited so far (3h 5m)."""
    from datetime import UTC, datetime

    from kb.asking import duration, waited

    return duration(waited(entry, datetime.now(UTC)))


_BIO = ("expertise", "experience", "organizations", "publications", "education", "awards", "clients")


def expert_view(entry: Entry) -> RenderableType:
    """The expert's card, or an empty Text when the entry has no expert with a bio."""
    expert = entry.expert
    if not expert or not expert.name or not any(getattr(expert, key, None) for key in _BIO):
        return Text("")
    return expert_card(expert)


def find_pattern(needle: str) -> re.Pattern[str] | None:
    """A case-insensitive literal pattern for the reader's find box (None when blank)."""
    needle = needle.strip()
    return re.compile(re.escape(needle), re.IGNORECASE) if needle else None


def empty_store_text(db: str) -> Text:
    """What the app shows instead of an empty list when the store holds no entry."""
    out = Text("This knowledge base is empty.\n\n", style="bold")
    out.append("Add questions and answers first, then run kb browse again:\n\n")
    out.append("  kb ingest FILES...     ", style="bold")
    out.append("pages, FAQ files, Markdown, JSON, JSONL or CSV\n")
    out.append("  kb ingest seeds data   ", style="bold")
    out.append("the samples that come with kb\n")
    out.append("  kb add                 ", style="bold")
    out.append("type one in\n\n")
    out.append("Store: " + clean(db), style="dim")
    return out
