"""Every `kb` command on PostgreSQL: the real CLI in subprocesses, with KB_DB (or --db) a URL.

Each test has its own schema (KB_PG_SCHEMA); where a command's output does not depend on
where entries live, it is compared with the same command on a files store.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.cli.test_editor import REPLACE_ANSWER, write_editor
from tests.conftest import DATA, SEEDS, run_kb
from tests.postgres.conftest import pgcluster

INPUTS = [str(SEEDS), str(DATA)]


@pytest.fixture
def pg_env(pg_url: str, pg_schema: str) -> dict[str, str]:
    """The environment of a kb process that works on this test's schema."""
    return {"KB_DB": pg_url, "KB_PG_SCHEMA": pg_schema}


def kb_ok(*args: str, env: dict[str, str], input: bytes | None = None) -> str:
    """Run kb; it must succeed; return its stdout as text."""
    result = run_kb(*args, env=env, input=input)
    assert result.returncode == 0, (args, result.stderr.decode())
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


def as_login(url: str, user: str | None = None, password: str = "") -> str:
    """The same server's URL with another login (or another password)."""
    parts = urlsplit(url)
    user = user or parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))


def schema_exists(pg_url: str, schema: str) -> bool:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone()[0] is not None


@pytest.fixture
def filled(pg_env: dict[str, str]) -> dict[str, str]:
    """This test's schema after `kb ingest` of the repository's seeds and samples."""
    kb_ok("ingest", *INPUTS, env=pg_env)
    return pg_env


def test_pg_cli_reading_an_empty_database_refuses_by_name_and_creates_nothing(
    pg_env: dict[str, str], pg_url: str, pg_schema: str
) -> None:
    result = run_kb("list", env=pg_env)
    assert result.returncode == 1
    assert b"no knowledge base at postgresql://" in result.stderr and b"kb-test-only" not in result.stderr
    where = json.loads(kb_ok("path", "--json", env=pg_env))
    assert where["store"].startswith("postgresql://") and where["entries"] == 0 and where["index"] is None
    dry = json.loads(kb_ok("ingest", "--dry-run", "--json", str(DATA / "faq.txt"), env=pg_env))
    assert dry["dry_run"] and dry["counts"]["added"] == 3
    assert not schema_exists(pg_url, pg_schema)


def test_pg_cli_ingest_reports_as_the_files_backend_does(pg_env: dict[str, str], kb_db: Path) -> None:
    on_files = json.loads(kb_ok("ingest", "--json", *INPUTS, env={}))
    on_pg = json.loads(kb_ok("ingest", "--json", *INPUTS, env=pg_env))
    assert on_pg["counts"] == on_files["counts"] and on_pg["counts"]["added"] > 20
    assert [e["title"] for e in on_pg["added"]] == [e["title"] for e in on_files["added"]]
    again = json.loads(kb_ok("ingest", "--json", *INPUTS, env=pg_env))
    assert again["counts"]["added"] == 0 and again["counts"]["unchanged"] == on_pg["counts"]["added"]
    # The same ids and text, listed the same way, in both.
    fields = ("id", "uid", "title", "category", "question", "answer", "tags")
    listed = [json.loads(kb_ok("list", "--format", "json", env=env)) for env in ({}, pg_env)]
    assert [[e[f] for f in fields] for e in listed[0]] == [[e[f] for f in fields] for e in listed[1]]


