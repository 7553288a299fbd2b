"""Commands that look answers up: list, show, search, reindex, path.

All of them are served from the search index; only `show --raw` reads the store.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.cli import DbOption, FormatOption, JsonOption, LimitOption, OutputFormat, app, open_kb, output_format


@app.command("list")
def list_entries(
    category: Annotated[Optional[str], typer.Option("--category", "-c", help="Only this category.")] = None,
    expert: Annotated[Optional[str], typer.Option("--expert", "-e", help="Only this expert's answers.")] = None,
    tag: Annotated[Optional[str], typer.Option("--tag", "-t", help="Only entries with this tag.")] = None,
    limit: LimitOption = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List entries, newest id last.

    Example: kb list --category "Oncology (General Cancer)" --limit 20
    """
    from kb import render

    kb = open_kb(db)
    entries = kb.list(category=category, expert=expert, tag=tag, limit=limit or None, offset=offset)
    out = output_format(fmt, as_json)
    if out == "table":
        render.entry_lines(entries)
    else:
        render.emit_records([render.entry_record(e) for e in entries], out, columns=_CSV_COLUMNS)
    if not entries:
        raise typer.Exit(code=1)


_CSV_COLUMNS = ("id", "uid", "title", "category", "expert", "tags", "question", "answer", "created_at", "updated_at")


@app.command()
def show(
    refs: Annotated[list[str], typer.Argument(help="Entry ids, or unique prefixes of uids.")],
    raw: Annotated[bool, typer.Option("--raw", help="Print the original text the entry was read from.")] = False,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show entries in full: question, answer, expert and source.

    Example: kb show 12
    """
    from kb import render

    kb = open_kb(db)
    out = output_format(fmt, as_json)
    if raw:
        for ref in refs:
            render.write_bytes((kb.raw(ref) or "").encode("utf-8"))
        return
    entries = [kb.get(ref) for ref in refs]
    if out == "table":
        for entry in entries:
            render.entry_full(entry)
    elif out == "json" and len(entries) == 1:
        render.emit_json(render.entry_record(entries[0]))
    else:
        render.emit_records([render.entry_record(e) for e in entries], out, columns=_CSV_COLUMNS)


@app.command()
def search(
    query: Annotated[list[str], typer.Argument(help="Words, a question, \"phrases\", -excluded, prefix*, field:value.")],
    category: Annotated[Optional[str], typer.Option("--category", "-c", help="Only this category.")] = None,
    expert: Annotated[Optional[str], typer.Option("--expert", "-e", help="Only this expert's answers.")] = None,
    tag: Annotated[Optional[str], typer.Option("--tag", "-t", help="Only entries with this tag.")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Newest first instead of best first.")] = False,
    limit: LimitOption = 10,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Search the knowledge base, best matches first. Exit code 1 when nothing matches.

    Example: kb search "can chemo make a bone scan come back falsely negative?"
    """
    from kb import render

    kb = open_kb(db)
    result = kb.search(" ".join(query), category=category, expert=expert, tag=tag, limit=limit or 10, latest=latest)
    out = output_format(fmt, as_json)
    if out == "table":
        render.search_results(result)
    else:
        records = [
            render.entry_record(h.entry, score=round(h.score, 4), snippet=render.plain_snippet(h.snippet))
            for h in result.hits
        ]
        render.emit_records(records, out, columns=_CSV_COLUMNS + ("score", "snippet"))
    if not result.hits:
        raise typer.Exit(code=1)


@app.command()
def reindex(db: DbOption = None) -> None:
    """Rebuild the search index from the store (kb does this by itself when needed).

    Example: kb reindex
    """
    from kb import render

    kb = open_kb(db)
    with kb.store.locked():
        count = kb.rebuild_index()
    render.notice(f"indexed {count} entries into {kb.index_path}")
