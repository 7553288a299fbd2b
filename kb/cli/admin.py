"""Commands that look after the store itself: doctor (check, and repair with --repair).

The checks and repairs live in kb.doctor; this module reads the options and prints
the report (a table on stdout, or JSON with --json).
"""

from typing import Annotated

import typer

from kb.cli.options import DbOption, open_kb

_STYLES = {"ok": "green", "note": "yellow", "problem": "bold red"}


def doctor(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed; never deletes a damaged store.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    db: DbOption = None,
) -> None:
    """Check the store (catalog and shard files), its search index, backup, lock and leftovers.

    Exit code 0 when healthy, 1 when a problem remains. With --repair, nothing damaged is
    deleted: a damaged catalog is kept as kb.json.damaged-TIME and replaced by its last
    good copy (kb.json.bak) or a catalog rebuilt from the shard files, whichever holds
    more entries; a damaged shard file is kept as NAME.damaged-TIME and replaced by the
    best of its salvaged entries, the backup's version and older versions; a stale or
    corrupt index is rebuilt; files of interrupted writes are removed.

    Example: kb doctor ; kb doctor --repair
    """
    from kb import render
    from kb.doctor.check import check
    from kb.doctor.repair import repair as repair_store

    path = open_kb(db).path
    report = repair_store(path) if repair else check(path)
    if as_json:
        render.emit_json(report.to_dict())
    else:
        _print_report(report)
    if not report.healthy:
        raise typer.Exit(code=1)


def _print_report(report) -> None:
    from rich.table import Table
    from rich.text import Text

    from kb import render

    out = render.console()
    for action in report.actions:
        out.print(Text("repaired: ", style="bold green").append(render.clean(action)), soft_wrap=True)
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    for finding in report.findings:
        detail = Text(render.clean(finding.detail))
        if finding.fix and finding.status != "ok":
            detail.append(f"\n→ {render.clean(finding.fix)}", style="dim")
        table.add_row(finding.check, Text(finding.status, style=_STYLES.get(finding.status)), detail)
    out.print(table)
    verdict = "healthy" if report.healthy else "problems found" + ("" if report.actions else " (kb doctor --repair)")
    render.notice(f"{render.clean(str(report.store))}: {verdict}")
