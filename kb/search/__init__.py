"""The search index: a SQLite FTS5 file beside the store, derived from it and rebuildable.

Here live the schema, writes and freshness check, query parsing and planning, ranking,
spelling suggestions, snippets and related entries. It may import kb.models and kb.errors
(and the standard library); never the store, the CLI or Rich, and it never prints.
"""