def test_pg_cli_every_reading_command(filled: dict[str, str]) -> None:
    env = filled
    shown = json.loads(kb_ok("show", "1", "--format", "json", env=env))
    assert shown["id"] == 1 and shown["expert"]["name"] == "Donald Higby, M.D."
    assert "Is this possible?" in kb_ok("show", "1", "--raw", env=env)
    assert kb_ok("show", shown["uid"][:8], "--format", "ids", env=env) == "1\n"
    hits = json.loads(kb_ok("search", "squeaky door hinge", "--format", "json", env=env))
    assert hits[0]["title"] == "Squeaky door hinge" and "snippet" in hits[0]
    for sort in ("id", "title", "category", "date"):
        both = [kb_ok("list", "--sort", sort, *desc, "--format", "ids", env=env).split() for desc in ([], ["--desc"])]
        assert both[0] and sorted(both[0]) == sorted(both[1])
    gardening = json.loads(kb_ok("list", "--category", "garden", "--format", "json", env=env))
    assert gardening and {e["category"] for e in gardening} == {"Gardening"}
    assert kb_ok("search", "water", "--category", "gardening", "--format", "ids", env=env).split()
    asked = json.loads(kb_ok("ask", "how do I stop my door hinge squeaking?", "--format", "json", env=env))
    assert asked["answer"]["title"] == "Squeaky door hinge"
    experts = json.loads(kb_ok("experts", "--format", "json", env=env))
    assert "Marta Kowalczyk" in {x["name"] for x in experts}
    assert "Home" in kb_ok("experts", "Marta Kowalczyk", env=env)
    stats = json.loads(kb_ok("stats", "--format", "json", env=env))
    assert stats["entries"] == len(json.loads(kb_ok("list", "--format", "json", env=env)))
    assert stats["db"].startswith("postgresql://") and stats["index"] == ""
    exported = kb_ok("export", "--format", "jsonl", env=env).splitlines()
    assert len(exported) == stats["entries"] and json.loads(exported[0])["id"] == 1
    report = json.loads(kb_ok("doctor", "--json", env=env))
    assert report["healthy"] and [f["check"] for f in report["findings"]][:2] == ["schema", "entries"]
    assert "indexed" in run_kb("reindex", env=env).stderr.decode()
    assert kb_ok("search", "squeaky door hinge", "--format", "ids", env=env).split()[0] == str(hits[0]["id"])


def test_pg_cli_every_writing_command(pg_env: dict[str, str], tmp_path: Path) -> None:
    env = pg_env
    added = json.loads(
        kb_ok("add", "--question", "Why is the sky blue?", "--answer", "Air scatters blue light.", "--json", env=env)
    )
    assert added["id"] == 1
    duplicate = run_kb("add", "--question", "Why is the sky blue?", "--answer", "Air scatters blue light.", env=env)
    assert duplicate.returncode != 0 and b"already" in duplicate.stderr
    editor = write_editor(tmp_path / "editors", "replace.py", REPLACE_ANSWER)
    edited = json.loads(kb_ok("edit", "1", "--format", "json", env={**env, "VISUAL": "", "EDITOR": str(editor)}))
    assert edited["answer"] == "Edited answer, café."
    assert kb_ok("search", "edited", "--format", "ids", env=env) == "1\n"
    kb_ok("ingest", str(DATA / "faq.txt"), env=env)
    assert "removed 1" in run_kb("remove", "1", "--yes", env=env).stdout.decode()
    assert run_kb("show", "1", env=env).returncode == 1
    remaining = kb_ok("list", "--format", "ids", env=env).split()
    assert remaining and "1" not in remaining


