"""The PostgreSQL backend's write rules, in one place: ids, dates, the uid check, source
matching, expert profiles and the word counts that follow every write.

A batch is copied into a temporary table (COPY) and inserted from there with ``ON
CONFLICT DO NOTHING``: the uid is unique in the database, so when two people ingest the
same answer at once it is stored once and the second learns it was already there. Ids
come from the table's sequence. Every function here runs inside the caller's transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, wait
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kb.backend import WriteResult
from kb.errors import AlreadyAnswered, EditConflict, InvalidEntry, NotFound
from kb.models import OPEN, Entry, now_iso
from kb.postgres import postings
from kb.postgres.connection import scalar
from kb.postgres.rows import STAGE_COLUMNS, STAGE_TABLE, flat_json, pg_text, profiles, stage_row
from kb.search.spelling import fold

if TYPE_CHECKING:
    import psycopg

_COLUMNS = ", ".join(STAGE_COLUMNS)
_STAGED = ", ".join("s." + c for c in STAGE_COLUMNS)
# The entry's weighted vector, made by PostgreSQL's parser (most of the server's share of
# an ingest) from the staged row.
_VECTOR = "body_vector(s.title, s.question, s.answer, s.tags, s.expert, s.category)"
_WORDS = re.compile(r"[^\W_]+")


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """In how many of the texts each plain word (3-40 letters, lower case, no accents) occurs.

    Counted here rather than by PostgreSQL's parser, which would tokenize every text a
    second time; the words only feed "did you mean", which forgives the odd difference.
    A run of letters and digits is one token, as the files backend's tokenizer reads it,
    and one with a digit is no word: "RNU4ATAC" gives none (not "atac", which "heart
    atack" would then be offered as the files backend never offers it).
    """
    counts: Counter[str] = Counter()
    for text in texts:
        words = set(_WORDS.findall(text.lower()))
        counts.update(w if w.isascii() else fold(w) for w in words if 3 <= len(w) <= 40 and w.isalpha())
    return counts


def add_words(conn: psycopg.Connection[Any], counts: Counter[str], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) document counts of words in the vocabulary.

    Rows are upserted in word order, so that writers updating the same words at once
    wait for each other instead of deadlocking.
    """
    if not counts:
        return
    words = sorted(counts)
    conn.execute(
        "INSERT INTO words (word, df) SELECT w, %s * n FROM unnest(%s::text[], %s::int[]) AS u(w, n) ORDER BY w"
        " ON CONFLICT (word) DO UPDATE SET df = words.df + excluded.df",
        (int(sign), words, [counts[w] for w in words]),
    )
    if sign < 0:
        conn.execute("DELETE FROM words WHERE df <= 0")


def _stage(conn: psycopg.Connection[Any], entries: list[Entry]) -> None:
    conn.execute(STAGE_TABLE)
    conn.execute("TRUNCATE kb_stage")
    with conn.cursor().copy(f"COPY kb_stage ({_COLUMNS}) FROM STDIN") as copy:
        for entry in entries:
            copy.write_row(stage_row(entry))


def _texts(entries: Iterable[Entry]) -> Iterator[str]:
    return (f"{e.title} {e.question} {e.answer}" for e in entries)


def count_words(conn: psycopg.Connection[Any], ids: list[int], sign: int) -> None:
    """Add or take away the words of stored entries (before a removal or an edit)."""
    if ids:
        rows = conn.execute("SELECT title || ' ' || question || ' ' || answer FROM entries WHERE id = ANY(%s)", (ids,))
        add_words(conn, word_counts(r[0] for r in rows), sign)


def merge_experts(conn: psycopg.Connection[Any], entries: Iterable[Entry]) -> None:
    """Merge the entries' profiles into ``experts``: stored sections the new ones lack stay."""
    found = profiles(entries)
    if not found:
        return
    names = sorted(found)
    conn.execute(
        "INSERT INTO experts (name, profile)"
        " SELECT n, p FROM unnest(%s::text[], %s::jsonb[]) AS u(n, p) ORDER BY n"
        " ON CONFLICT (name) DO UPDATE SET profile = experts.profile || excluded.profile"
        " WHERE experts.profile IS DISTINCT FROM experts.profile || excluded.profile",
        ([pg_text(n) for n in names], [flat_json(found[n].to_dict()) for n in names]),
    )


def write_batch(conn: psycopg.Connection[Any], entries: list[Entry], *, update_by_source: bool) -> WriteResult:
    """Store a batch (see kb.backend.IngestSink.write); the caller holds a transaction."""
    result = WriteResult()
    stamp = now_iso()
    batch: dict[str, Entry] = {}
    twins: list[Entry] = []
    for entry in entries:
        if entry.uid in batch:
            twins.append(entry)  # the same answer twice in one batch: stored once
        else:
            batch[entry.uid] = entry
    known = dict(conn.execute("SELECT uid, id FROM entries WHERE uid = ANY(%s)", (list(batch),)).fetchall())
    fresh = [e for uid, e in batch.items() if uid not in known]
    words: list[Future[Counter[str]]] = []  # used when all of them are stored

    def count_words_ahead() -> None:
        # After the postings (the worker takes its work in order): the words are wanted
        # last, the postings' first part as soon as the entries are inserted.
        if not words:
            words.append(postings.ahead(lambda: word_counts(_texts(fresh))))

    by_source = _stored_sources(conn, fresh) if update_by_source else {}
    added: list[Entry] = []
    for entry in fresh:
        old = by_source.get((entry.source.path or "", str(entry.source.key))) if not entry.restored else None
        if old is not None:
            entry.id, entry.created_at, entry.updated_at = old[0], old[1] or stamp, stamp
            result.updated.append(entry)
        else:
            entry.created_at = entry.created_at or stamp
            entry.updated_at = entry.updated_at or stamp
            added.append(entry)
    if result.updated:
        _replace(conn, result.updated)
    result.added = _insert(conn, added, known, count_words_ahead)
    count_words_ahead()  # (when nothing was inserted)
    written = {id(e) for e in result.added + result.updated}
    for entry in batch.values():
        if id(entry) not in written:
            entry.id = known[entry.uid]
            result.unchanged.append(entry)
    for entry in twins:
        entry.id = batch[entry.uid].id
        result.unchanged.append(entry)
    merge_experts(conn, result.added + result.updated)
    stored = result.added + result.updated
    same = len(stored) == len(fresh)  # (stored entries are fresh ones)
    add_words(conn, words[0].result() if same else word_counts(_texts(stored)), 1)
    return result


def _stored_sources(conn: psycopg.Connection[Any], entries: list[Entry]) -> dict[tuple[str, str], tuple[int, str]]:
    """(path, record key) -> (id, created_at) of stored entries from the same records."""
    keys = [(e.source.path, str(e.source.key)) for e in entries if e.source.path and e.source.key is not None]
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT e.src_path, e.src_key, e.id, e.created_at FROM entries e"
        " JOIN unnest(%s::text[], %s::text[]) AS k(p, r) ON e.src_path = k.p AND e.src_key = k.r",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(p, r): (i, c) for p, r, i, c in rows}


