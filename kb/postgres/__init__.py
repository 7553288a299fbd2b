"""The PostgreSQL backend: a knowledge base a whole team shares, on a server.

Chosen by a ``postgresql://`` or ``postgres://`` store location (kb.backend's registry).
``backend`` holds the Backend class; ``connection`` opening and errors; ``schema`` the
tables and migrations; ``rows`` entries to rows and back; ``writes`` the write rules;
``reads`` entries, filters and facets; ``planning`` and ``searching`` the search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.postgres.backend import PostgresBackend


def open_backend(location: str, **options: Any) -> PostgresBackend:
    """Open the knowledge base at a libpq URL (psycopg is imported only now)."""
    from kb.postgres.backend import open_backend as _open

    return _open(location, **options)
