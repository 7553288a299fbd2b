"""Everything kb shows: Rich renderables for people, and json/jsonl/csv/ids for scripts.

Entry text is untrusted (scraped pages): it is made inert by ``clean`` (control
characters and escape sequences become visible symbols) and handed to Rich only as
``Text``, never as markup. Results go to stdout; notices and progress to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.panel import Panel
    from rich.text import Text

    from kb.emit import emit_entries as emit_entries
    from kb.emit import emit_json as emit_json
    from kb.emit import emit_names as emit_names
    from kb.emit import emit_records as emit_records
    from kb.emit import entry_record as entry_record
    from kb.emit import hit_extras as hit_extras
    from kb.emit import write_bytes as write_bytes
    from kb.models import Entry, Expert
    from kb.render.asking import answered as answered
    from kb.render.asking import answered_after as answered_after
    from kb.render.asking import inbox as inbox
    from kb.render.asking import posted as posted
    from kb.render.columns import aligned as aligned
    from kb.render.reports import doctor_report as doctor_report
    from kb.render.reports import ingest_summary as ingest_summary
    from kb.render.reports import stats_table as stats_table
    from kb.search.results import ExpertSummary, Hit, SearchResult

from kb.render.consoles import console as console
from kb.render.consoles import error as error
from kb.render.consoles import notice as notice
from kb.render.text import clean, highlighted, human_size, reflow

FORMATS = ("table", "json", "jsonl", "csv", "ids")

# What this package hands on from the modules that write records and the reports, imported
# when first asked for (``render.emit_json``): `kb browse` needs only the text helpers and
# the cards here, and importing kb.emit, the asking and report renderers and the columns
# cost it ~5 ms before its first screen.
_ELSEWHERE = {
    **dict.fromkeys(
        ("emit_entries", "emit_json", "emit_names", "emit_records", "entry_record", "hit_extras", "write_bytes"),
        "kb.emit",
    ),
    **dict.fromkeys(("answered", "answered_after", "inbox", "posted"), "kb.render.asking"),
    "aligned": "kb.render.columns",
    **dict.fromkeys(("doctor_report", "ingest_summary", "stats_table"), "kb.render.reports"),
}


def __getattr__(name: str) -> Any:
    """A name of ``_ELSEWHERE``, imported from its module on first use (PEP 562)."""
    home = _ELSEWHERE.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


# -- people's formats ------------------------------------------------------------------


def _line_for(entry: Entry, *, prefix: str = "", question: bool = False) -> Text:
    """One-line summary: id, title, then category and expert, or the entry's own question."""
    from rich.text import Text

    line = Text(prefix)
    line.append(f"#{entry.id}", style="bold cyan")
    line.append("  ")
    if entry.is_open:
        line.append(OPEN_MARK, style="bold yellow")
    title = _one_line(entry.display_title())
    line.append(title, style="bold")
    own = _one_line(entry.question)
    if question and own and own != title:
        line.append("  " + own, style="italic")
        line.truncate(console().width, overflow="ellipsis")
        return line
    meta = [clean(x) for x in (entry.category, entry.expert.name if entry.expert else "") if x]
    if meta:
        line.append("  " + " · ".join(meta), style="dim")
    return line


def search_results(result: SearchResult, *, offset: int = 0) -> None:
    """Print ranked hits with highlighted snippets; notes (counts, spellings) on stderr.

    Each hit says what it answers: a summary line (rank, id, title, category, expert), the
    entry's own question on one line, then the best snippet with the matched words
    highlighted, wrapped under a hanging indent (left out when it only repeats the
    question). They go out as one Text in one ``print``: twenty calls cost ~2 ms more.
    """
    from rich.text import Text

    out = console()
    width = out.width
    indent = " " * _HIT_INDENT
    lines = []
    for rank, hit in enumerate(result.hits, start=offset + 1):
        for line in _line_for(hit.entry, prefix=f"{rank:>3}. ").split("\n"):
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        question = _one_line(hit.entry.question)
        if question:
            line = Text(indent).append(question, style="italic")
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        snippet = highlighted(hit.snippet, hit.highlights) if hit.snippet else None
        if snippet is not None and not _repeats(hit.snippet, question):
            for part in snippet.wrap(out, max(width - _HIT_INDENT, 20)):
                lines.append(Text(indent).append(part))
    if lines:
        out.print(Text("\n").join(lines))
    search_notes(result, offset=offset)


