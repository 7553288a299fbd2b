"""Reading the index: one entry by id or uid prefix, pages of entries, categories and experts.

Filter values (``--category onc``) are resolved here to the stored names they stand
for; the SQL that applies them is built by the pure functions of kb.search.sql.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable

from kb.errors import NotFound, QueryError
from kb.models import ANSWERED, OPEN, STATUSES, Entry, Expert
from kb.search import sql
from kb.search.base import IndexBase
from kb.search.base import loads as _loads
from kb.search.results import ExpertSummary, expert_summaries
from kb.search.spelling import did_you_mean

_HEX = re.compile(r"[0-9a-f]{4,16}")


class Reads(IndexBase):
    """Entries and the names filters use, as the index holds them."""

    def get(self, ref: str | int) -> Entry:
        """Return the entry with this integer id, or whose uid starts with ``ref``.

        Raises:
            NotFound: no such entry, or the uid prefix fits several (the hint lists them).
        """
        with self._errors("reading an entry"):
            text = str(ref).strip().lstrip("#")
            if isinstance(ref, int) or text.isdigit():
                found = self._entries_by_id([int(text)])
                if found:
                    return next(iter(found.values()))
                if isinstance(ref, int) or len(text) < 4:
                    raise NotFound(f"no entry with id {text}")
            prefix = text.lower()
            if not _HEX.fullmatch(prefix):
                raise NotFound(
                    f"no entry {str(ref)!r}",
                    hint="give the integer id, or at least 4 hex digits of the uid",
                )
            rows = self.conn.execute(
                "SELECT id, uid, label FROM entries WHERE uid >= ? AND uid < ? ORDER BY id LIMIT 6",
                (prefix, prefix + "g"),
            ).fetchall()
            if not rows:
                raise NotFound(f"no entry with id or uid prefix {text}")
            if len(rows) > 1:
                shown = "; ".join(f"{r[0]} ({r[1]}) {r[2][:40]}" for r in rows[:5])
                more = " ..." if len(rows) > 5 else ""
                raise NotFound(
                    f"uid prefix {text} is ambiguous",
                    hint=f"candidates: {shown}{more}; give more digits or the id",
                )
            return self._entries_by_id([rows[0][0]])[rows[0][0]]

    def list(
        self,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        sort: str = "id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        status: str | None = None,
    ) -> builtins.list[Entry]:
        """Return entries, filtered and sorted (by id, title, category or date).

        ``status`` keeps only the open questions or the answered entries. Filters ignore case. ``category`` and ``expert`` also accept a unique prefix, or a
        unique word start inside the name ("higby" for "Donald Higby, M.D.").

        Raises:
            NotFound: a filter value names no category, expert or tag (hint: candidates).
            QueryError: an unknown sort key.
        """
        if sort not in sql.SORTS:
            raise QueryError(f"unknown sort {sort!r}", hint="sort by " + ", ".join(sql.SORTS))
        with self._errors("listing entries"):
            where = self._entry_filters(category, expert, tag, status)
            statement, params = sql.list_page(where, sort, descending, limit, offset)
            return [self._entry(row) for row in self.conn.execute(statement, params)]

    def count(
        self,
        *,
        category: str | None = None,
        expert: str | None = None,
        tag: str | None = None,
        status: str | None = None,
    ) -> int:
        """Return the number of entries, or of those the filters (as in ``list``) keep."""
        if not (category or expert or tag or status):
            return super().count()
        with self._errors("counting entries"):
            statement, params = sql.count_entries(self._entry_filters(category, expert, tag, status))
            return int(self.conn.execute(statement, params).fetchone()[0])

    def _entry_filters(
        self, category: str | None, expert: str | None, tag: str | None, status: str | None = None
    ) -> sql.Filters:
        """The conditions of list's filters, resolved strictly (NotFound for a name nothing has)."""
        given = {"category": category, "expert": expert, "tag": tag}
        names = self.resolve_filters({k: [v] for k, v in given.items() if v}, strict=True)
        return sql.filters(names, self.status_filter(status))

    def follow_ups(self, entry_id: int) -> builtins.list[Entry]:
        """The entries that follow up the entry ``entry_id``, by id."""
        with self._errors("reading follow-ups"):
            ids = [r[0] for r in self.conn.execute("SELECT id FROM entries WHERE follows = ? ORDER BY id", (entry_id,))]
            found = self._entries_by_id(ids)
            return [found[i] for i in ids if i in found]

    def has_open(self) -> bool:
        """Whether any entry is an open question (read from a partial index: microseconds)."""
        return self.conn.execute(f"SELECT 1 FROM entries WHERE status = '{OPEN}' LIMIT 1").fetchone() is not None

    def status_filter(self, status: str | None) -> str | None:
        """The status a read must filter by: None when every entry passes it anyway.

        Answered entries are nearly all of them: with no open question stored, keeping
        them asks nothing, and a search is spared joining its matches to their rows.

        Raises:
            QueryError: a status that is neither open nor answered.
        """
        if status is None:
            return None
        if status not in STATUSES:
            raise QueryError(f"unknown status {status!r}", hint="give " + " or ".join(STATUSES))
        if status == ANSWERED and not self.has_open():
            return None
        return status

    def categories(self) -> builtins.list[tuple[str, int]]:
        """Return each non-empty category with its entry count, most entries first."""
        with self._errors("listing categories"):
            return [
                tuple(r)
                for r in self.conn.execute(
                    "SELECT category, count(*) AS n FROM entries WHERE category != ''"
                    " GROUP BY category ORDER BY n DESC, category COLLATE NOCASE"
                )
            ]

    def tags(self) -> builtins.list[tuple[str, int]]:
        """Return each tag with its entry count, most entries first (tags ignore case)."""
        with self._errors("listing tags"):
            return [tuple(r) for r in self.conn.execute(sql.tag_counts())]

    def experts(self) -> builtins.list[ExpertSummary]:
        """Return every expert with answer counts and categories, most answers first."""
        with self._errors("listing experts"):
            profiles = {
                r[0].casefold(): Expert.from_dict(_loads(r[1]))
                for r in self.conn.execute("SELECT name, profile FROM experts")
            }
            rows = self.conn.execute(
                "SELECT expert, category, count(*) FROM entries WHERE expert != ''"
                " GROUP BY expert COLLATE NOCASE, category ORDER BY 3 DESC"
            )
            return expert_summaries(profiles, rows)

    def expert(self, name: str) -> ExpertSummary:
        """Return one expert's summary; the name ignores case and may be a unique prefix.

        Raises:
            NotFound: no such expert, or several fit (with "did you mean" candidates).
        """
        with self._errors("reading an expert"):
            names = self._resolve("expert", name, strict=True)
            row = self.conn.execute("SELECT profile FROM experts WHERE name = ?", (names[0],)).fetchone()
            profile = (Expert.from_dict(_loads(row[0])) if row else None) or Expert(name=names[0])
            marks = ",".join("?" * len(names))
            categories = [
                tuple(r)
                for r in self.conn.execute(
                    f"SELECT category, count(*) AS n FROM entries WHERE expert IN ({marks})"
                    " GROUP BY category ORDER BY n DESC, category COLLATE NOCASE",
                    names,
                )
            ]
            count = sum(n for _, n in categories)
            return ExpertSummary(profile.name, count, [c for c in categories if c[0]], profile)

    def _resolve(self, kind: str, value: str, *, strict: bool) -> builtins.list[str]:
        """Return the stored names a filter value stands for.

        Tags match exactly (ignoring case). Categories and experts match exactly, else by
        unique prefix, else by a unique word start inside the name. With ``strict``, a
        value that matches nothing or is ambiguous raises NotFound; otherwise it resolves
        to no names.
        """
        conn = self.conn
        value = value.strip()
        if kind == "tag":
            rows = [r[0] for r in conn.execute("SELECT DISTINCT tag FROM entry_tags WHERE tag = ?", (value,))]
            if rows or not strict:
                return rows
            known = [r[0] for r in conn.execute("SELECT DISTINCT tag FROM entry_tags")]
            raise NotFound(f"no tag {value!r}", hint=did_you_mean(value, known))
        column = {"category": "category", "expert": "expert"}[kind]
        conditions = {"exact": f"{column} = ? COLLATE NOCASE", "like": f"{column} LIKE ? ESCAPE '\\'"}
        return resolve_name(
            kind, value, column, conditions, lambda q, a: [r[0] for r in conn.execute(q, a)], strict=strict
        )

    def resolve_filters(self, filters: dict[str, builtins.list[str]], *, strict: bool) -> dict[str, builtins.list[str]]:
        """Resolve each kind's filter values to the stored names they stand for.

        A kind whose values resolve to nothing maps to an empty list (nothing passes).
        """
        names: dict[str, builtins.list[str]] = {}
        for kind in sql.FILTER_KINDS:
            values: builtins.list[str] = filters.get(kind) or []
            if values:
                names[kind] = [name for value in values for name in self._resolve(kind, value, strict=strict)]
        return names