def _insert(
    conn: psycopg.Connection[Any], entries: list[Entry], known: dict[str, int], then: Callable[[], None]
) -> list[Entry]:
    """Insert new entries; return those stored. One stored meanwhile by another writer
    (same uid) is noted in ``known`` instead. ``then`` is called once their postings are
    being counted (to queue more work behind them)."""
    if not entries:
        return []
    _assign_ids(conn, entries)
    ahead = postings.count_ahead(entries)
    then()
    _stage(conn, entries)
    stored = {
        uid
        for (uid,) in conn.execute(
            f"INSERT INTO entries ({_COLUMNS}, body) SELECT {_STAGED}, {_VECTOR} FROM kb_stage s"
            # In uid order: two writers whose batches share answers then wait for each
            # other on the first shared uid instead of each holding one the other needs.
            " ORDER BY s.uid ON CONFLICT DO NOTHING RETURNING uid"
        )
    }
    lost = [e for e in entries if e.uid not in stored]
    if lost:
        wait(ahead)  # counted before a lost entry's id changes below
    postings.add(conn, [e for e in entries if e.uid in stored], None if lost else ahead)
    if lost:
        known.update(
            conn.execute("SELECT uid, id FROM entries WHERE uid = ANY(%s)", ([e.uid for e in lost],)).fetchall()
        )
        # The rest lost only their id (a restored entry's, taken meanwhile): new ones.
        again = [e for e in lost if e.uid not in known]
        for entry in again:
            entry.id, entry.restored = None, False
        stored |= {e.uid for e in _insert(conn, again, known, then)}
    if any(e.restored for e in entries):
        # Restored ids were not drawn from the sequence: move it past them.
        top = max(e.stored_id() for e in entries)
        conn.execute(
            "SELECT setval(q, greatest(%s, coalesce(pg_sequence_last_value(q), 0)))"
            " FROM CAST(pg_get_serial_sequence('entries', 'id') AS regclass) AS q",
            (top,),
        )
    return [e for e in entries if e.uid in stored]


