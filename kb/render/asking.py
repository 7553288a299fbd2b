"""What `kb post`, `kb answer` and `kb inbox` show: a posted question with what may
already answer it, an expert's inbox with how long each question has waited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kb.emit import emit_entries, emit_json, entry_record
from kb.render.consoles import console, notice
from kb.render.text import clean

if TYPE_CHECKING:
    from rich.text import Text

    from kb.asking import Inbox, Posted
    from kb.models import Entry
    from kb.search.results import Hit


def _hit_line(hit: Hit) -> Text:
    from rich.text import Text

    entry = hit.entry
    line = Text("  ")
    line.append(f"#{entry.id}", style="bold cyan")
    line.append("  " + " ".join(clean(entry.display_title()).split()), style="bold")
    own = " ".join(clean(entry.question).split())
    if own and own != entry.display_title():
        line.append("  " + own, style="italic")
    return line


def posted(result: Posted, fmt: str) -> None:
    """Print a posted question's id (stdout) and what may already answer it (stderr)."""
    entry = result.entry
    if fmt == "json":
        emit_json(
            entry_record(
                entry,
                may_be_answered_by=[brief(h) for h in result.answered],
                asked_before=[brief(h) for h in result.asked],
            )
        )
    elif fmt in ("jsonl", "csv", "ids"):
        emit_entries([entry], fmt)
    else:
        console().print(str(entry.id))
    err = console(stderr=True)
    for label, hits in (("may already be answered:", result.answered), ("asked before, still open:", result.asked)):
        if hits:
            err.print(label, style="bold yellow")
            for hit in hits:
                err.print(_hit_line(hit), overflow="ellipsis", no_wrap=True)
    if result.expert_hint and entry.asked_for:
        notice(f"no expert named {clean(entry.asked_for)} yet; {clean(result.expert_hint)}")
    where = f" for {clean(entry.asked_for)}" if entry.asked_for else ""
    notice(f"posted #{entry.id}{where}; it waits for an answer (kb answer {entry.id})")


def not_close(hits: list[Hit]) -> None:
    """The weak matches of a question ``kb ask`` found nothing close to (stderr)."""
    err = console(stderr=True)
    err.print("not close:", style="bold yellow")
    for hit in hits:
        err.print(_hit_line(hit), overflow="ellipsis", no_wrap=True)


def brief(hit: Hit) -> dict[str, Any]:
    e = hit.entry
    return {"id": e.id, "uid": e.uid, "title": e.title, "question": e.question, "status": e.status}


def inbox(box: Inbox, fmt: str, limit: int | None = None) -> None:
    """Print the open questions of an inbox, oldest first, with how long each has waited
    (the first ``limit`` of them)."""
    from rich.text import Text

    from kb.asking import duration

    shown = box.questions[:limit]
    if fmt != "table":
        extras = [{"waited_seconds": int(w.waited)} for w in shown]
        emit_entries([w.entry for w in shown], fmt, extras, extra_columns=("waited_seconds",))
        return
    if not box.questions:
        who = f" for {clean(box.expert)}" if box.expert else ""
        notice(f"no open questions{who}")
        return
    out = console()
    for item in shown:
        entry = item.entry
        line = Text(f"{duration(item.waited):>7}  ", style="yellow")
        line.append(f"#{entry.id}", style="bold cyan")
        line.append("  " + " ".join(clean(entry.display_title()).split()), style="bold")
        meta = [clean(x) for x in (entry.category, _asked(entry)) if x]
        if meta:
            line.append("  " + " · ".join(meta), style="dim")
        out.print(line, overflow="ellipsis", no_wrap=True)
    noun = "question waits" if len(box.questions) == 1 else "questions wait"
    more = f" (showing the oldest {len(shown)}: --limit for more)" if len(shown) < len(box.questions) else ""
    notice(f"{len(box.questions)} {noun}{more}; answer one with: kb answer ID")


def _asked(entry: Entry) -> str:
    """Who asked and for whom, as one short phrase (made safe to print)."""
    parts = []
    if entry.asked_by:
        parts.append(f"asked by {entry.asked_by}")
    if entry.asked_for:
        parts.append(f"for {entry.asked_for}")
    return clean(" ".join(parts))


def waiting_line(entry: Entry) -> str:
    """What an open question's card says instead of an answer: who asked, for whom, how long ago."""
    from datetime import UTC, datetime

    from kb.asking import duration, waited

    text = "Waiting for an answer"
    asked = _asked(entry)
    if asked:
        text += f" ({asked})"
    return text + f", {duration(waited(entry, datetime.now(UTC)))} so far; answer it with: kb answer {entry.id}"


def answered(entry: Entry) -> None:
    """Say on stderr that a question was answered, and by whom."""
    who = f" by {clean(entry.expert.name)}" if entry.expert else ""
    notice(f"answered #{entry.id}{who}; it is now found by kb search and kb ask")


def answered_after(entry: Entry) -> str:
    """A posted question's history in a few words: asked by whom, answered how long after."""
    from kb.asking import answer_wait, duration

    text = _asked(entry) or "asked"
    wait = answer_wait(entry)
    return text + (f", answered after {duration(wait)}" if wait is not None else "")
