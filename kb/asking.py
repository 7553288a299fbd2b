"""Questions that wait for an expert: posting them, the inbox of those an expert can
answer, answering each once, follow-ups, and how long questions waited.

A posted question is an Entry whose status is "open" and whose answer is empty
(kb.models); answering it makes it an entry like any other. KnowledgeBase (kb.api)
delegates here, and is passed in as a ``Desk``. The one write that must be atomic, storing an answer only while the
question is still open, is ``KnowledgeBase.answer_open``: each backend makes it so.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kb.entries import normalise, validate
from kb.errors import AlreadyAnswered, Duplicate, InvalidEntry, NotFound, QueryError
from kb.models import ANSWERED, OPEN, Entry, Expert, Source, now_iso

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kb.search.results import ExpertSummary, Hit, SearchResult


class Desk(Protocol):
    """What asking needs of the knowledge base: KnowledgeBase (kb.api) is one. A protocol,
    so this module never imports the front that delegates to it."""

    @property
    def drafts_path(self) -> Path: ...

    def get(self, ref: int | str) -> Entry: ...

    def list(self, request: None = None, /, **filters: Any) -> builtins.list[Entry]: ...

    def ask(self, question: str, request: None = None, /, *, others: int = 4, **filters: Any) -> SearchResult: ...

    def add(self, entry: Entry | None = None, /, **fields: Any) -> Entry: ...

    def expert(self, name: str) -> ExpertSummary: ...

    def fold_categories(self, entries: Iterable[Entry]) -> builtins.list[Entry]: ...

    def answer_open(self, entry: Entry) -> Entry: ...

    def closeness(self, question: str, hits: Iterable[Hit]) -> dict[int, float]: ...


@dataclass
class Posted:
    """A question just posted, with what may already answer it: the answered entries
    ``kb ask`` shows for it, and open questions that ask nearly the same."""

    entry: Entry
    answered: list[Hit] = field(default_factory=list)
    asked: list[Hit] = field(default_factory=list)
    # When ``asked_for`` names no known expert but is close to one: "did you mean 'Y'?".
    expert_hint: str | None = None


@dataclass
class Waiting:
    """An open question and how long it has waited, in seconds."""

    entry: Entry
    waited: float


@dataclass
class Inbox:
    """The open questions an expert can answer (every open one when ``expert`` is None),
    oldest first; ``categories`` are those the expert answered before."""

    expert: str | None
    categories: list[str]
    questions: list[Waiting]


def one_line(text: str | None) -> str | None:
    """A name as typed (``--by``, ``--for``, ``--expert``): one line, trimmed; None when blank."""
    if text is None:
        return None
    folded = " ".join(text.split())
    return folded or None


def new_question(
    question: str,
    *,
    title: str = "",
    category: str = "",
    asked_by: str | None = None,
    asked_for: str | None = None,
    follows: int | None = None,
) -> Entry:
    """Build an open question (not stored yet), its text cleaned as ``kb add`` cleans it."""
    entry = Entry(
        question=question,
        answer="",
        title=title,
        category=category,
        source=Source(format="manual"),
        status=OPEN,
        asked_by=one_line(asked_by),
        asked_for=one_line(asked_for),
        asked_at=now_iso(),
        follows=follows,
    )
    normalise(entry)
    validate(entry)
    return entry


def post(
    kb: Desk,
    question: str,
    *,
    title: str = "",
    category: str = "",
    asked_by: str | None = None,
    asked_for: str | None = None,
    follows: int | str | None = None,
) -> Posted:
    """Store a question that waits for an answer; return it with what may already answer it.

    ``asked_for`` names the expert it is for: a stored expert by any unique form of the
    name, else a new name. ``follows`` is the entry (id or uid prefix) it follows up.

    Raises:
        Duplicate: an open question with the same text (ignoring case and spacing) is
            stored; ``existing_id`` is its id.
        NotFound: ``follows`` names no entry.
        InvalidEntry: the question is empty.
    """
    followed = kb.get(follows).stored_id() if follows is not None else None
    entry = new_question(
        question, title=title, category=category, asked_by=asked_by, asked_for=asked_for, follows=followed
    )
    hint = None
    if entry.asked_for:
        known, hint = _known_expert_or_hint(kb, entry.asked_for)
        entry.asked_for = known or entry.asked_for
    [entry] = kb.fold_categories([entry])
    answered, asked = _similar(kb, entry.question, ANSWERED), _similar(kb, entry.question, OPEN)
    try:
        stored = kb.add(entry)
    except Duplicate as exc:
        raise Duplicate(
            f"this question is already posted as #{exc.existing_id} and waits for its answer; nothing added",
            existing_id=exc.existing_id,
            hint=f"see it with: kb show {exc.existing_id}",
        ) from None
    return Posted(stored, answered, [hit for hit in asked if hit.entry.id != stored.id], hint)


def _similar(kb: Desk, question: str, status: str) -> list[Hit]:
    """What ``kb ask`` shows for the question among entries of this status."""
    try:
        return list(kb.ask(question, status=status).hits)
    except QueryError:
        return []


def _known_expert(kb: Desk, name: str) -> str | None:
    """The stored name of the expert ``name`` stands for (any unique form), or None.

    Raises:
        NotFound: the name fits several experts (the hint lists them).
    """
    return _known_expert_or_hint(kb, name)[0]


def _known_expert_or_hint(kb: Desk, name: str) -> tuple[str | None, str | None]:
    """The stored name of the expert ``name`` stands for, or (None, the "did you mean"
    of known names close to it, None when none is); see _known_expert."""
    try:
        return kb.expert(name).name, None
    except NotFound as exc:
        # "no expert ...": a new name; anything else (ambiguous) the person must settle.
        if str(exc).startswith("no expert"):
            return None, exc.hint
        raise


# `kb ask` gives the best hit as the answer only when it holds at least this share of the
# question's information (kb.search.closeness): the idf-weighted share of its words. An
# entry that shares only a common word or two with a question holds a small share of it;
# one on the question's topic holds its topic's rare words, which weigh most.
CLOSE_SHARE = 0.5


def close_enough(kb: Desk, question: str, result: SearchResult) -> bool:
    """Whether the best hit of ``kb ask``'s result comes close to the question (True when
    there is no hit: nothing to judge)."""
    if not result.hits:
        return True
    best = result.hits[0]
    return kb.closeness(question, [best]).get(best.entry.stored_id(), 1.0) >= CLOSE_SHARE


def expert_for(kb: Desk, name: str) -> Expert:
    """The profile of the expert ``name`` stands for, or a new one by that name."""
    cleaned = one_line(name)
    if cleaned is None:
        raise InvalidEntry("the expert's name is empty")
    known = _known_expert(kb, cleaned)
    if known is None:
        return Expert(name=cleaned)
    return kb.expert(known).profile


def answered_entry(question: Entry, text: str, expert: Expert | None) -> Entry:
    """The entry an open question becomes with this answer (not stored yet)."""
    entry = replace(question, answer=text, expert=expert, status=ANSWERED, answered_at=now_iso(), uid="")
    normalise(entry)
    validate(entry, hint="give the answer's text with --answer, --answer-file or in the editor")
    return entry


def answer(kb: Desk, ref: int | str, text: str, *, expert: str | None = None, drafts: Path | None = None) -> Entry:
    """Answer an open question; return the entry as stored.

    Refused with AlreadyAnswered when the entry is not open, or when another writer
    answered it between our read and our write; the text is then kept in a file of
    ``drafts`` (default: beside the store), which the error names, so nothing typed is lost.
    """
    question = kb.get(ref)
    entry = answered_entry(question, text, expert_for(kb, expert) if expert else None)
    if not question.is_open:
        raise refusal(question, entry.answer, drafts or kb.drafts_path)
    try:
        return kb.answer_open(entry)
    except AlreadyAnswered:
        raise refusal(kb.get(question.stored_id()), entry.answer, drafts or kb.drafts_path) from None


def closed(current: Entry) -> AlreadyAnswered:
    """The error for answering an entry that is not open, before any answer was written."""
    who = current.expert.name if current.expert else "someone"
    when = current.answered_at or current.updated_at or "an earlier time"
    return AlreadyAnswered(
        f"#{current.id} is not an open question: it was answered by {who} at {when}",
        hint=f"see the answer with: kb show {current.id}; to change it: kb edit {current.id}",
    )


def refusal(current: Entry, text: str, drafts: Path) -> AlreadyAnswered:
    """The error for an answer to an entry that is already answered, its text saved first."""
    who = current.expert.name if current.expert else "someone"
    when = current.answered_at or current.updated_at or "an earlier time"
    saved = save_draft(drafts, current.stored_id(), text)
    return AlreadyAnswered(
        f"#{current.id} was already answered by {who} at {when}; your answer was not stored",
        draft=str(saved),
        hint=f"your text is kept in {saved}; see the answer with: kb show {current.id}",
    )


def save_draft(folder: Path, entry_id: int, text: str) -> Path:
    """Write an answer that was not stored to a new file in ``folder``; return its path.

    The name carries the entry's id, the time and the process, and the file is created
    exclusively (owner-only), so two refused answers never overwrite each other.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        path = folder / f"answer-{entry_id}-{stamp}-{os.getpid()}{suffix}.txt"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    raise InvalidEntry(f"cannot find a free file name for the draft in {folder}")


