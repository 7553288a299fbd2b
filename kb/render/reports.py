"""Reports of what a command did or found: the ingest summary, kb stats, kb doctor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kb.render.consoles import console, notice
from kb.render.text import clean, human_size

if TYPE_CHECKING:
    from kb.doctor.report import Report as DoctorReport
    from kb.export import Stats
    from kb.ingest.sources import IngestReport


def ingest_summary(report: IngestReport) -> None:
    """Print the ingest summary table and each failure's file and reason, to stderr."""
    from rich.table import Table
    from rich.text import Text

    err = console(stderr=True)
    title = "Dry run: nothing was written" if report.dry_run else None
    table = Table(title=title, show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("added", "updated", "unchanged", "duplicates", "failed"):
        table.add_column(col, justify="right")
    counts = report.counts
    table.add_row(
        Text(str(counts["added"]), style="green" if counts["added"] else ""),
        Text(str(counts["updated"]), style="cyan" if counts["updated"] else ""),
        str(counts["unchanged"]),
        Text(str(counts["duplicates"]), style="yellow" if counts["duplicates"] else ""),
        Text(str(len(report.failures)), style="red" if report.failures else ""),
    )
    err.print(table)
    # On a terminal each line wraps at word boundaries under a hanging indent; piped,
    # it stays one line, for grep.
    wrap = err.is_terminal

    def line(label: str, style: str, text: str) -> None:
        body = Text(clean(text).replace("\n", " "))
        if wrap:
            lines = body.wrap(err, max(err.width - len(label), 20))
            for n, part in enumerate(lines):
                part.rstrip()
                err.print(Text(label if n == 0 else " " * len(label), style=style if n == 0 else "") + part)
        else:
            err.print(Text(label, style=style) + body, soft_wrap=True)

    if report.duplicates:
        # Summarised: a corpus can repeat hundreds of records; --json lists them.
        first = report.duplicates[0]
        line(
            "duplicates ",
            "yellow",
            f"{_count(counts['duplicates'], 'record')} repeated one read earlier in this ingest and "
            f"{'was' if counts['duplicates'] == 1 else 'were'} not stored again (the first: "
            f"{first.path}{'' if first.line is None else f':{first.line}'} repeats entry {first.id}); "
            "--json lists them",
        )
    for reason, count in report.skipped.items():
        # "reason: N" reads right for one as for many ("skipped 1 ... files" did not).
        line("skipped ", "yellow", f"{reason}: {count:,}")
    for failure in report.failures[:200]:
        line("failed ", "red", str(failure))
    if len(report.failures) > 200:
        err.print(Text(f"... and {len(report.failures) - 200} more failures (use --json for all)", style="red"))
    for path, fields in report.kept_aside.items():
        line(
            "kept aside ", "yellow", f"{path}: {', '.join(fields)} (fields kb has no place for; in each entry's extra)"
        )


def stats_table(stats: Stats, top: int = 15) -> None:
    """Print the counts, then a bar per category (the `top` largest) on stdout."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    files = _count(stats.files, "file") + (": " if stats.formats else "")
    files += ", ".join(f"{clean(name)} {n}" for name, n in stats.formats.items())
    per_format = ", ".join(f"{clean(name)} {n}" for name, n in stats.format_entries.items()) or "none"
    facts = Table.grid(padding=(0, 2))
    rows = [
        ("store", f"{clean(stats.path)} ({human_size(stats.store_bytes)})"),
        # A store on a server keeps its search data in its own tables: no index file.
        *([("index", f"{clean(stats.index_path)} ({human_size(stats.index_bytes)})")] if stats.index_path else []),
        ("entries", str(stats.entries)),
        ("categories", str(len(stats.categories))),
        ("experts", str(stats.experts)),
        ("tags", str(stats.tags)),
        ("sources", files),
        ("entries by format", per_format),
    ]
    for label, value in rows:
        facts.add_row(Text(label, style="bold"), Text(value))
    out.print(facts)
    if not stats.categories:
        return
    chart = Table(title="Entries per category", title_justify="left", box=None, show_header=False)
    chart.add_column(max_width=40, overflow="ellipsis", no_wrap=True)
    chart.add_column(justify="right")
    chart.add_column()
    largest = stats.categories[0][1]
    for name, count in stats.categories[:top]:
        bar = "█" * max(1, round(30 * count / largest))
        chart.add_row(Text(clean(name) or "(no category)"), str(count), Text(bar, style="cyan"))
    out.print(chart)
    if len(stats.categories) > top:
        out.print(Text(f"... and {len(stats.categories) - top} more categories", style="dim"))


def _count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``: a count with its noun, singular for one."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


_DOCTOR_STYLES = {"ok": "green", "note": "yellow", "problem": "bold red"}


def doctor_report(report: DoctorReport) -> None:
    """Print what `kb doctor` found (and repaired) as a table on stdout; the verdict on stderr."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    for action in report.actions:
        out.print(Text("repaired: ", style="bold green").append(clean(action)), soft_wrap=True)
    for failure in report.unrepaired:
        out.print(Text("not repaired: ", style="bold red").append(clean(failure)), soft_wrap=True)
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    for finding in report.findings:
        detail = Text(clean(finding.detail))
        if finding.fix and finding.status != "ok":
            detail.append(f"\n→ {clean(finding.fix)}", style="dim")
        table.add_row(finding.check, Text(finding.status, style=_DOCTOR_STYLES.get(finding.status, "")), detail)
    out.print(table)
    verdict = (
        "healthy" if report.healthy else "problems found" + ("" if report.after_repair else " (kb doctor --repair)")
    )
    notice(f"{clean(str(report.store))}: {verdict}")
