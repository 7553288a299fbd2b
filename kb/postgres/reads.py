"""The PostgreSQL backend's reads: one entry, pages of entries, filters, facets, experts.

Filter values are resolved as the files backend resolves them: any case, else a unique
prefix, else a unique word start inside the name ("higby" for "Donald Higby, M.D.").
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kb.backend import FILTER_KINDS, Request
from kb.errors import NotFound
from kb.models import ANSWERED, OPEN, Entry, Expert
from kb.postgres.connection import scalar
from kb.postgres.rows import ENTRY_COLUMNS, FROM_ENTRIES, entry_from_row
from kb.search.reads import resolve_name
from kb.search.results import ExpertSummary, expert_summaries
from kb.search.spelling import did_you_mean

if TYPE_CHECKING:
    import psycopg

_HEX = re.compile(r"[0-9a-f]{4,16}")
# Each order's terms, kept apart so that --desc reverses each one (a term may hold commas).
ORDERS = {
    "id": ("e.id",),
    "title": ("lower(e.label)", "e.id"),
    "category": ("lower(e.category)", "e.id"),
    "date": ("coalesce(e.updated_at, e.created_at)", "e.id"),
}


class Where:
    """Conditions on ``entries e`` joined with AND, and their parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self, keyword: str = "WHERE") -> str:
        return f" {keyword} " + " AND ".join(self.clauses) if self.clauses else ""

    def __bool__(self) -> bool:
        return bool(self.clauses)


def entries_by_id(conn: psycopg.Connection[Any], ids: list[int]) -> dict[int, Entry]:
    if not ids:
        return {}
    rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM {FROM_ENTRIES} WHERE e.id = ANY(%s)", (ids,))
    return {entry.stored_id(): entry for entry in map(entry_from_row, rows)}


def get(conn: psycopg.Connection[Any], ref: int | str) -> Entry:
    """The entry with this integer id, or whose uid starts with ``ref`` (4+ hex digits)."""
    return get_with_follow_ups(conn, ref)[0]


def get_with_follow_ups(conn: psycopg.Connection[Any], ref: int | str) -> tuple[Entry, builtins.list[Entry] | None]:
    """get(), and the entries that follow the entry up (by id) when read with it: in the
    same statement when ``ref`` is an id (kb show lists them; None otherwise)."""
    text = str(ref).strip().lstrip("#")
    if isinstance(ref, int) or text.isdigit():
        if int(text) < 2**63:
            rows = conn.execute(
                f"""SELECT {ENTRY_COLUMNS}, false FROM {FROM_ENTRIES} WHERE e.id = %s
                UNION ALL SELECT {ENTRY_COLUMNS}, true FROM {FROM_ENTRIES} WHERE e.follows = %s ORDER BY 1""",
                (int(text), int(text)),
            ).fetchall()
            entries = [(entry_from_row(row[:-1]), row[-1]) for row in rows]
            found = [entry for entry, follows in entries if not follows]
            if found:
                return found[0], [entry for entry, follows in entries if follows]
        if isinstance(ref, int) or len(text) < 4:
            raise NotFound(f"no entry with id {text}")
    prefix = text.lower()
    if not _HEX.fullmatch(prefix):
        raise NotFound(f"no entry {str(ref)!r}", hint="give the integer id, or at least 4 hex digits of the uid")
    rows = conn.execute(
        "SELECT id, uid, label FROM entries WHERE uid >= %s AND uid < %s ORDER BY id LIMIT 6", (prefix, prefix + "g")
    ).fetchall()
    if not rows:
        raise NotFound(f"no entry with id or uid prefix {text}")
    if len(rows) > 1:
        shown = "; ".join(f"{r[0]} ({r[1]}) {r[2][:40]}" for r in rows[:5])
        raise NotFound(
            f"uid prefix {text} is ambiguous",
            hint=f"candidates: {shown}{' ...' if len(rows) > 5 else ''}; give more digits or the id",
        )
    return entries_by_id(conn, [rows[0][0]])[rows[0][0]], None


def raw(conn: psycopg.Connection[Any], entry_id: int) -> str | None:
    row = conn.execute("SELECT raw FROM entries WHERE id = %s", (entry_id,)).fetchone()
    return row[0] if row else None


def resolve(conn: psycopg.Connection[Any], kind: str, value: str, *, strict: bool) -> builtins.list[str]:
    """The stored names a filter value stands for (see the module docstring).

    With ``strict``, a value that matches nothing or several names raises NotFound;
    otherwise it resolves to no names.
    """
    value = value.strip()
    if kind == "tag":
        names = [
            r[0]
            for r in conn.execute("SELECT DISTINCT t FROM entries, unnest(tags) t WHERE lower(t) = lower(%s)", (value,))
        ]
        if names or not strict:
            return names
        known = [r[0] for r in conn.execute("SELECT DISTINCT t FROM entries, unnest(tags) t")]
        raise NotFound(f"no tag {value!r}", hint=did_you_mean(value, known))
    column = {"category": "category", "expert": "expert"}[kind]
    conditions = {"exact": f"lower({column}) = lower(%s)", "like": f"{column} ILIKE %s"}
    return resolve_name(kind, value, column, conditions, lambda q, a: [r[0] for r in conn.execute(q, a)], strict=strict)


