"""The backend seam's values and registry (kb.backend), without any backend behind them."""

from __future__ import annotations

import pytest

from kb.backend import BACKENDS, BackendSpec, Request, open_backend, register, scheme_of, spec_for
from kb.errors import UsageError


def test_request_carries_filters_sort_and_page_as_one_value() -> None:
    request = Request(category="onc", tag="bone", sort="date", limit=5, offset=10)
    assert request.filters == {"category": "onc", "tag": "bone"} and request.filtered
    assert request.latest and not Request().latest and not Request().filtered
    assert request.page(20, 40) == Request(category="onc", tag="bone", sort="date", limit=20, offset=40)
    assert request.unpaged().limit is None and request.unpaged().offset == 0


@pytest.mark.parametrize("bad", [{"sort": "size"}, {"limit": -1}, {"offset": -3}])
def test_request_refuses_what_no_backend_can_do(bad: dict) -> None:
    with pytest.raises(UsageError):
        Request(**bad)


@pytest.mark.parametrize(
    ("location", "scheme"),
    [
        ("postgresql://kb@db.example.org/kb", "postgresql"),
        ("POSTGRES://h/db", "postgres"),
        ("/home/me/kb.json", None),
        ("C:\\Users\\me\\kb.json", None),
        ("kb.json", None),
        ("notes://x", "notes"),
    ],
)
def test_backend_scheme_of_a_location(location: str, scheme: str | None) -> None:
    assert scheme_of(location) == scheme


def test_backend_chosen_by_scheme_and_paths_left_to_the_default() -> None:
    assert spec_for("postgresql://h/db").name == "postgres" == spec_for("postgres://h/db").name
    assert spec_for("/tmp/kb.json").name == "files" == spec_for("kb.json").name
    with pytest.raises(UsageError, match="notes://"):
        spec_for("notes://x")
    with pytest.raises(UsageError, match="connection string"):
        spec_for("host=db.example.org dbname=kb user=me")
    files = open_backend("/tmp/kb.json")
    assert files.name == "files" and files.location == "/tmp/kb.json" and not files.exists()


def test_backend_registry_takes_a_third_backend() -> None:
    saved = list(BACKENDS)
    try:
        register(BackendSpec("mem", ("mem",), "kb.backend", opener="Request"))
        assert spec_for("mem://x").name == "mem"
        # The opener gets the location and the options: here Request stands in for one.
        assert open_backend("mem://x", limit=3) == Request(category="mem://x", limit=3)
    finally:
        BACKENDS[:] = saved


def test_kb_db_keeps_a_url_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    from kb import config

    monkeypatch.setenv("KB_DB", " postgresql://kb@db.example.org:5432/team?sslmode=require ")
    assert config.db_location() == "postgresql://kb@db.example.org:5432/team?sslmode=require"
    assert spec_for(config.db_location() or "").name == "postgres"
    # What a Path makes of it: why the location must not travel as one.
    assert str(config.db_path()) == "postgresql:/kb@db.example.org:5432/team?sslmode=require"
    monkeypatch.delenv("KB_DB")
    assert config.db_location() is None


def test_files_backend_is_a_backend_and_refuses_an_edit_of_a_changed_entry(kb_db) -> None:
    from kb.api import KnowledgeBase
    from kb.backend import Backend
    from kb.errors import EditConflict
    from tests.conftest import make_entry

    with KnowledgeBase.open(kb_db) as kb:
        assert isinstance(kb.backend, Backend) and kb.backend.name == "files"
        stored = kb.add(make_entry(1))
        stored.answer = "My edit."
        with pytest.raises(EditConflict, match="changed"):
            kb.update(stored, read_at="2000-01-01T00:00:00+00:00")
        assert kb.get(1).answer == "Answer number 1: water the plants."
        assert kb.update(stored, read_at=kb.get(1).updated_at).answer == "My edit."
