"""The SQL of reads and searches, built by pure functions that tests can call without a database.

Each returns the statement text and its parameters; values always travel as parameters,
never inside the text. Filters arrive resolved to stored names (kb.search.reads).
"""

from __future__ import annotations

from typing import Any

from kb.models import OPEN, Record
from kb.search.schema import ENTRY_COLUMNS, HEAD_WEIGHTS, WEIGHTS

SORTS = {
    "id": "e.id",
    "title": "e.label COLLATE NOCASE, e.id",
    "category": "e.category COLLATE NOCASE, e.id",
    "date": "e.date, e.id",
}
FILTER_KINDS = ("category", "expert", "tag")
_BM25 = "-bm25(fts, " + ", ".join(str(w) for w in WEIGHTS) + ")"
# The two full-text tables a search ranks with (kb.search.schema), and their BM25 scores.
SCORES = {
    "fts": _BM25,
    "head": "-bm25(head, " + ", ".join(str(w) for w in HEAD_WEIGHTS) + ")",
    "cjk": "-bm25(cjk)",
}


class Filters(Record):
    """Conditions on the entries table (aliased ``e``), joined with AND, and their parameters.

    ``on_id`` are conditions on the entry's id alone, ``{id}`` standing for the id column:
    a full-text query tests them on its rowid without joining the entries table (a join
    reads every matched entry's row: it doubled a 20-word question's time at 16k entries).
    """

    __slots__ = ("clauses", "params", "on_id", "on_id_params")
    clauses: list[str]
    params: list[Any]
    on_id: list[str]
    on_id_params: list[Any]

    def __init__(
        self,
        clauses: list[str],
        params: list[Any],
        on_id: list[str] | None = None,
        on_id_params: list[Any] | None = None,
    ) -> None:
        self.clauses = clauses
        self.params = params
        self.on_id = [] if on_id is None else on_id
        self.on_id_params = [] if on_id_params is None else on_id_params

    def __bool__(self) -> bool:
        return bool(self.clauses or self.on_id)

    @property
    def joins(self) -> bool:
        """Whether the conditions need the entries table's columns (not only the id)."""
        return bool(self.clauses)

    def conditions(self, id_column: str = "e.id") -> tuple[list[str], list[Any]]:
        """Every condition, the id ones on ``id_column``, and their parameters in order."""
        on_id = [c.replace("{id}", id_column) for c in self.on_id]
        return [*self.clauses, *on_id], [*self.params, *self.on_id_params]

    def where(self) -> str:
        """The WHERE clause, or "" when there is no condition."""
        conds = self.conditions()[0]
        return "WHERE " + " AND ".join(conds) if conds else ""


def filters(names: dict[str, list[str]], status: str | None = None) -> Filters:
    """Build the conditions for filters resolved to stored names, by kind, and a status.

    A kind present with no names (the value matched nothing) makes the condition false.
    ``status`` keeps only the open questions or only the answered entries (None: both).
    """
    clauses: list[str] = []
    params: list[Any] = []
    on_id: list[str] = []
    if status is not None:
        # Open questions are few: the id is looked up in their partial index
        # (kb.search.schema's entries_open), once per query.
        inside = "IN" if status == OPEN else "NOT IN"
        on_id.append(f"{{id}} {inside} (SELECT id FROM entries WHERE status = '{OPEN}')")
    for kind in FILTER_KINDS:
        if kind not in names:
            continue
        values = names[kind]
        if not values:
            clauses.append("0")
            continue
        marks = ",".join("?" * len(values))
        if kind == "tag":
            clauses.append(f"e.id IN (SELECT id FROM entry_tags WHERE tag IN ({marks}))")
        else:
            clauses.append(f"e.{kind} IN ({marks})")
        params.extend(values)
    return Filters(clauses, params, on_id)


def order_by(sort: str, descending: bool = False) -> str:
    """The ORDER BY terms of a sort key (see SORTS); KeyError for an unknown one."""
    order = SORTS[sort]
    if descending:
        order = ", ".join(part + " DESC" for part in order.split(", "))
    return order


def list_page(where: Filters, sort: str, descending: bool, limit: int | None, offset: int) -> tuple[str, list[Any]]:
    """A page of entries (ENTRY_COLUMNS) passing the filters, in this order."""
    sql = (
        f"SELECT {ENTRY_COLUMNS} FROM entries e {where.where()} ORDER BY {order_by(sort, descending)} LIMIT ? OFFSET ?"
    )
    return sql, [*where.conditions()[1], -1 if limit is None else int(limit), max(0, int(offset))]


def count_entries(where: Filters) -> tuple[str, list[Any]]:
    """How many entries pass the filters."""
    return f"SELECT count(*) FROM entries e {where.where()}", where.conditions()[1]


def tag_counts() -> str:
    """Every tag with the number of entries that carry it, most first."""
    return "SELECT tag, count(*) AS n FROM entry_tags GROUP BY tag ORDER BY n DESC, tag"


