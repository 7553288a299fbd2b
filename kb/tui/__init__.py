"""`kb browse`, the full-screen terminal app (Textual): search as you type, read, copy, edit.

A UI layer beside kb/cli, in the same top layer: it may import Textual and Rich, and it
reads and writes only through kb.api.KnowledgeBase (editing goes through kb.cli.editor,
as `kb edit` does). Only kb/cli/browsing.py imports this package, when `kb browse` starts, so
the other commands never pay for Textual's import.
"""