def _assign_ids(conn: psycopg.Connection[Any], entries: list[Entry]) -> None:
    """Restored entries keep their ids where no stored entry holds them; the rest take the
    sequence's next ones, in order."""
    wanted = [e.id for e in entries if e.restored and e.id is not None]
    taken = {i for (i,) in conn.execute("SELECT id FROM entries WHERE id = ANY(%s)", (wanted,))} if wanted else set()
    claimed: set[int] = set()
    for entry in entries:
        if entry.restored and entry.id is not None and entry.id not in taken and entry.id not in claimed:
            claimed.add(entry.id)
        else:
            entry.id = None
    need = [e for e in entries if e.id is None]
    if need:
        ids = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('entries', 'id')) FROM generate_series(1, %s)", (len(need),)
        ).fetchall()
        for entry, (new_id,) in zip(need, ids):
            entry.id = int(new_id)


def _replace(conn: psycopg.Connection[Any], entries: list[Entry]) -> None:
    """Overwrite stored entries by id with these (ids, dates set by the caller); an entry
    written without raw text keeps the stored one."""
    ids = [e.stored_id() for e in entries]
    count_words(conn, ids, -1)
    for old in postings.stored(conn, ids):
        postings.remove(conn, old)
    _stage(conn, entries)
    assignments = ", ".join(f"{c} = s.{c}" for c in STAGE_COLUMNS if c not in ("id", "raw"))
    conn.execute(
        f"UPDATE entries e SET {assignments}, raw = coalesce(s.raw, e.raw), body = {_VECTOR}"
        " FROM kb_stage s WHERE e.id = s.id"
    )
    postings.add(conn, entries)


def _later(stamp: str, than: str | None) -> str:
    """``stamp``, or one second after ``than`` when the clock has not passed it: every edit
    leaves a new updated_at, which is what the next edit's conflict check compares."""
    if not than:
        return stamp
    try:
        previous = datetime.fromisoformat(than)
        if datetime.fromisoformat(stamp) <= previous:
            return (previous + timedelta(seconds=1)).isoformat()
    except ValueError:
        pass
    return stamp