# How far a hit's question and snippet stand in from its rank ("  1. ").
_HIT_INDENT = 5


def _repeats(snippet: str, question: str) -> bool:
    """Whether a snippet shows nothing but (part of) the question already shown."""
    core = " ".join(snippet.strip("…").split())
    return not core or core in " ".join(question.split())


def search_notes(result: SearchResult, *, offset: int = 0) -> None:
    """Tell, on stderr, how many matched, spelling suggestions, or why nothing matched."""
    if result.suggestions:
        notice("did you mean: " + ", ".join(result.suggestions))
    if not result.hits:
        notice(result.reason or "nothing matched")
    elif result.total is not None and result.total > offset + len(result.hits):
        shown = f"{offset + 1}-{offset + len(result.hits)}"
        notice(f"showing {shown} of {result.total} matches (--limit/--offset for more)")


# Past this many rows a Rich Table costs seconds (16k rows: 7.6 s vs 0.15 s as lines).
_TABLE_MAX_ROWS = 200


def entry_table(entries: list[Entry], *, total: int, offset: int = 0, filtered: bool = False) -> None:
    """Print a page of entries as aligned columns (plain lines for long pages); a footer on stderr.

    ``total`` counts the entries the filters keep (all of them when ``filtered`` is False).
    """
    if not entries:
        if total:
            noun = "entry" if total == 1 else "entries"
            notice(
                f"nothing at offset {offset}: "
                + (
                    f"{total} {noun} match these filters"
                    if filtered
                    else f"there {'is' if total == 1 else 'are'} {total} {noun}"
                )
            )
        elif filtered:
            notice("no entries match these filters")
        else:
            notice("no entries yet: add some with 'kb ingest' or 'kb add'")
        return
    repeated = _repeated_titles(entries)
    if len(entries) > _TABLE_MAX_ROWS:
        entry_lines(entries, repeated=repeated)
    else:
        from kb.render.columns import aligned

        rows = [
            (
                str(e.id),
                _title_cell(e, repeated),
                _one_line(e.category),
                _one_line(e.expert.name) if e.expert else "",
                clean((e.updated_at or e.created_at or "")[:10]),  # imported records bring their own dates
            )
            for e in entries
        ]
        # A column no entry on the page fills (no experts in a corpus, say) is left out.
        keep = [i for i in range(len(_ENTRY_COLUMNS)) if i < 2 or any(row[i] for row in rows)]
        columns = [_ENTRY_COLUMNS[i] for i in keep]
        if repeated:
            columns[1] = ("title or question", None, 3)
        out = console()
        out.print(
            aligned(columns, [tuple(row[i] for i in keep) for row in rows], out.width),
            no_wrap=True,
            overflow="ellipsis",
        )
    end = offset + len(entries)
    if end < total or offset:
        notice(
            f"showing {offset + 1}-{end} of {total} entries" + (" (--limit/--offset for more)" if end < total else "")
        )


# The columns of `kb list`: (header, style, share of the room when the console is too narrow).
# A share of 0 marks a column that is never cut (the id, right-aligned, and the date).
_ENTRY_COLUMNS = (
    ("id", "cyan", 0),
    ("title", None, 3),
    ("category", "magenta", 1),
    ("expert", "dim", 1),
    ("updated", "dim", 0),
)


def _one_line(text: str | None) -> str:
    return clean(text).replace("\n", " ")


def _repeated_titles(entries: Sequence[Entry]) -> set[str]:
    """The titles that more than one entry of the page shows (MedQuAD gives one topic many questions)."""
    from collections import Counter

    seen = Counter(e.display_title() for e in entries)
    return {title for title, n in seen.items() if n > 1}


def _title_cell(entry: Entry, repeated: set[str]) -> str:
    """An entry's title, or its own question when other rows show the same title; an
    open question is marked so."""
    title = entry.display_title()
    mark = OPEN_MARK if entry.is_open else ""
    if title in repeated and entry.question.strip():
        return mark + _one_line(entry.question)
    return mark + _one_line(title)


# How a question waiting for its answer is marked in lists and search results.
OPEN_MARK = "[open] "


def entry_lines(entries: Iterable[Entry], *, repeated: AbstractSet[str] = frozenset()) -> None:
    """Print entries one per line (fast for many rows), each cut to the width.

    An entry whose title is in ``repeated`` adds its own question, to tell the rows apart.
    A print per 500 lines, not one per line: `kb list --limit 0` at 16k took 2.4 s, now 1.2 s.
    """
    from itertools import islice

    from rich.text import Text

    out = console()
    entries = iter(entries)
    while chunk := list(islice(entries, 500)):
        lines = (_line_for(e, question=e.display_title() in repeated) for e in chunk)
        out.print(Text("\n").join(lines), overflow="ellipsis", no_wrap=True)


