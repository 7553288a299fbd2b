"""Commands that look after the store itself: doctor (check, and repair with --repair).

The checks and repairs live in kb.doctor; this module reads the options and prints
the report (a table on stdout, or JSON with --json).
"""

from typing import Annotated

import typer

from kb.cli.options import DbOption, open_kb


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed; never deletes a damaged store.")
    ] = False,
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

    report = open_kb(db, must_exist=False).doctor(repair=repair)
    if as_json:
        render.emit_json(report.to_dict())
    else:
        render.doctor_report(report)
    if not report.healthy:
        raise typer.Exit(code=1)