def update(conn: psycopg.Connection[Any], entry: Entry, read_at: str | None) -> Entry:
    """Replace a stored entry after an edit, unless it changed since it was read.

    Raises:
        NotFound: no entry has ``entry.id`` (removed meanwhile).
        EditConflict: its ``updated_at`` is no longer ``read_at``.
        InvalidEntry: another entry has the edited question and answer.
    """
    entry_id = entry.stored_id()
    row = conn.execute("SELECT created_at, updated_at FROM entries WHERE id = %s FOR UPDATE", (entry_id,)).fetchone()
    if row is None:
        raise NotFound(f"no entry with id {entry_id}", hint="it was removed after you read it; nothing was saved")
    created, updated = row
    if read_at is not None and updated != read_at:
        raise EditConflict(
            f"entry {entry_id} changed since you read it (at {read_at}; now {updated}); your edit was not saved",
            hint=f"read it again with: kb show {entry_id}, and make your change there",
        )
    other = conn.execute("SELECT id FROM entries WHERE uid = %s AND id != %s", (entry.uid, entry_id)).fetchone()
    if other is not None:
        raise InvalidEntry(f"entry {other[0]} already has this question and answer")
    entry.created_at = created or now_iso()
    entry.updated_at = _later(now_iso(), updated)
    _replace(conn, [entry])
    merge_experts(conn, [entry])
    return entry


def answer_open(conn: psycopg.Connection[Any], entry: Entry) -> Entry:
    """Store an answered question if the stored one is still open (its row locked while
    checked and written, so of two writers answering at once one succeeds).

    Raises:
        AlreadyAnswered: the stored entry is no longer open; nothing was written.
        NotFound: no entry has ``entry.id``.
    """
    entry_id = entry.stored_id()
    row = conn.execute("SELECT status FROM entries WHERE id = %s FOR UPDATE", (entry_id,)).fetchone()
    if row is None:
        raise NotFound(f"no entry with id {entry_id}", hint="it was removed after you read it; nothing was saved")
    if row[0] != OPEN:
        raise AlreadyAnswered(f"#{entry_id} is already answered")
    return update(conn, entry, None)


def remove(conn: psycopg.Connection[Any], ids: Iterable[int]) -> list[int]:
    """Delete entries by id; return the ids that existed (in the order given)."""
    wanted = [int(i) for i in dict.fromkeys(ids) if i is not None]
    present = [i for (i,) in conn.execute("SELECT id FROM entries WHERE id = ANY(%s) FOR UPDATE", (wanted,))]
    count_words(conn, present, -1)
    for old in postings.stored(conn, present):
        postings.remove(conn, old)
    conn.execute("DELETE FROM entries WHERE id = ANY(%s)", (present,))
    gone = set(present)
    return [i for i in wanted if i in gone]


def refresh_statistics(conn: psycopg.Connection[Any], *, force: bool = False, vacuum: bool = False) -> bool:
    """ANALYZE the entries and postings when they grew or shrank by a fifth since the last
    time (always while there are few); return whether it ran. ``vacuum`` (after an
    ingest): VACUUM (ANALYZE) them instead.

    The planner's row estimates are what keep a search on the postings' index; geometric
    growth makes this a constant share of an ingest. VACUUM also marks the new rows' pages
    all-visible, so that a search's index-only scan reads no table pages (right after a
    bulk load it fetched half its rows from the table), and moves the entries' GIN pending
    list into the index; measured at 16k it costs ~1 s of server CPU, ~5 % of the ingest.
    A writer that finds another one at it leaves it to them. Run outside a transaction.
    """
    key = "hashtext('kb statistics ' || current_schema())"
    if not scalar(conn, f"SELECT pg_try_advisory_lock({key})"):
        return False
    try:
        with conn.transaction():
            count = int(scalar(conn, "SELECT entries FROM corpus"))
            last = int(scalar(conn, "SELECT value FROM meta WHERE key = 'analyzed_count'") or 0)
            if not force and count >= 2000 and abs(count - last) <= last / 5:
                return False
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('analyzed_count', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(count),),
            )
        # VACUUM cannot run in a transaction; a login that does not own the tables gets a
        # warning from either, not an error.
        for table in ("entries", "postings", "stems", "words") if vacuum else ("entries", "postings", "stems"):
            conn.execute(f"VACUUM (ANALYZE) {table}" if vacuum else f"ANALYZE {table}")
    finally:
        conn.execute(f"SELECT pg_advisory_unlock({key})")
    return True
