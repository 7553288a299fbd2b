"""The ingest command: read Q&A files into the store, with a progress bar and a summary.

The reading, decoding and writing happen in KnowledgeBase.ingest (kb/ingest/); this
module reads the options, shows progress and prints the report.
"""

import sys
from typing import Annotated, Optional

import typer

from kb import config, parsers
from kb.cli.options import DbOption, open_kb


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (read recursively), globs, or - for stdin.")],
    parser_format: Annotated[
        Optional[str],
        # -F as in every other command; -f, this option's first short flag, still works.
        typer.Option(
            "--format",
            "-F",
            "-f",
            help=f"Read every input as this format instead of detecting it: {parsers.format_help()}.",
        ),
    ] = None,
    answers: Annotated[
        Optional[str],
        typer.Option(
            "--answers",
            help="StackExchange dumps: accepted (else the best-scored; the default), "
            "best (highest score), or all (one entry per answer).",
        ),
    ] = None,
    site: Annotated[
        Optional[str],
        typer.Option("--site", help="StackExchange dumps: the category (default: the dump folder's name)."),
    ] = None,
    column_map: Annotated[
        Optional[str],
        typer.Option(
            "--map",
            help="CSV, JSON and JSONL: which columns or keys hold which fields, "
            "e.g. question=Prompt,answer=Reply,category=Topic.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse and report, write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    max_size: Annotated[
        Optional[float],
        typer.Option(
            "--max-size",
            help="Largest single-document file to read, in MB (default $KB_MAX_SIZE, else 10).",
            min=0.001,
            max=1_000_000,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Read Q&A files into the knowledge base.

    Formats are detected per file; re-ingesting the same content adds nothing, and a
    changed file updates its entries. Bad files are reported and the rest still read.
    Exit code 1 when any input failed.

    Example: kb ingest notes/ faq.txt 'exports/*.jsonl'
    """
    from kb import render

    if parser_format is not None:
        from kb.parsers import FORMATS

        if parser_format not in FORMATS:
            raise typer.BadParameter(f"{parser_format!r} is not one of: {', '.join(FORMATS)}", param_hint="--format")
    if answers is not None and answers not in ("accepted", "best", "all"):
        raise typer.BadParameter(f"{answers!r} is not one of: accepted, best, all", param_hint="--answers")
    if column_map is not None:
        from kb.errors import ParseError
        from kb.parsers.fields import parse_mapping

        try:
            parse_mapping(column_map)
        except ParseError as exc:
            raise typer.BadParameter(exc.reason, param_hint="--map") from None
    if max_size is not None and max_size != max_size:
        # NaN passes Click's range check (it compares false with everything).
        raise typer.BadParameter("not a number of MB", param_hint="--max-size")
    if max_size is None:
        max_size = config.max_size_mb()
    from kb.errors import IngestInterrupted

    kb = open_kb(db, must_exist=False)
    show_progress = not quiet and sys.stderr.isatty()
    try:
        with _ingest_progress(paths, show_progress) as bar:
            if bar is not None:
                kb.hooks.on_rebuild = bar.rebuild
            report = kb.ingest(
                paths,
                format=parser_format,
                dry_run=dry_run,
                max_size=int(max_size * 1_000_000) if max_size else None,
                progress=bar.advance if bar else None,
                status=bar.status if bar else None,
                keep="brief" if as_json else "counts",
                settings={
                    k: v for k, v in (("answers", answers), ("site", site), ("map", column_map)) if v is not None
                },
            )
    except IngestInterrupted as exc:
        sys.stderr.write(f"{exc}\n")
        raise typer.Exit(code=130) from None
    if as_json:
        render.emit_json(report.to_dict())
    elif not quiet:
        render.ingest_summary(report)
    if report.failures:
        raise typer.Exit(code=1)


def _ingest_progress(paths: list[str], enabled: bool):
    from contextlib import nullcontext

    if not enabled:
        return nullcontext(None)
    from kb.cli.progress import IngestBar
    from kb.ingest.sources import STDIN, expand_paths, total_size

    inputs = [p for p in expand_paths(paths) if isinstance(p, str)]
    return IngestBar(total_size(p for p in inputs if p != STDIN), len(inputs))
