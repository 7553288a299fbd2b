"""Commands that change or carry out the knowledge base: add, edit, remove, export, stats.

Each reads its options, calls KnowledgeBase (kb.api) or the editor helpers
(kb.cli.editor), and prints the result: ids or JSON on stdout, prompts and notices on
stderr. Prompts and confirmations happen only when stdin is a terminal; otherwise what
is missing is an error, never a wait.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from kb.cli.complete import complete_categories, complete_experts, complete_ids
from kb.cli.options import (
    DbOption,
    FormatOption,
    JsonOption,
    OutputFormat,
    ReportFormat,
    ReportFormatOption,
    interactive,
    open_kb,
    output_format,
)

if TYPE_CHECKING:
    from kb.errors import KbError
    from kb.models import Entry

CategoryOption = Annotated[
    Optional[str], typer.Option("--category", "-c", help="Category.", autocompletion=complete_categories)
]
ExpertOption = Annotated[
    Optional[str], typer.Option("--expert", "-e", help="Expert's name.", autocompletion=complete_experts)
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


# -- add ------------------------------------------------------------------------------


def add(
    # -Q, not -q: -q is --quiet (ingest), as in most Unix tools.
    question: Annotated[Optional[str], typer.Option("--question", "-Q", help="The question.")] = None,
    answer: Annotated[Optional[str], typer.Option("--answer", "-a", "-A", help="The answer.")] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="A short title.")] = None,
    category: CategoryOption = None,
    expert: ExpertOption = None,
    tags: Annotated[Optional[list[str]], typer.Option("--tag", "-t", help="A tag (repeat for more).")] = None,
    use_editor: Annotated[bool, typer.Option("--editor", help="Write the entry in $VISUAL/$EDITOR.")] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt; missing fields are an error.")] = False,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Add an entry from options, prompts, $EDITOR, or JSON/Markdown on stdin.

    Prints the new id (--format json: the entry). Without --question/--answer, reads
    stdin when it is not a terminal: a JSON object or array, JSON Lines, or Markdown
    with '## Question' and '## Answer'. Exit 2 when the question or answer is missing,
    1 when an entry with the same question and answer is already stored.

    Example: kb add --title "Watering" --question "How often?" --answer "Weekly." -t garden
    """
    from kb.entries import entry_from_fields

    fields: dict[str, Any] = {
        "question": question,
        "answer": answer,
        "title": title,
        "category": category,
        "expert": expert,
        "tags": tags or [],
    }
    if use_editor:
        entries = [_compose(entry_from_fields(**fields))]
    else:
        entries = _piped_entries(fields) if question is None and answer is None else []
        if not entries:
            if interactive() and not no_input:
                _prompt_missing(fields)
            entries = [_required(entry_from_fields(**fields))]
    kb = open_kb(db, must_exist=False)
    entries = _known_categories(kb, entries)
    added, duplicates = kb.add_many(entries)
    _print_entries(added, output_format(fmt, as_json), single=len(entries) == 1)
    _report_duplicates(duplicates)


def _compose(start: "Entry") -> "Entry":
    from kb.cli.editor import compose_entry

    return compose_entry(start, reopen=_ask_reopen)


def _piped_entries(fields: dict) -> "list[Entry]":
    """Read entries from stdin when it is not a terminal; options given override their fields."""
    from kb import config
    from kb.entries import parse_entries, with_fields
    from kb.ingest.sources import DEFAULT_MAX_SIZE, JSON_SHARE, decode, read_capped

    if interactive():
        return []
    # Read up to a cap: a pipe may never end (`kb add </dev/zero`).
    mb = config.max_size_mb()
    cap = int(mb * 1e6) if mb else DEFAULT_MAX_SIZE
    data = read_capped(typer.get_binary_stream("stdin"), cap * JSON_SHARE, "<stdin>")
    if not data.strip():
        return []
    overrides = {k: v for k, v in fields.items() if v and k not in ("question", "answer", "tags")}
    entries = parse_entries(decode(data, "<stdin>")[0])
    return [with_fields(e, **overrides, tags=e.tags + fields["tags"]) for e in entries]