def _panel(text: str, title: str, style: str) -> Panel:
    from rich.panel import Panel
    from rich.text import Text

    # The title as a Text: a str title goes through Rich's markup and emoji parser (~3 ms to import).
    return Panel(
        Text(reflow(clean(text.strip()))), title=Text(title), title_align="left", border_style=style, padding=(0, 1)
    )


_CARD_SECTIONS = (
    ("expertise", "Expertise"),
    ("experience", "Experience"),
    ("organizations", "Organizations"),
    ("publications", "Publications"),
    ("education", "Education"),
    ("awards", "Awards"),
    ("clients", "Clients"),
)


def _bio(expert: Expert, sections: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """The labelled sections of an expert's bio that hold something (all, or those named)."""
    wanted = set(sections) if sections is not None else None
    return [
        (label, value)
        for key, label in _CARD_SECTIONS
        if (value := getattr(expert, key, None)) and (wanted is None or key in wanted)
    ]


def expert_card(expert: Expert, *, sections: Iterable[str] | None = None, lead: str = "") -> RenderableType:
    """A panel with an expert's name and bio sections (all, or those named).

    An expert with nothing in those sections gets one line, ``lead`` and the name, not
    an empty panel.
    """
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    bio = _bio(expert, sections)
    if not bio:
        return Text(lead, style="dim").append(clean(expert.name), style="bold")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in bio:
        grid.add_row(label, Text(reflow(clean(value))))
    title = Text(clean(expert.name), style="bold")
    return Panel(grid, title=title, title_align="left", border_style="yellow", padding=(0, 1))


def _entry_renderables(
    entry: Entry,
    related: list[Hit],
    *,
    card: bool,
    related_title: str = "Related",
    links: tuple[Entry | None, list[Entry]] = (None, []),
) -> list[RenderableType]:
    from rich.text import Text

    from kb.render.asking import answered_after, waiting_line

    parts: list[Any] = []
    header = Text()
    header.append(f"#{entry.id}  ", style="bold cyan")
    if entry.is_open:
        header.append(OPEN_MARK, style="bold yellow")
    header.append(clean(entry.display_title()), style="bold")
    parts.append(header)
    sub = [clean(x) for x in (entry.category, ", ".join(entry.tags) if entry.tags else "") if x]
    if sub:
        parts.append(Text("  ".join(sub), style="magenta"))
    followed, follow_ups = links
    if followed is not None:
        parts.append(_line_for(followed, prefix="Follows up "))
    parts.append(_panel(entry.question, "Question", "blue"))
    if entry.is_open:
        parts.append(Text(waiting_line(entry), style="yellow"))
    else:
        parts.append(_panel(entry.answer, "Answer", "green"))
    if entry.expert:
        if card:
            sections = ("expertise", "experience", "education", "awards")
            parts.append(expert_card(entry.expert, sections=sections, lead="Answered by "))
        else:
            parts.append(Text("Answered by ", style="dim").append(clean(entry.expert.name), style="bold"))
    src = entry.source
    facts = [f"uid {entry.uid}"]
    if src.path:
        facts.append(clean(src.path))
    if src.format:
        facts.append(src.format)
    if src.copyright:
        facts.append(clean(src.copyright))
    if url := entry.url():
        facts.append(clean(url))
    if src.split_guessed:
        facts.append("question/answer split guessed")
    if entry.updated_at:
        facts.append(f"updated {clean(entry.updated_at[:10])}")
    if not entry.is_open and entry.asked_at:
        facts.append(answered_after(entry))
    parts.append(Text("Source: " + " · ".join(facts), style="dim"))
    if follow_ups:
        parts.append(Text("Follow-ups", style="bold"))
        for other in follow_ups:
            parts.append(_line_for(other, prefix="  ", question=True))
    if related:
        parts.append(Text(related_title, style="bold"))
        for hit in related:
            parts.append(_line_for(hit.entry, prefix="  ", question=True))
    parts.append(Text(""))
    return parts


def entries_full(
    entries: list[Entry],
    related: Callable[[Entry], list[Hit]],
    *,
    pager: bool = True,
    links: Callable[[Entry], tuple[Entry | None, list[Entry]]] | None = None,
) -> None:
    """Print entries for reading; page them when they are longer than the terminal.

    An expert's card is shown once, however many of their answers are printed.
    ``links`` gives an entry's (the entry it follows up, its follow-ups).
    """
    out = console()
    shown_experts: set[str] = set()
    renderables: list[Any] = []
    for entry in entries:
        name = entry.expert.name if entry.expert else None
        card = bool(name) and name not in shown_experts
        if name:
            shown_experts.add(name)
        renderables += _entry_renderables(entry, related(entry), card=card, links=links(entry) if links else (None, []))
    _print_paged(out, renderables, pager=pager)


def answer_full(hit: Hit, others: list[Hit], *, pager: bool = True) -> None:
    """Print the best answer in full (as ``show`` does) and the other hits one line each."""
    _print_paged(
        console(), _entry_renderables(hit.entry, others, card=True, related_title="Other answers"), pager=pager
    )


def answer_record(hit: Hit, others: list[Hit]) -> dict[str, Any]:
    """The JSON of ``kb ask``: the best entry (as ``show`` prints it, plus its score) and the others."""
    from kb.emit import entry_record, hit_extras

    return {
        "answer": entry_record(hit.entry, score=round(hit.score, 4)),
        "others": [entry_record(h.entry, **x) for h, x in zip(others, hit_extras(others))],
    }


def _print_paged(out: Console, renderables: list[Any], *, pager: bool) -> None:
    """Print in one go; through the pager when longer than the terminal."""
    from rich.console import Group

    page = Group(*renderables)  # one print: each print call costs ~0.3 ms
    if pager and out.is_terminal:
        with out.capture() as capture:
            out.print(page)
        if capture.get().count("\n") > out.height:
            # Without options less shows colour codes as text ("ESC[1;36m"); like git,
            # give it FRX (pass colours, quit if one screen, leave the text on exit)
            # unless the user chose their own.
            os.environ.setdefault("LESS", "FRX")
            with out.pager(styles=True):
                out.print(page)
            return
    out.print(page)


def raw_text(text: str | None, entry: Entry) -> None:
    """Print an entry's original text as it was read (controls made visible on a terminal)."""
    from kb.emit import write_bytes

    if text is None:
        notice(f"no original text is kept for entry {entry.id} (it was not read from a file)")
        return
    if sys.stdout.isatty():
        text = clean(text)
    write_bytes(text.encode("utf-8") + (b"" if text.endswith("\n") else b"\n"))


def counts(rows: list[tuple[str, int]], label: str, fmt: str, plural: str = "") -> None:
    """Print (name, count) rows: a table for people, records for scripts.

    With nothing to list, a table prints nothing (a notice on stderr says so), not a
    header alone.
    """
    from rich.table import Table
    from rich.text import Text

    from kb.emit import emit_names, emit_records

    if fmt == "ids":  # a name is what identifies a category or a tag
        emit_names(name for name, _ in rows)
        return
    if fmt != "table":
        emit_records([{label: name, "count": n} for name, n in rows], fmt, columns=(label, "count"))
        return
    if not rows:
        notice(f"no {plural or label + 's'} yet")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(label)
    table.add_column("entries", justify="right", style="cyan")
    for name, n in rows[:_TABLE_MAX_ROWS]:
        table.add_row(Text(clean(name)), str(n))
    console().print(table)
    if len(rows) > _TABLE_MAX_ROWS:
        notice(f"... and {len(rows) - _TABLE_MAX_ROWS} more (--format csv for all)")


def _expert_record(summary: ExpertSummary, waiting: int | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"name": summary.name, "count": summary.count}
    if waiting is not None:
        record["inbox"] = waiting
    record["categories"] = [{"category": c, "count": n} for c, n in summary.categories]
    record["profile"] = summary.profile.to_dict()
    return record


_EXPERT_COLUMNS = ("name", "count", "categories", *(key for key, _ in _CARD_SECTIONS))


def _expert_columns(waiting: bool) -> tuple[str, ...]:
    """The CSV columns of experts; "inbox" (after "count") when inbox counts are known."""
    return ("name", "count", "inbox", *_EXPERT_COLUMNS[2:]) if waiting else _EXPERT_COLUMNS


def _expert_row(summary: ExpertSummary, waiting: int | None = None) -> dict[str, Any]:
    """An expert as one flat CSV row: counts, categories joined with '; ', the bio's sections."""
    row: dict[str, Any] = {
        "name": summary.name,
        "count": summary.count,
        "inbox": waiting,
        "categories": "; ".join(c for c, _ in summary.categories),
    }
    row.update({key: getattr(summary.profile, key, None) for key, _ in _CARD_SECTIONS})
    return row


def expert_counts(summaries: list[ExpertSummary], fmt: str, waiting: Mapping[str, int] | None = None) -> None:
    """Print every expert with answer counts and categories, and how many open questions
    wait in each one's inbox when ``waiting`` (by name) is given."""
    from rich.table import Table
    from rich.text import Text

    from kb.emit import emit_names, emit_records

    def inbox(s: ExpertSummary) -> int | None:
        return None if waiting is None else waiting.get(s.name, 0)

    if fmt == "ids":
        emit_names(s.name for s in summaries)
        return
    if fmt == "csv":
        rows = [_expert_row(s, inbox(s)) for s in summaries]
        emit_records(rows, "csv", columns=_expert_columns(waiting is not None))
        return
    if fmt != "table":
        emit_records([_expert_record(s, inbox(s)) for s in summaries], fmt)
        return
    if not summaries:
        notice("no experts yet: entries name none")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("expert", style="bold")
    table.add_column("answers", justify="right", style="cyan")
    if waiting is not None:
        table.add_column("inbox", justify="right", style="yellow")
    table.add_column("categories", style="magenta", overflow="ellipsis")
    for s in summaries[:_TABLE_MAX_ROWS]:
        cats = ", ".join(f"{c} ({n})" for c, n in s.categories[:4])
        if len(s.categories) > 4:
            cats += ", ..."
        counts = [str(s.count)] if waiting is None else [str(s.count), str(inbox(s))]
        table.add_row(Text(clean(s.name)), *counts, Text(clean(cats), no_wrap=True))
    console().print(table)


def expert_profile(summary: ExpertSummary, answers: list[Entry], fmt: str, waiting: int | None = None) -> None:
    """Print one expert's profile, where they answer, their answers, and how many open
    questions wait in their inbox (``waiting``, when known)."""
    from rich.text import Text

    from kb.emit import emit_entries, emit_json, emit_records, entry_record

    if fmt == "csv":  # the flat form: the expert as one row
        emit_records([_expert_row(summary, waiting)], fmt, columns=_expert_columns(waiting is not None))
        return
    if fmt == "ids":  # their answers' ids
        emit_entries(answers, fmt)
        return
    if fmt != "table":
        record = _expert_record(summary, waiting)
        record["answers"] = [entry_record(e) for e in answers]
        emit_json(record) if fmt == "json" else emit_records([record], fmt)
        return
    out = console()
    out.print(expert_card(summary.profile))
    cats = ", ".join(f"{clean(c)} ({n})" for c, n in summary.categories)
    out.print(
        Text(f"{summary.count} answer{'s' if summary.count != 1 else ''}", style="bold").append(
            f"  {cats}" if cats else "", style="magenta"
        )
    )
    if waiting:
        noun = "question waits" if waiting == 1 else "questions wait"
        import shlex

        out.print(
            Text(f"{waiting} open {noun} in their inbox (kb inbox {clean(shlex.quote(summary.name))})", style="yellow")
        )
    for e in answers:
        out.print(_line_for(e, prefix="  "), overflow="ellipsis", no_wrap=True)


def locations(info: dict[str, Any], fmt: str) -> None:
    """Print where the store and index live, with sizes and counts."""
    from rich.table import Table
    from rich.text import Text

    from kb.emit import emit_json, emit_records

    if fmt != "table":
        emit_json(info) if fmt == "json" else emit_records([info], fmt)
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in info.items():
        if key in ("index", "index_bytes") and info.get("index") is None:
            continue  # a store on a server has no index file of its own
        if key.endswith("_bytes"):
            value = human_size(value) if value is not None else "-"
            key = key.replace("_bytes", " size")
        table.add_row(key.replace("_", " "), Text(clean(str(value))))
    console().print(table)


def titles_on_stderr(entries: Sequence[Entry]) -> None:
    """List entries by id and title on stderr, one line each (what a command is about to change)."""
    from rich.text import Text

    err = console(stderr=True)
    for entry in entries:
        err.print(Text(f"{entry.id:>6}  ").append(clean(entry.display_title())), overflow="ellipsis", no_wrap=True)
