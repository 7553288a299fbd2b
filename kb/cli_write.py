"""Commands that change or carry out the knowledge base: add, edit, remove, export, stats."""

from __future__ import annotations