def inbox(kb: Desk, expert: str | None = None, *, now: datetime | None = None) -> Inbox:
    """The open questions for an expert, oldest first, with how long each has waited.

    An expert's are those addressed to them, and those addressed to nobody in a category
    where they have answered before. Without an expert, every open question.

    Raises:
        NotFound: no expert has that name (none answered, none was asked for).
    """
    questions = kb.list(status=OPEN, limit=None)
    name: str | None = None
    categories: list[str] = []
    if expert is not None:
        name, categories = _whose(kb, expert, questions)
        folded = {c.casefold() for c in categories}
        questions = [q for q in questions if _for_expert(q, name, folded)]
    moment = now or datetime.now(UTC)
    questions.sort(key=lambda q: (asked_time(q) or "", q.stored_id()))
    return Inbox(name, categories, [Waiting(q, waited(q, moment)) for q in questions])


def inbox_counts(kb: Desk, summaries: Iterable[ExpertSummary]) -> dict[str, int]:
    """How many open questions wait in each of these experts' inboxes (by stored name),
    as ``inbox`` counts them, from one read of the open questions."""
    questions = kb.list(status=OPEN, limit=None)
    out = {}
    for summary in summaries:
        folded = {name.casefold() for name, _ in summary.categories}
        out[summary.name] = sum(_for_expert(q, summary.name, folded) for q in questions)
    return out


