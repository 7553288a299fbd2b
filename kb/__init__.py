"""kb: a knowledge base of questions and answers, for the terminal and for scripts.

The Python API is ``KnowledgeBase`` (kb/api.py); ``Entry``, ``Expert`` and ``Source`` are
the records it returns. Attributes are imported on first use, so ``import kb`` (and so
the ``kb`` command's start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kb.api import KnowledgeBase
    from kb.errors import AlreadyAnswered, Duplicate, InvalidEntry, KbError, NotFound
    from kb.models import Entry, Expert, Source

_LAZY = {
    "KnowledgeBase": "kb.api",
    "Entry": "kb.models",
    "Expert": "kb.models",
    "Source": "kb.models",
    "KbError": "kb.errors",
    "NotFound": "kb.errors",
    "InvalidEntry": "kb.errors",
    "Duplicate": "kb.errors",
    "AlreadyAnswered": "kb.errors",
}

__all__ = [
    "AlreadyAnswered",
    "Duplicate",
    "Entry",
    "Expert",
    "InvalidEntry",
    "KbError",
    "KnowledgeBase",
    "NotFound",
    "Source",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