def _prompt_missing(fields: dict) -> None:
    """Ask on the terminal (prompts on stderr) for the fields options did not give.

    Title and category are offered only when the question or answer had to be asked
    for: `kb add -q ... -a ...` runs without a question.
    """
    if all((fields[name] or "").strip() for name in ("question", "answer")):
        return
    try:
        for name in ("question", "answer"):
            while not (fields[name] or "").strip():
                fields[name] = _prompt_lines(name.capitalize())
        for name in ("title", "category"):
            if fields[name] is None:
                fields[name] = typer.prompt(f"{name.capitalize()} (optional)", default="", show_default=False, err=True)
    except (KeyboardInterrupt, typer.Abort):
        # Ctrl-C: one line instead of Click's "Aborted!", and the shell's code for SIGINT.
        from kb import render

        sys.stderr.write("\n")
        render.notice("interrupted: nothing was added")
        raise typer.Exit(code=130) from None


def _prompt_lines(label: str) -> str:
    """Read a field of one or more lines on the terminal.

    Ctrl-D, or two empty lines in a row, end it; one empty line stays in the text as a
    paragraph break. Ctrl-D on an empty field counts as empty, and the field is asked again.
    """
    sys.stderr.write(f"{label} (end with Ctrl-D or two empty lines):\n")
    sys.stderr.flush()
    lines: list[str] = []
    while True:
        line = sys.stdin.readline()
        if not line:  # Ctrl-D (a terminal's end of input is not for good: later reads go on)
            break
        lines.append(line.rstrip("\r\n"))
        if len(lines) >= 2 and lines[-1] == lines[-2] == "":
            break
    return "\n".join(lines).strip()


def _known_categories(kb, entries: "list[Entry]") -> "list[Entry]":
    """Use a stored category's spelling for one typed in another case (`gard` for `GARD`)."""
    from kb import render

    folded = kb.fold_categories(entries)
    for typed, stored in {(e.category, f.category) for e, f in zip(entries, folded) if e.category != f.category}:
        render.notice(f"using the existing category {stored!r} for {typed!r}")
    return folded


def _required(entry: "Entry") -> "Entry":
    from kb.entries import validate

    validate(entry, hint="give --question and --answer, pipe JSON or Markdown on stdin, or use --editor")
    return entry


def _report_duplicates(duplicates: "list[Entry]") -> None:
    from kb import render
    from kb.entries import duplicate_error

    for entry in duplicates:
        error = duplicate_error(entry)
        render.error(error.message, error.hint if len(duplicates) == 1 else None)
    if duplicates:
        raise typer.Exit(code=1)


def _print_entries(entries: "list[Entry]", out: str, *, single: bool) -> None:
    from kb import render

    if out in ("table", "ids"):
        typer.echo("".join(f"{e.id}\n" for e in entries), nl=False)
    elif out == "json" and single:
        if entries:
            render.emit_json(render.entry_record(entries[0]))
    else:
        render.emit_entries(entries, out)


def _ask_reopen(error: "KbError") -> bool:
    """On a terminal, show why the edited text is invalid and offer to reopen it."""
    from kb import render

    if not interactive():
        return False
    render.error(error.message, error.hint)
    if typer.confirm("reopen the editor?", default=True, err=True):
        return True
    render.notice("nothing was saved")
    raise typer.Exit(code=error.exit_code)


# -- edit -----------------------------------------------------------------------------