def resolve_name(
    kind: str,
    value: str,
    column: str,
    conditions: dict[str, str],
    fetch: Callable[[str, tuple[str, ...]], builtins.list[str]],
    *,
    strict: bool,
) -> builtins.list[str]:
    """The stored category or expert names ``value`` stands for: the exact name (ignoring
    case), else a unique prefix, else a unique word start inside the name.

    Shared by both backends, which give their SQL: ``conditions["exact"]`` holds when
    ``column`` equals its parameter ignoring case, ``conditions["like"]`` when it matches it
    as a LIKE pattern ignoring case (backslash escapes); ``fetch(statement, parameters)``
    runs a statement and gives its first column. With ``strict``, a value that matches
    nothing or is ambiguous raises NotFound; otherwise it resolves to no names.
    """
    select = f"SELECT DISTINCT {column} FROM entries WHERE {column} != ''"
    like = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # A word starts after any character that is not a letter or digit: "general"
    # selects "Oncology (General Cancer)" as "cancer" does.
    word_start = re.compile(r"(?<![^\W_])" + re.escape(value), re.IGNORECASE)
    steps = (("exact", value, None), ("like", like + "%", None), ("like", "%" + like + "%", word_start))
    for step, param, pattern in steps:
        statement = f"{select} AND {conditions[step]}" + ("" if pattern else " LIMIT 20")
        found = [n for n in fetch(statement, (param,)) if pattern is None or pattern.search(n)][:20]
        distinct = {n.casefold() for n in found}
        if len(distinct) == 1:
            return found
        if len(distinct) > 1:
            if not strict:
                return []
            raise NotFound(
                f"{kind} {value!r} is ambiguous",
                hint="candidates: " + ", ".join(sorted(set(found), key=str.casefold)[:10]),
            )
    if not strict:
        return []
    raise NotFound(f"no {kind} {value!r}", hint=did_you_mean(value, fetch(select, ())))
