"""One exit-code rule for every command: an empty store is not an error, an unmatched request is.

Each command is run on an empty store (one that exists and holds no entries; a store
that does not exist is tests/cli/test_reading_creates_nothing.py's), then asked for
something that is not there in a filled one, on both backends (``store``). The table must
name every command the app has, so a new command gets a row.
"""

from __future__ import annotations

import json

import pytest

from kb.cli.app import COMMANDS
from tests.conftest import DATA

# command -> (arguments that ask for everything of an empty store, expected exit code)
EMPTY = {
    "ingest": (["--quiet", "{empty}"], 0),
    "search": (["bone", "scan"], 1),  # a search that finds nothing is a miss, even here
    "ask": (["bone", "scan"], 1),
    "list": ([], 0),
    "show": (["1"], 1),
    "browse": ([], 2),  # no terminal under the test runner: a usage error, store or not
    "experts": ([], 0),
    "reindex": ([], 0),
    "path": ([], 0),
    "add": (["--question", "Why?", "--answer", ""], 2),  # no answer: a usage error
    "edit": (["1"], 1),
    "remove": (["1", "--yes"], 1),
    "rm": (["1", "--yes"], 1),
    "export": ([], 0),
    "stats": ([], 0),
    "doctor": ([], 0),
    "post": (["Why is the sky blue?"], 0),  # posting writes: it needs no entries
    "answer": (["1", "--answer", "Light scatters."], 1),
    "inbox": ([], 0),  # nothing waits: not an error
}
# command -> arguments that ask a filled store for something it does not hold (exit 1)
UNMATCHED = {
    "ingest": ["{missing}"],
    "search": ["zzzqqxv"],
    "ask": ["zzzqqxv"],
    "list": ["--category", "no such category"],
    "show": ["999"],
    "browse": None,  # a query that finds nothing is shown on screen, not an exit code
    "experts": ["nobody at all"],
    "reindex": None,  # it asks for nothing in particular
    "path": None,
    "add": ["--question", "{question}", "--answer", "{answer}"],  # already stored
    "edit": ["999"],
    "remove": ["999", "--yes"],
    "rm": ["999", "--yes"],
    "export": ["--tag", "no-such-tag"],
    "stats": None,
    "doctor": None,
    "post": ["--follow-up", "999", "Why?"],  # follows an entry that is not there
    "answer": ["999", "--answer", "Because."],
    "inbox": ["nobody at all"],
}


def test_the_tables_name_every_command() -> None:
    assert set(EMPTY) == set(COMMANDS) == set(UNMATCHED)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_on_an_empty_store(name: str, store: str, cli, tmp_path, empty_store) -> None:
    (tmp_path / "empty").mkdir()
    args, expected = EMPTY[name]
    result = cli(name, *[a.format(empty=tmp_path / "empty") for a in args])
    assert result.exit_code == expected, (result.stdout, result.stderr)
    if expected == 0:
        assert "Error" not in result.stderr


@pytest.mark.parametrize("name", sorted(n for n, args in UNMATCHED.items() if args is not None))
def test_command_asked_for_what_is_not_there(name: str, store: str, cli, tmp_path) -> None:
    assert cli("ingest", "--quiet", str(DATA)).exit_code == 0
    stored = json.loads(cli("list", "--json", "--limit", "1").stdout)[0]
    args = [
        a.format(missing=tmp_path / "nothing-here", question=stored["question"], answer=stored["answer"])
        for a in UNMATCHED[name]
    ]
    result = cli(name, *args)
    assert result.exit_code == 1, (result.stdout, result.stderr)


def test_list_of_an_empty_store_prints_nothing_or_an_empty_array(cli, empty_store) -> None:
    table = cli("list")
    assert table.exit_code == 0 and table.stdout == ""
    as_json = cli("list", "--format", "json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []
    filtered = cli("list", "--json", "--tag", "x")
    assert filtered.exit_code == 1


def test_list_with_a_filter_that_matches_nothing_exits_1(cli) -> None:
    assert cli("ingest", "--quiet", str(DATA)).exit_code == 0
    category = json.loads(cli("list", "categories", "--json").stdout)[0]["category"]
    assert cli("list", "--category", category).exit_code == 0
    result = cli("list", "--category", category, "--tag", "surely-no-such-tag")
    assert result.exit_code == 1