def _whose(kb: Desk, expert: str, questions: list[Entry]) -> tuple[str, list[str]]:
    """The expert's stored name and the categories they answered in."""
    try:
        summary = kb.expert(expert)
    except NotFound as exc:
        wanted = one_line(expert) or ""
        asked = {q.asked_for for q in questions if q.asked_for and q.asked_for.casefold() == wanted.casefold()}
        if not str(exc).startswith("no expert") or not asked:
            raise
        return asked.pop(), []
    return summary.name, [name for name, _ in summary.categories]


def _for_expert(question: Entry, name: str | None, categories: set[str]) -> bool:
    if question.asked_for:
        return name is not None and question.asked_for.casefold() == name.casefold()
    return bool(question.category) and question.category.casefold() in categories


def asked_time(entry: Entry) -> str | None:
    """When a question was asked (its creation for one stored before kb asked)."""
    return entry.asked_at or entry.created_at


def waited(entry: Entry, now: datetime) -> float:
    """Seconds from when the question was asked until ``now`` (0 when unknown)."""
    start = _parse(asked_time(entry))
    return max(0.0, (now - start).total_seconds()) if start else 0.0


def answer_wait(entry: Entry) -> float | None:
    """Seconds an answered question waited for its answer; None for one never asked."""
    start, end = _parse(entry.asked_at), _parse(entry.answered_at)
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """A waiting time as people say it: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h {minutes % 60}m" if minutes % 60 else f"{hours}h"
    return f"{days}d {hours % 24}h" if hours % 24 else f"{days}d"