def test_pg_cli_completion_reads_the_server(filled: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.cli.complete import complete_categories, complete_ids

    for name, value in filled.items():
        monkeypatch.setenv(name, value)
    assert ("Gardening", "6 entries") in complete_categories(None, "gard")
    assert ("1", "false negatiave on bone scan") in complete_ids(None, "1")


def test_pg_cli_doctor_finds_and_repairs_orphan_rows(filled: dict[str, str], pg_url: str, pg_schema: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {pg_schema}.experts (name, profile) VALUES ('Nobody', '{{}}')")
    found = run_kb("doctor", "--json", env=filled)
    report = json.loads(found.stdout)
    assert found.returncode == 1 and not report["healthy"]
    assert any("no entry names" in f["detail"] and f["fix"] for f in report["findings"])
    repaired = json.loads(kb_ok("doctor", "--repair", "--json", env=filled))
    assert repaired["healthy"] and any("removed 1 expert" in a for a in repaired["actions"])


def test_pg_cli_db_option_takes_a_url(pg_url: str, pg_schema: str) -> None:
    env = {"KB_PG_SCHEMA": pg_schema}
    kb_ok("--db", pg_url, "add", "--question", "Q one?", "--answer", "A one.", env=env)
    assert kb_ok("list", "--db", pg_url, "--format", "ids", env=env) == "1\n"


@pytest.fixture
def reader_env(filled: dict[str, str], pg_url: str, pg_schema: str):
    """A login that may only read this test's schema, as an administrator makes one."""
    role = pg_schema + "_reader"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reads'")
        conn.execute(f"GRANT USAGE ON SCHEMA {pg_schema} TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {pg_schema} TO {role}")
    yield {**filled, "KB_DB": as_login(pg_url, role, "reads")}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def test_pg_cli_a_login_that_may_only_read(reader_env: dict[str, str], tmp_path: Path) -> None:
    env = reader_env
    assert kb_ok("search", "hinge", "--format", "ids", env=env).split()
    assert json.loads(kb_ok("doctor", "--json", env=env))["healthy"]
    new = tmp_path / "new.txt"
    new.write_text("Q: Is this new?\nA: It is.\n", encoding="utf-8")
    for args in (["add", "--question", "Q?", "--answer", "A."], ["remove", "1", "--yes"], ["ingest", str(new)]):
        result = run_kb(*args, env=env)
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 3, (args, lines)
        assert "this login may only read" in lines[0] and "Traceback" not in result.stderr.decode()
    assert kb_ok("show", "1", "--format", "ids", env=env) == "1\n"


def test_pg_cli_a_server_that_cannot_serve_is_one_line_exit_3(pg_url: str, pg_schema: str) -> None:
    port = pgcluster.free_port()
    down = run_kb("list", env={"KB_DB": f"postgresql://kb:secret@127.0.0.1:{port}/kb", "KB_PG_SCHEMA": pg_schema})
    wrong = run_kb("add", "--question", "Q?", "--answer", "A.", env={"KB_DB": as_login(pg_url, password="nope")})
    for result, words in ((down, f"127.0.0.1:{port}"), (wrong, "refused the password")):
        err = result.stderr.decode()
        assert result.returncode == 3, err
        assert words in err and len(err.strip().splitlines()) <= 2 and "Traceback" not in err
        assert "secret" not in err and "nope" not in err


def test_pg_cli_browse_in_a_terminal(filled: dict[str, str], tmp_path: Path) -> None:
    from tests.tui.test_browse_terminal import browse_in_terminal

    # KB_DB and KB_PG_SCHEMA given here replace the files store the helper would name.
    term = browse_in_terminal(tmp_path / "unused.json", tmp_path, **filled)
    try:
        term.wait_for("kb ›")
        term.type("how do I stop my door hinge squeaking?")
        term.wait_for("Squeaky door hinge")
        term.press("C-q")
        assert term.exit_status() == 0
    finally:
        term.close()


def test_pg_cli_browse_with_the_url_given_as_db(filled: dict[str, str], tmp_path: Path) -> None:
    from tests.tui.test_browse_terminal import browse_in_terminal

    # `kb --db URL browse` starts without Typer (kb.cli.browsing): the URL must reach the
    # PostgreSQL backend as it does through every other command, not be taken for a path.
    # KB_DB names a files store that must stay unmade.
    unused = tmp_path / "unused.json"
    args = ("--db", filled["KB_DB"], "browse", "hinge")
    term = browse_in_terminal(unused, tmp_path, args, KB_PG_SCHEMA=filled["KB_PG_SCHEMA"])
    try:
        term.wait_for("Squeaky door hinge")
        term.press("C-q")
        assert term.exit_status() == 0
    finally:
        term.close()
    assert not unused.exists()


def test_pg_cli_edit_of_an_entry_changed_meanwhile_is_refused(pg_env: dict[str, str], tmp_path: Path) -> None:
    kb_ok("add", "--question", "Why is the sky blue?", "--answer", "Air scatters blue light.", env=pg_env)
    # The "editor" is someone else's edit made while ours is open, then ours.
    meddler = (
        "import os, subprocess\n"
        "others = dict(os.environ, EDITOR=os.environ['KB_INNER_EDITOR'])\n"
        f"subprocess.run([{sys.executable!r}, '-m', 'kb', 'edit', '1'], check=True, env=others)\n"
    )
    theirs = "open(path, 'w').write(text.replace('blue light', 'short waves'))\n"
    inner = write_editor(tmp_path / "editors", "inner.py", theirs)
    outer = write_editor(tmp_path / "editors", "outer.py", meddler + REPLACE_ANSWER)
    env = {**pg_env, "VISUAL": "", "KB_INNER_EDITOR": str(inner)}
    result = run_kb("edit", "1", env={**env, "EDITOR": str(outer)})
    err = result.stderr.decode()
    assert result.returncode != 0 and "changed since you read it" in err and "Traceback" not in err
    assert "short waves" in json.loads(kb_ok("show", "1", "--format", "json", env=env))["answer"]
