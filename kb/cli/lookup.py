"""Commands that look answers up: search, list, show, experts, reindex, path.

All of them are served from the search index (kept current by KnowledgeBase); only
`show --raw` reads the store of record.
"""

from enum import Enum
from typing import Annotated, Optional

import typer

from kb.cli.complete import complete_categories, complete_experts, complete_ids
from kb.cli.options import (
    MAX_COUNT,
    DbOption,
    FormatOption,
    JsonOption,
    LimitOption,
    OffsetOption,
    OutputFormat,
    RecordFormat,
    RecordFormatOption,
    ReportFormat,
    ReportFormatOption,
    given,
    open_kb,
    output_format,
    refuse,
)

CategoryFilter = Annotated[
    Optional[str],
    typer.Option(
        "--category",
        "-c",
        help="Only this category (any case, or a unique prefix).",
        autocompletion=complete_categories,
    ),
]
ExpertFilter = Annotated[
    Optional[str],
    typer.Option(
        "--expert",
        "-e",
        help="Only this expert's answers (any case, or a unique part of the name).",
        autocompletion=complete_experts,
    ),
]
TagFilter = Annotated[Optional[str], typer.Option("--tag", "-t", help="Only entries with this tag.")]
IncludeOpen = Annotated[
    bool, typer.Option("--open", help="Include open questions (waiting for an answer), marked [open].")
]


class Sort(str, Enum):
    id = "id"
    title = "title"  # type: ignore[assignment]  # a member named like str.title: the choice people type
    category = "category"
    date = "date"


class Listing(str, Enum):
    entries = "entries"
    categories = "categories"
    experts = "experts"
    tags = "tags"


