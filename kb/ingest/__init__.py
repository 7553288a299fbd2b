"""Reading inputs and writing them in: paths -> bytes -> text -> entries, then the write pipeline.

sources.py walks, reads and decodes paths and picks a parser; pipeline.py writes entries
to the store in batches and feeds the search index (on a thread, or a second process);
run.py is the loop of one ingest, from the paths to the report. It
may import kb.parsers, kb.store, kb.search, kb.models and kb.errors; never the CLI or Rich,
and it never prints.
"""