def edit(
    ref: Annotated[str, typer.Argument(help="Entry id, or a unique prefix of its uid.", autocompletion=complete_ids)],
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Edit an entry as Markdown in $VISUAL/$EDITOR; it is saved only if it reads back.

    Prints the entry's id (--format json: the entry). An unchanged file changes nothing. Invalid text reopens the editor (after asking,
    on a terminal) or is refused with exit 2, the store untouched.

    Example: EDITOR="code --wait" kb edit 12
    """
    from kb import render
    from kb.cli.editor import edit_entry

    changed, entry = edit_entry(open_kb(db), ref, reopen=_ask_reopen)
    if not changed:
        render.notice("no changes")
    _print_entries([entry], output_format(fmt, as_json), single=True)


# -- remove ---------------------------------------------------------------------------


def remove(
    refs: Annotated[list[str], typer.Argument(help="Entry ids or unique uid prefixes.", autocompletion=complete_ids)],
    yes: YesOption = False,
    fmt: FormatOption = OutputFormat.table,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Remove entries (asks first on a terminal; --yes for scripts). Alias: rm.

    Every id is checked first: an unknown one removes nothing (exit 1). Without a
    terminal and without --yes, nothing is removed (exit 2).

    Example: kb remove 12 15 --yes
    """
    from kb import render

    kb = open_kb(db)
    entries = list({e.id: e for e in (kb.get(ref) for ref in refs)}.values())
    if not yes:
        _confirm_removal(entries)
    removed = kb.remove([e.stored_id() for e in entries])
    out = output_format(fmt, as_json)
    if out == "table":
        for entry in removed:
            typer.echo(f"removed {entry.id}  {render.clean(entry.display_title())}")
    else:
        render.emit_entries(removed, out)


def _confirm_removal(entries: "list[Entry]") -> None:
    from kb import render

    if not interactive():
        render.error("not removing without confirmation: stdin is not a terminal", "pass --yes to remove anyway")
        raise typer.Exit(code=2)
    render.titles_on_stderr(entries)
    noun = "entry" if len(entries) == 1 else "entries"
    if not typer.confirm(f"Remove {len(entries)} {noun}?", default=False, err=True):
        render.notice("nothing removed")
        raise typer.Exit(code=1)


# -- export ---------------------------------------------------------------------------


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    json = "json"
    csv = "csv"
    md = "md"


def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-F", help="jsonl, json, csv, or md (a folder).", case_sensitive=False)
    ] = ExportFormat.jsonl,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="File (folder for md); default stdout.")
    ] = None,
    category: CategoryOption = None,
    expert: ExpertOption = None,
    tag: Annotated[Optional[str], typer.Option("--tag", "-t", help="Only entries with this tag.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write over an existing file, or files changed since the last export.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Write entries out as JSON Lines, JSON, CSV or Markdown files, for backup or bulk load.

    `kb ingest` reads every format back into the same entries. Exit 1 when a filter
    matched nothing. An existing file is never written over without --force; in a
    folder, neither is a file changed since kb exported it.

    Example: kb export --format md --output notes/ --category Gardening
    """
    from kb import render

    if fmt is ExportFormat.md and output is None:
        raise typer.BadParameter("--format md writes one file per entry: give a folder", param_hint="--output")
    from kb.backend import Request
    from kb.export import FolderChanges

    request = Request(category, expert, tag)
    changes = FolderChanges()
    count = open_kb(db).export(fmt.value, output, request, changes=changes, force=force)
    if output is not None:
        render.notice(f"exported {count} entries to {output}")
    if changes.removed:
        names = ", ".join(changes.removed[:5]) + (", ..." if len(changes.removed) > 5 else "")
        render.notice(
            f"removed {len(changes.removed)} files an earlier export wrote for entries no longer "
            f"exported under those names: {names}"
        )
    for name in changes.kept:
        render.notice(
            f"kept {name}: an earlier export wrote it for an entry no longer exported, and it was changed since"
        )
    if request.filtered and count == 0:
        raise typer.Exit(code=1)


# -- stats ----------------------------------------------------------------------------


def stats(fmt: ReportFormatOption = ReportFormat.table, as_json: JsonOption = False, db: DbOption = None) -> None:
    """Count entries, categories, experts and sources; show file sizes and the top categories.

    Example: kb stats --format json
    """
    from kb import render

    summary = open_kb(db).stats()
    out = output_format(fmt, as_json)
    if out == "table":
        render.stats_table(summary)
    else:
        render.emit_json(summary.to_dict())
