"""Every number and code means one thing: empty queries, pages past the end, numbers out of range.

- Every query with nothing to search for is a usage error (exit 2, `Error: the query is
  empty`), whatever punctuation it holds.
- A page past the last match or entry exits 0 (the note on stderr says how many there are).
- A number no store could need is a usage error (exit 2) naming the range, for every
  numeric option of every command (walked from the app, so a new option is covered).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from kb.api import KnowledgeBase
from kb.cli.app import build
from tests.conftest import DATA, SEEDS

HUGE = "99999999999999999999"
# What a command needs beside the option under test.
NEEDS = {"search": ["water"], "ask": ["water"], "show": ["1"], "ingest": [str(DATA)], "browse": [], "edit": ["1"]}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store of the samples for the module: these tests only read it."""
    path = tmp_path_factory.mktemp("numbers") / "kb.json"
    with KnowledgeBase.open(path) as kb:
        kb.ingest([str(SEEDS), str(DATA)])
    return path


@pytest.fixture
def samples(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KB_DB", str(store))
    return store


@pytest.mark.parametrize("query", ["", "  ", '"', '""', "*", "-", "title:", "category:"])
@pytest.mark.parametrize("command", ["search", "ask"])
def test_every_empty_query_is_one_usage_error(samples: Path, cli, command: str, query: str) -> None:
    result = cli(command, query)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: the query is empty\n"), result.stderr
    assert "kb search" in result.stderr  # the hint: what to type instead


def test_a_query_that_only_excludes_is_a_usage_error_that_says_so(samples: Path, cli) -> None:
    result = cli("search", "--", "-roses")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: the query only excludes words\n")


def test_a_query_of_only_common_words_is_a_miss_not_a_usage_error(samples: Path, cli) -> None:
    result = cli("search", "the of")
    assert result.exit_code == 1
    assert "common words" in result.stderr


@pytest.mark.parametrize("command", [["search", "water"], ["list"]])
def test_a_page_past_the_end_exits_0_and_says_how_many_there_are(samples: Path, cli, command: list[str]) -> None:
    result = cli(*command, "--offset", "1000")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "nothing at" in result.stderr and "Error" not in result.stderr


def _numeric_options() -> list[tuple[str, str]]:
    found = []
    for name, command in sorted(typer.main.get_command(build()).commands.items()):
        for param in command.params:
            if getattr(param, "opts", None) and param.type.name in ("int range", "float range", "integer", "float"):
                found.append((name, param.opts[0]))
    return found


def test_the_walk_finds_the_numeric_options() -> None:
    assert {("list", "--limit"), ("search", "--offset"), ("ingest", "--max-size")} <= set(_numeric_options())


@pytest.mark.parametrize(("command", "option"), _numeric_options())
@pytest.mark.parametrize("value", [HUGE, "-1"])
def test_a_number_out_of_range_is_a_usage_error(samples: Path, cli, command: str, option: str, value: str) -> None:
    result = cli(command, *NEEDS.get(command, []), option, value)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "not in the range" in result.stderr or "not a number" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_max_size_that_is_not_a_finite_number_is_a_usage_error(samples: Path, cli, value: str) -> None:
    result = cli("ingest", "--max-size", value, str(DATA))
    assert result.exit_code == 2, (result.stdout, result.stderr)


def test_the_size_limit_message_tells_the_file_and_the_limit_apart(tmp_path: Path, cli) -> None:
    page = tmp_path / "faq.md"
    page.write_text("## Question\n\nWhy?\n\n## Answer\n\n" + "Because. " * 150)
    result = cli("ingest", "--json", "--max-size", "0.001", str(page))
    assert result.exit_code == 1
    assert "file is 0.0014 MB, over the 0.001 MB limit" in result.stdout
