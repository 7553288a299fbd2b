"""The index file's layout: its tables, the FTS5 columns and weights, and the files it makes.

Changing a table or the tokenizer means bumping SCHEMA_VERSION: an index of another
version is thrown away and rebuilt from the store on open.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

SCHEMA_VERSION = "11"
TOKENIZE = "porter unicode61 remove_diacritics 2"
# Columns of the FTS table, in order, and their BM25 weights. FTS5's bm25() multiplies each
# occurrence by its column's weight, saturates the weighted frequency (k1 = 1.2) and
# normalises it by the length of the whole row, so a short question beside a long answer
# counts for little there: this table is the evidence of the whole entry, read with the
# text fields alike and the expert and category names (weak evidence of topic) at half.
# What an entry is about and what it asks is read from the `head` table below.
FTS_COLUMNS = ("title", "question", "answer", "expert", "category", "tags")
WEIGHTS = (2.0, 2.0, 2.0, 1.0, 1.0, 2.0)
# The head of an entry: its title, its own question and its tags, which name the topic and
# the kind of thing asked. A second FTS5 table over these alone gives them a BM25 normalised
# by their own (short) length, which the answer cannot outvote (kb.search.fusion).
HEAD_COLUMNS = ("title", "question", "tags")
HEAD_WEIGHTS = (1.0, 1.0, 1.0)
# The head is one description of an entry, told in two fields that often repeat each other:
# a title "Stroke" above "What causes Stroke ?", or a question that copies its title. BM25
# sums a word's counts over the columns, so a title's words that the question repeats
# counted twice, and an entry whose question restates its title outscored one that names
# the same topic once. The head's question therefore holds only the words its title does
# not (head_question, through the view head_source): each word of the head counts once
# whichever field says it, as BM25F counts a term once across fields. The title stays whole,
# for `title:` queries and for the title shares of the topic stage (kb.search.ranking).
HEAD_QUESTION = "kb_head_question"

# What a read selects to make an Entry (kb.search.base.IndexBase._entry): the columns that
# hold fields of Entry.to_dict(), the source's fields shared by its file, and ``data``, the
# JSON of the rest, where none of these is repeated (at 16k entries from one JSON Lines
# file they took 4.6 MB of it).
ENTRY_FIELDS = ("id", "uid", "title", "category")
SHARED_SOURCE = ("path", "format", "copyright", "encoding")
ENTRY_COLUMNS = (
    "e.id, e.uid, e.title, e.category, (SELECT doc FROM sources WHERE id = e.file), e.question, e.answer, e.data"
)
# Pages of 16 kB rather than SQLite's 4 kB: a row with a long answer then fits one page
# instead of spilling into a chain of overflow pages, each partly empty (at 16k MedQuAD
# entries the file shrank from 62 to 55 MB). Set when the file is made; a file of another
# page size keeps its own.
PAGE_SIZE = 16384

# The index file (named by kb.paths.index_path_for) and the files SQLite keeps beside it.
INDEX_SUFFIXES = ("", "-wal", "-shm", "-journal")

# The entries table's indexes that serve orders and filters (`list --sort`, `--category`,
# `--expert`, open questions, follow-ups) but no lookup a write makes. A bulk write into an
# empty index (an ingest into a new store, a rebuild) makes them once, after its rows
# (kb.search.writes.Writes.defer_sort_indexes): an index made from the whole table is
# sorted once and written in full pages, where rows that come in no order (titles) split
# pages as they arrive and leave them partly empty.
SORT_INDEXES = {
    "entries_label": "CREATE INDEX IF NOT EXISTS entries_label ON entries(label COLLATE NOCASE, id)",
    "entries_category": "CREATE INDEX IF NOT EXISTS entries_category ON entries(category COLLATE NOCASE, id)",
    "entries_expert": "CREATE INDEX IF NOT EXISTS entries_expert ON entries(expert COLLATE NOCASE, id)",
    "entries_date": "CREATE INDEX IF NOT EXISTS entries_date ON entries(date, id)",
    # Open questions are few beside the answers: this finds them (and whether there are
    # any) without reading the answers' rows.
    "entries_open": "CREATE INDEX IF NOT EXISTS entries_open ON entries(id) WHERE status = 'open'",
    "entries_follows": "CREATE INDEX IF NOT EXISTS entries_follows ON entries(follows, id) WHERE follows IS NOT NULL",
}
_SORT_INDEXES_SQL = ";\n".join(SORT_INDEXES.values())

SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE entries(
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    title TEXT NOT NULL,
    label TEXT NOT NULL,          -- display title, for sorting
    category TEXT NOT NULL,
    expert TEXT NOT NULL,         -- expert name, '' when none
    tags TEXT NOT NULL,           -- tags joined by newlines, for full-text search
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    date TEXT NOT NULL,           -- updated_at or created_at, for sorting by date
    data BLOB NOT NULL,           -- the rest of Entry.to_dict() as JSON (ENTRY_COLUMNS)
    status TEXT NOT NULL,         -- 'answered', or 'open' for a question waiting for its answer
    follows INTEGER,              -- the id of the entry a follow-up question follows
    src INTEGER,                  -- hash of the source path and record key (see source_ref), for ingest
    file INTEGER                  -- the source's fields shared by a file's records: sources.id
);
-- What every record of one file has alike in its source (path, format...), once.
CREATE TABLE sources(id INTEGER PRIMARY KEY, doc TEXT NOT NULL UNIQUE);
CREATE INDEX entries_uid ON entries(uid);
CREATE INDEX entries_src ON entries(src) WHERE src IS NOT NULL;
{_SORT_INDEXES_SQL};
CREATE TABLE entry_tags(
    tag TEXT NOT NULL COLLATE NOCASE, id INTEGER NOT NULL, PRIMARY KEY(tag, id)
) WITHOUT ROWID;
CREATE TABLE experts(name TEXT PRIMARY KEY COLLATE NOCASE, profile BLOB NOT NULL) WITHOUT ROWID;
-- FTS5 reads the text through this view (external content), so it is stored only once.
CREATE VIEW fts_source AS SELECT id, {", ".join(FTS_COLUMNS)} FROM entries;
CREATE VIRTUAL TABLE fts USING fts5(
    {", ".join(FTS_COLUMNS)}, content='fts_source', content_rowid='id', tokenize='{TOKENIZE}'
);
-- The head's own view: its question without the words of its title (HEAD_QUESTION).
CREATE VIEW head_source AS SELECT id, title, {HEAD_QUESTION}(title, question) AS question, tags FROM entries;
CREATE VIRTUAL TABLE head USING fts5(
    {", ".join(HEAD_COLUMNS)}, content='head_source', content_rowid='id', tokenize='{TOKENIZE}'
);
-- Chinese, Japanese and Korean runs as overlapping character pairs (kb.search.cjk), for
-- the entries that have any: unicode61 keeps a whole run as one token.
CREATE VIRTUAL TABLE cjk USING fts5(head, body, tokenize='unicode61');
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
-- Document frequency of each stem, copied from fts_vocab: fts_vocab computes a term's
-- count by reading its whole posting list, which costs milliseconds for common words at
-- 1M entries; this table answers in microseconds. It may lag behind small updates.
CREATE TABLE terms(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
-- Unstemmed words of the entries' heads (title, question, tags) with the number of entries
-- whose head holds each, for spelling suggestions, completions and word families (the FTS
-- vocabulary holds porter stems such as 'chemotherapi', which are not words to suggest).
CREATE TABLE words(
    word TEXT PRIMARY KEY, df INTEGER NOT NULL, head TEXT NOT NULL, len INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX words_head ON words(head, len);
-- The knowledge base's own vocabulary (kb.search.vocabulary): the abbreviations its
-- entries define ("urinary tract infection (UTI)") and its aliases ("ringing in the ears
-- (tinnitus)"), folded, with how many definitions were seen. Every write counts its
-- entries' definitions in and the ones it removes or replaces out; a rebuild counts afresh.
CREATE TABLE abbreviations(
    short TEXT NOT NULL, long TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(short, long)
) WITHOUT ROWID;
-- An alias's left and right sides by key (kb.search.aliases.key) and as first written.
CREATE TABLE aliases(
    lkey TEXT NOT NULL, rkey TEXT NOT NULL, ltext TEXT NOT NULL, rtext TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY(lkey, rkey)
) WITHOUT ROWID;
CREATE INDEX aliases_rkey ON aliases(rkey);
"""