def browse(
    where: Filters, exclude: str | None, latest: bool, limit: int, offset: int
) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]]]:
    """The count and the page of a query of filters only, minus entries matching ``exclude``.

    Returns ``((count_sql, params), (page_sql, params))``.
    """
    clauses, params = where.conditions()
    if exclude:
        clauses.append("e.id NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        params.append(exclude)
    cond = Filters(clauses, params).where()
    order = "e.date DESC, e.id DESC" if latest else "e.id"
    count = (f"SELECT count(*) FROM entries e {cond}", params)
    page = (
        f"SELECT {ENTRY_COLUMNS} FROM entries e {cond} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return count, page


class Ranked(Record):
    """The statements of a ranked search: the page (rowid, score) and the count of matches."""

    __slots__ = ("page", "page_params", "count", "count_params")
    page: str
    page_params: list[Any]
    count: str
    count_params: list[Any]

    def __init__(self, page: str, page_params: list[Any], count: str, count_params: list[Any]) -> None:
        self.page = page
        self.page_params = page_params
        self.count = count
        self.count_params = count_params


def ranked(match: str, where: Filters, latest: bool, limit: int, offset: int) -> Ranked:
    """Rank the entries matching ``match`` (an FTS5 expression) and passing the filters."""
    join = where.joins or latest
    clauses, params = where.conditions("e.id" if join else "fts.rowid")
    conds = ["fts MATCH ?", *clauses]
    args = [match, *params]
    if join:
        # CROSS JOIN keeps the FTS table as the outer loop: the other order would open
        # one FTS5 cursor per entry, and bm25 recounts every term's documents per cursor.
        body = f"FROM fts CROSS JOIN entries e ON e.id = fts.rowid WHERE {' AND '.join(conds)}"
    else:
        # Without filters the join is pure cost (~1.5 us per matched row, measured).
        body = f"FROM fts WHERE {' AND '.join(conds)}"
    order = "e.date DESC, e.id DESC" if latest else "score DESC"
    return Ranked(
        page=f"SELECT fts.rowid, {_BM25} AS score {body} ORDER BY {order} LIMIT ? OFFSET ?",
        page_params=[*args, limit, offset],
        # Counting without bm25 is a cheap second pass over the same postings.
        count=f"SELECT count(*) {body}",
        count_params=args,
    )


def _body(table: str, match: str, where: Filters) -> tuple[str, list[Any]]:
    clauses, params = where.conditions("e.id" if where.joins else f"{table}.rowid")
    conds = [f"{table} MATCH ?", *clauses]
    if where.joins:
        # CROSS JOIN keeps the FTS table as the outer loop (see ranked).
        return (
            f"FROM {table} CROSS JOIN entries e ON e.id = {table}.rowid WHERE {' AND '.join(conds)}",
            [match, *params],
        )
    return f"FROM {table} WHERE {' AND '.join(conds)}", [match, *params]


def top(table: str, match: str, where: Filters, depth: int) -> tuple[str, list[Any]]:
    """The best ``depth`` (rowid, score) of one full-text table ("fts" or "head") for ``match``."""
    body, args = _body(table, match, where)
    return f"SELECT {table}.rowid, {SCORES[table]} AS score {body} ORDER BY score DESC LIMIT ?", [*args, depth]


def vectors(where: Filters, exclude: str | None) -> tuple[str, list[Any]]:
    """Every kept entry vector (id, v) whose entry passes the filters and, with ``exclude``
    (a MATCH of the excluded words), holds none of those words."""
    conds, params = where.conditions("v.id")
    if exclude:
        conds.append("v.id NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        params.append(exclude)
    joined = " JOIN entries e ON e.id = v.id" if where.joins else ""
    condition = f" WHERE {' AND '.join(conds)}" if conds else ""
    return f"SELECT v.id, v.v FROM vectors v{joined}{condition}", params


def at_least(match: str, where: Filters, count: int) -> tuple[str, list[Any]]:
    """How many entries match and pass the filters, counted up to ``count`` (and no further)."""
    body, args = _body("fts", match, where)
    return f"SELECT count(*) FROM (SELECT 1 {body} LIMIT ?)", [*args, count]


def scores(table: str, match: str, ids: list[int]) -> tuple[str, list[Any]]:
    """(rowid, score) in one full-text table of those of ``ids`` that match ``match``."""
    return (
        f"SELECT rowid, {SCORES[table]} FROM {table} WHERE {table} MATCH ?"
        " AND rowid IN (SELECT value FROM json_each(?))",
        [match, _ids(ids)],
    )


def _ids(ids: list[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def similar(table: str, match: str, exclude_id: int, limit: int) -> tuple[str, list[Any]]:
    """The best ``limit`` entries of one full-text table matching ``match``, other than ``exclude_id``."""
    return (
        f"SELECT rowid, {SCORES[table]} AS score FROM {table} WHERE {table} MATCH ? AND rowid != ?"
        " ORDER BY score DESC LIMIT ?",
        [match, exclude_id, limit],
    )


def count_in(table: str, match: str, where: Filters) -> tuple[str, list[Any]]:
    """How many entries of one full-text table match ``match`` and pass the filters."""
    body, args = _body(table, match, where)
    return f"SELECT count(*) {body}", args


def count_matches(match: str) -> tuple[str, list[Any]]:
    """How many entries match an FTS5 expression, unfiltered."""
    return "SELECT count(*) FROM fts WHERE fts MATCH ?", [match]
