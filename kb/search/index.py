"""The search index: a SQLite FTS5 file beside the store that serves list, show and search.

It is derived data. It holds every entry's dict (without the store's ``raw`` text), the
columns that filters and sorts need, an FTS5 full-text index, expert profiles, and two
small vocabularies (stem document frequencies for query planning, the plain words of the
entries' heads for "did you mean"). It records the store version it reflects
(``signature``) and can always be thrown away and rebuilt; a corrupt file is removed and
recreated on open.

``SearchIndex`` is assembled from one class per concern, each in its module: the
connection (base.py), the vocabularies (spelling.py), writes (writes.py), reads
(reads.py), the query plan (planning.py), ranking (ranking.py), closeness to a question
(closeness.py) and related entries (related.py). How a natural-language question stays cheap is explained at
:meth:`kb.search.planning.Planner._plan`.
"""

from __future__ import annotations

from kb.search.closeness import Closeness
from kb.search.ranking import Ranking
from kb.search.related import Related
from kb.search.writes import Writes


class SearchIndex(Related, Ranking, Closeness, Writes):
    """The SQLite FTS5 index of a store; see the module docstring."""