def where_of(conn: psycopg.Connection[Any], filters: dict[str, builtins.list[str]], *, strict: bool) -> Where:
    """The conditions of filters (values by kind), resolved to stored names."""
    where = Where()
    for kind in FILTER_KINDS:
        values = filters.get(kind) or []
        if not values:
            continue
        names = [name for value in values for name in resolve(conn, kind, value, strict=strict)]
        if not names:
            where.add("false")
        elif kind == "tag":
            where.add("e.tags && %s::text[]", names)
        else:
            where.add(f"e.{kind} = ANY(%s)", names)
    return where


def request_where(conn: psycopg.Connection[Any], request: Request) -> Where:
    where = where_of(conn, {k: [v] for k, v in request.filters.items()}, strict=True)
    add_status(conn, where, request.status)
    return where


def add_status(
    conn: psycopg.Connection[Any], where: Where, status: str | None, *, some_open: bool | None = None
) -> None:
    """Keep only the entries of this status (None: all). Answered entries are nearly all
    of them: with no open question stored, keeping them asks nothing of the query
    (``some_open``: whether any is open, when the caller read it already)."""
    if status is None or (status == ANSWERED and not (has_open(conn) if some_open is None else some_open)):
        return
    where.add("e.status = %s", status)


def has_open(conn: psycopg.Connection[Any]) -> bool:
    """Whether any entry is an open question (read from a partial index)."""
    return scalar(conn, f"SELECT EXISTS (SELECT 1 FROM entries WHERE status = '{OPEN}')") is True


def follow_ups(conn: psycopg.Connection[Any], entry_id: int) -> builtins.list[Entry]:
    """The entries that follow up the entry ``entry_id``, by id."""
    rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM {FROM_ENTRIES} WHERE e.follows = %s ORDER BY e.id", (entry_id,))
    return [entry_from_row(row) for row in rows]


def list_entries(conn: psycopg.Connection[Any], request: Request) -> builtins.list[Entry]:
    where = request_where(conn, request)
    order = ", ".join(term + (" DESC" if request.descending else "") for term in ORDERS[request.sort or "id"])
    rows = conn.execute(
        f"SELECT {ENTRY_COLUMNS} FROM {FROM_ENTRIES}{where.sql()} ORDER BY {order} LIMIT %s OFFSET %s",
        [*where.params, request.limit, request.offset],
    )
    return [entry_from_row(row) for row in rows]


def count(conn: psycopg.Connection[Any], request: Request) -> int:
    where = request_where(conn, request)
    return int(scalar(conn, f"SELECT count(*) FROM entries e{where.sql()}", where.params))


def iter_entries(conn: psycopg.Connection[Any], request: Request, *, with_raw: bool) -> Iterator[Entry]:
    """Every entry the filters keep, in id order, fetched in pages through a server-side cursor."""
    where = request_where(conn, request)
    with conn.transaction(), conn.cursor(name="kb_export") as cur:
        cur.itersize = 2000
        cur.execute(
            f"SELECT {ENTRY_COLUMNS}, {'e.raw' if with_raw else 'NULL'} FROM {FROM_ENTRIES}{where.sql()} ORDER BY e.id",
            where.params,
        )
        for row in cur:
            yield entry_from_row(row[:-1], row[-1])


def categories(conn: psycopg.Connection[Any]) -> builtins.list[tuple[str, int]]:
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT category, count(*) AS n FROM entries WHERE category != ''"
            " GROUP BY category ORDER BY n DESC, lower(category)"
        )
    ]


def tags(conn: psycopg.Connection[Any]) -> builtins.list[tuple[str, int]]:
    """Each tag (any case counts as one) with its number of entries, most first."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT min(t), count(*) AS n FROM entries, unnest(tags) t GROUP BY lower(t) ORDER BY n DESC, min(t)"
        )
    ]


def experts(conn: psycopg.Connection[Any]) -> builtins.list[ExpertSummary]:
    profiles = {r[0].casefold(): Expert.from_dict(r[1]) for r in conn.execute("SELECT name, profile FROM experts")}
    rows = conn.execute(
        "SELECT min(expert), category, count(*) FROM entries WHERE expert != ''"
        " GROUP BY lower(expert), category ORDER BY 3 DESC"
    )
    return expert_summaries(profiles, rows)


def expert(conn: psycopg.Connection[Any], name: str) -> ExpertSummary:
    names = resolve(conn, "expert", name, strict=True)
    row = conn.execute("SELECT profile FROM experts WHERE name = %s", (names[0],)).fetchone()
    profile = (Expert.from_dict(row[0]) if row else None) or Expert(name=names[0])
    found = [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT category, count(*) AS n FROM entries WHERE expert = ANY(%s) GROUP BY category ORDER BY n DESC, lower(category)",
            (names,),
        )
    ]
    return ExpertSummary(profile.name, sum(n for _, n in found), [c for c in found if c[0]], profile)