# A word as the index splits text (unicode61: letters and digits).
WORD = re.compile(r"[^\W_]+")


def fold(word: str) -> str:
    """Fold a word as unicode61 with remove_diacritics does: lower case, no accents."""
    if word.isascii():
        return word.lower()
    import unicodedata  # here: a C module that searches of ASCII text never need

    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def head_words(title: Iterable[str], question: Iterable[str]) -> list[str]:
    """The words of a question that its title does not hold, in order (see HEAD_QUESTION).

    Words are compared as the index folds them (case and accents), not by stem: "treatments"
    stays beside a title's "Treatment".
    """
    titled = {fold(w) for w in title}
    return [w for w in question if fold(w) not in titled]


def head_question(title: str | None, question: str | None) -> str:
    """The text the head indexes for an entry's question (HEAD_QUESTION): its words that
    the title does not hold."""
    if not title:
        return question or ""
    return " ".join(head_words(WORD.findall(title), WORD.findall(question or "")))


def register(conn: sqlite3.Connection) -> None:
    """Give a connection the SQL function the index's views call (HEAD_QUESTION)."""
    conn.create_function(HEAD_QUESTION, 2, head_question, deterministic=True)


# SQLite result codes that mean the file is not (or no longer) a usable database.
CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


class SchemaMismatch(sqlite3.DatabaseError):
    """The file is a SQLite database but not an index this version of kb can read."""


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether this error means the file is not a usable index (so it may be rebuilt)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and (code & 0xFF) in CORRUPT_CODES) or isinstance(exc, SchemaMismatch)


def split_sql(script: str) -> list[str]:
    """Split the schema script into statements (none of ours contain a ';' in a string)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def read_only_uri(path: Path) -> str:
    """A URI that opens an index file without writing anything beside it.

    A WAL database needs its -shm file to be read normally; on read-only media (or a
    full disk) that file cannot be made, so without a -wal file (kb's last connection
    checkpoints and removes it) the file is opened as immutable: no locks, no -shm.
    See https://www.sqlite.org/wal.html#readonly and https://www.sqlite.org/uri.html.
    """
    from urllib.parse import quote

    wal = Path(f"{path}-wal")
    options = "mode=ro" if wal.exists() and wal.stat().st_size else "mode=ro&immutable=1"
    return f"file:{quote(str(path.resolve()))}?{options}"
