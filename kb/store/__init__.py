"""The store of record: a TinyDB catalog with shard files, the journal of small writes, locking.

It is written first and is the truth; everything else is derived from it. It may import
kb.models, kb.errors and kb.paths; never the search index, the CLI or Rich, and it never
prints.
"""