def search(
    query: Annotated[
        list[str], typer.Argument(help='Words or a question; "phrases", -excluded, prefix*, field:value.')
    ],
    category: CategoryFilter = None,
    expert: ExpertFilter = None,
    tag: TagFilter = None,
    latest: Annotated[bool, typer.Option("--latest", help="Newest first instead of best first.")] = False,
    include_open: IncludeOpen = False,
    limit: LimitOption = 10,
    offset: OffsetOption = 0,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Search questions and answers, best matches first. Exit code 1 when nothing matches.

    Open questions (posted, waiting for an answer) are left out unless --open.

    Type a question as you would ask it; stop words are dropped and entries that share
    more (and rarer) words with it rank first. Fields: title:, category:, expert:, tag:.

    Example: kb search "can chemo make a bone scan come back falsely negative?"
    """
    from kb import render
    from kb.backend import Request

    status = None if include_open else "answered"
    request = Request(category, expert, tag, status, sort="date" if latest else None, limit=limit, offset=offset)
    kb = open_kb(db)
    result = kb.search(" ".join(query), request)
    out = output_format(fmt, as_json)
    if out == "table":
        render.search_results(result, offset=offset)
    else:
        render.emit_entries(
            [hit.entry for hit in result], out, extra=render.hit_extras(result), extra_columns=("score", "snippet")
        )
        render.search_notes(result)
    if not result.hits and not result.total:
        # Nothing matched. A page past the last match is not an error (the note says
        # how many match), as for `kb list --offset`.
        raise typer.Exit(code=1)


def ask(
    question: Annotated[
        list[str], typer.Argument(help="A question, as you would ask it (the query syntax of search).")
    ],
    category: CategoryFilter = None,
    expert: ExpertFilter = None,
    tag: TagFilter = None,
    others: Annotated[
        int, typer.Option("--others", min=0, max=MAX_COUNT, help="How many other answers to list under it.")
    ] = 4,
    pager: Annotated[bool, typer.Option("--pager/--no-pager", help="Page a long answer on a terminal.")] = True,
    include_open: IncludeOpen = False,
    fmt: ReportFormatOption = ReportFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Answer a question: the best entry in full, then the next best one line each.

    Ranked exactly as `kb search` ranks. Exit code 1 when nothing matches, or when the best
    match holds less than half of what the question asks (its rare words weigh most): the
    reason, any "did you mean" and the matches that are "not close" on stderr, and how to
    post the question for an expert. --format json prints {"answer": ..., "others": [...]}
    (the answer null and "not_close": [...] when nothing is close).

    Example: kb ask "can chemotherapy make a bone scan come back falsely negative?"
    """
    from kb import render
    from kb.asking import close_enough
    from kb.backend import Request
    from kb.render import asking as render_asking

    kb = open_kb(db)
    text = " ".join(question)
    status = None if include_open else "answered"
    result = kb.ask(text, Request(category, expert, tag, status), others=others)
    out = output_format(fmt, as_json)
    if not result.hits or not close_enough(kb, text, result):
        if result.hits:
            if result.suggestions:
                render.notice("did you mean: " + ", ".join(result.suggestions))
            render_asking.not_close(result.hits)
        else:
            render.search_notes(result)
        import shlex

        render.notice(f"no answer yet: ask an expert with: kb post {shlex.quote(text)}")
        if out == "json":
            render.emit_json({"answer": None, "others": [], "not_close": [render_asking.brief(h) for h in result]})
        raise typer.Exit(code=1)
    best, rest = result.hits[0], list(result.hits[1:])
    if out == "json":
        render.emit_json(render.answer_record(best, rest))
    else:
        render.answer_full(best, rest, pager=pager)
    if result.suggestions:
        render.notice("did you mean: " + ", ".join(result.suggestions))


def list_entries(
    what: Annotated[
        Listing, typer.Argument(help="entries, or categories / experts / tags with their counts.")
    ] = Listing.entries,
    category: CategoryFilter = None,
    expert: ExpertFilter = None,
    tag: TagFilter = None,
    sort: Annotated[Sort, typer.Option("--sort", "-s", help="Order by id, title, category or date.")] = Sort.id,
    desc: Annotated[bool, typer.Option("--desc", help="Reverse the order.")] = False,
    only_open: Annotated[bool, typer.Option("--open", help="Only open questions (waiting for an answer).")] = False,
    only_answered: Annotated[bool, typer.Option("--answered", help="Only answered entries.")] = False,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List entries (or categories, experts or tags, with their counts), a page at a time.
    Exit 1 when a filter matches nothing. Open questions are marked [open].

    Examples: kb list --category Oncology --sort date --desc ; kb list --open ; kb list categories
    """
    from kb import render

    if what is not Listing.entries:
        _refuse_entry_options(what.value)
    if only_open and only_answered:
        refuse("--answered", "--open and --answered each leave the other out: give one")
    status = "open" if only_open else "answered" if only_answered else None
    kb = open_kb(db)
    out = output_format(fmt, as_json)
    if what is Listing.categories:
        render.counts(kb.categories(), "category", out, plural="categories")
        return
    if what is Listing.tags:
        render.counts(kb.tags(), "tag", out)
        return
    if what is Listing.experts:
        render.expert_counts(kb.experts(), out)
        return
    from kb.backend import Request

    request = Request(
        category, expert, tag, status, sort=sort.value, descending=desc, limit=limit or None, offset=offset
    )
    entries = kb.list(request)
    if out == "table":
        render.entry_table(entries, total=kb.count(request), offset=offset, filtered=request.filtered)
    else:
        render.emit_entries(entries, out)
    if not entries and request.filtered and not kb.count(request):
        # A filter matched nothing. An empty store, or an offset past the last of the
        # entries a filter keeps, is not an error (the footer says what there is).
        raise typer.Exit(code=1)


# `kb list categories` (experts, tags) prints every name with its count: these options
# choose entries and would be silently ignored.
_ENTRY_OPTIONS = {
    "category": "--category",
    "expert": "--expert",
    "tag": "--tag",
    "sort": "--sort",
    "desc": "--desc",
    "only_open": "--open",
    "only_answered": "--answered",
    "limit": "--limit",
    "offset": "--offset",
}


def _refuse_entry_options(listing: str) -> None:
    for name, option in _ENTRY_OPTIONS.items():
        if given(name):
            refuse(option, f"{option} applies to entries; 'kb list {listing}' lists every one of them with its count")


def show(
    refs: Annotated[
        Optional[list[str]],
        typer.Argument(help="Entry ids, or unique prefixes of uids.", autocompletion=complete_ids, show_default=False),
    ] = None,
    expert: Annotated[
        Optional[str],
        typer.Option(
            "--expert",
            "-e",
            help="Show this expert's profile instead (as kb experts NAME).",
            autocompletion=complete_experts,
        ),
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Print the original text the entry was read from.")] = False,
    pager: Annotated[bool, typer.Option("--pager/--no-pager", help="Page long entries on a terminal.")] = True,
    related: Annotated[
        int, typer.Option("--related", min=0, max=MAX_COUNT, help="How many related entries to list.")
    ] = 5,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show entries in full: question, answer, the expert's card, source, related entries,
    the entry it follows up and its follow-ups (kb post --follow-up).

    Example: kb show 12 ; kb show 6ad1 --format json ; kb show --expert higby
    """
    from kb import render

    if expert is not None:
        _show_expert(expert, refs, db, output_format(fmt, as_json))
        return
    if not refs:
        refuse("REFS", "give the ids of the entries to show (or --expert NAME for an expert's profile)")
    refs = list(refs or ())
    if raw and (given("fmt") or as_json):
        refuse("--raw", "--raw prints the original text as it was read; it has no --format or --json")
    out = output_format(fmt, as_json)
    if given("related") and (raw or out not in ("table", "json", "jsonl")):
        refuse("--related", "related entries are listed in the table and in JSON (--format json or jsonl)")
    kb = open_kb(db)
    entries = [kb.get(ref) for ref in refs]
    if raw:
        for entry in entries:
            render.raw_text(kb.raw(entry.stored_id()), entry)
    elif out == "table":
        render.entries_full(
            entries,
            lambda e: kb.related(e.stored_id(), limit=related) if related else [],
            pager=pager,
            links=lambda e: _links(kb, e),
        )
    elif given("related"):
        # Asked for by name: each record gains "related" (id, uid, title, question, score).
        from kb.emit import related_records

        extras = [{"related": related_records(kb.related(e.stored_id(), limit=related))} for e in entries]
        if out == "json" and len(entries) == 1:
            render.emit_json(render.entry_record(entries[0], **extras[0]))
        else:
            render.emit_entries(entries, out, extras)
    elif out == "json" and len(entries) == 1:
        render.emit_json(render.entry_record(entries[0]))
    else:
        render.emit_entries(entries, out)


def _show_expert(name: str, refs: list[str] | None, db: str | None, out: str) -> None:
    """kb show --expert NAME: the expert's profile, as kb experts NAME shows it."""
    if refs:
        refuse("--expert", "--expert shows an expert's profile: give it without entry ids")
    for option, flag in (("raw", "--raw"), ("related", "--related")):
        if given(option):
            refuse(flag, f"{flag} applies to entries, not to an expert's profile")
    _expert_profile(open_kb(db), name, 50, out)


def _links(kb, entry):
    """The entry that ``entry`` follows up (None when none, or removed) and its follow-ups."""
    from kb.errors import NotFound

    followed = None
    if entry.follows is not None:
        try:
            followed = kb.get(entry.follows)
        except NotFound:
            pass
    return followed, kb.follow_ups(entry)


def experts(
    name: Annotated[
        Optional[str], typer.Argument(help="Show this expert's profile and answers.", autocompletion=complete_experts)
    ] = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List experts with their answer counts and how many questions wait in their inboxes,
    or show one expert's profile, answers and inbox count.

    Example: kb experts ; kb experts higby
    """
    from kb import render

    kb = open_kb(db)
    out = output_format(fmt, as_json)
    if name is None:
        from kb.asking import inbox_counts

        summaries = kb.experts()[: limit or None]
        render.expert_counts(summaries, out, waiting=inbox_counts(kb, summaries))
        return
    _expert_profile(kb, name, limit, out)


def _expert_profile(kb, name: str, limit: int, out: str) -> None:
    """One expert's profile, answers and inbox count (kb experts NAME, kb show --expert NAME)."""
    from kb import render
    from kb.backend import Request

    summary = kb.expert(name)
    answers = kb.list(Request(expert=summary.name, limit=limit or None))
    render.expert_profile(summary, answers, out, waiting=len(kb.inbox(summary.name).questions))


def reindex(db: DbOption = None) -> None:
    """Rebuild the search index from the store (kb also does this by itself when needed).

    Example: kb reindex
    """
    from kb import render

    kb = open_kb(db)
    count = kb.reindex()
    render.notice(f"indexed {count} entries into {kb.index_location}")


def path(fmt: RecordFormatOption = RecordFormat.table, as_json: JsonOption = False, db: DbOption = None) -> None:
    """Say where the store and its index live (or would live), with their sizes and entry counts.

    Example: kb path ; kb --db other.json path --json
    """
    from kb import render

    kb = open_kb(db, must_exist=False)
    render.locations(kb.locations(), output_format(fmt, as_json))
    if not kb.exists():
        # Where the store would be is still an answer: kb path exits 0 and creates nothing.
        render.notice(f"no store at {kb.location} yet: 'kb ingest FILES' or 'kb add' creates it")
