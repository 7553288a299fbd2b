"""Every command offers exactly the output formats it implements, and each one works.

The commands and their `--format` choices are read from the Typer app itself, so a new
command or a new choice is walked too: each is run on the bundled samples and its output
parsed (json, jsonl), checked for a header (csv) or for lines that are values, not
`None` or Python reprs (ids, table). Options a command would silently ignore are refused
with exit 2.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main

from kb.api import KnowledgeBase
from kb.cli.app import build
from kb.errors import Duplicate
from kb.parsers import FORMATS as INPUT_FORMATS
from tests.conftest import DATA, SEEDS

# Arguments for each command that has --format: one list per way of calling it. A
# callable gets the output format and the store and returns the arguments (for writes).
_added: dict[str, int] = {}


def _add_args(fmt: str, kb: KnowledgeBase) -> list[str]:
    return ["-Q", f"A question written as {fmt}?", "-a", "An answer."]


def _remove_args(fmt: str, kb: KnowledgeBase) -> list[str]:
    entry = kb.add(question=f"Remove me as {fmt}?", answer="Gone.")
    return [str(entry.id), "--yes"]


def _post_args(fmt: str, kb: KnowledgeBase) -> list[str]:
    return [f"Is a question posted as {fmt} kept open?", "--category", "Gardening", "--for", "higby"]


def _answer_args(fmt: str, kb: KnowledgeBase) -> list[str]:
    posted = kb.post(f"Will this question be answered as {fmt}?").entry
    return [str(posted.id), "--answer", "Yes, it will.", "--expert", "higby"]


def _with_open(args: list[str]) -> Callable[[str, KnowledgeBase], list[str]]:
    """Arguments for a call that needs an open question stored (posted once per format)."""

    def call(fmt: str, kb: KnowledgeBase) -> list[str]:
        try:
            kb.post(f"How often should I water a cactus as {fmt}?", category="Gardening", asked_for="higby")
        except Duplicate:
            pass
        return args

    return call


CALLS: dict[str, list[list[str] | Callable[[str, KnowledgeBase], list[str]]]] = {
    "list": [[], ["categories"], ["experts"], ["tags"], ["-c", "Home"], _with_open(["--open"]), ["--answered"]],
    "search": [["water"], ["category:Home"], _with_open(["cactus", "--open"])],
    "ask": [["how often should I water"], ["water", "--category", "Gardening"], _with_open(["cactus", "--open"])],
    "show": [["1"], ["1", "2"]],
    "experts": [[], ["higby"]],
    "path": [[]],
    "stats": [[]],
    "add": [_add_args],
    "edit": [["1"]],
    "remove": [_remove_args],
    "rm": [_remove_args],
    "post": [_post_args],
    "answer": [_answer_args],
    "inbox": [_with_open([]), _with_open(["higby"])],
}
# Commands whose --format names something else than the output: checked below on their own.
OWN_FORMATS = {"ingest", "export"}
INPUT_SAMPLES = {
    "expert-page": "expert_page_sample.txt",
    "qa": "faq.txt",
    "markdown": "note.md",
    "json": "entries.json",
    "jsonl": "entries.jsonl",
    "csv": "entries.csv",
    "html": "faq_page.html",
    "stackexchange": "stackexchange/beekeeping.stackexchange.com/Posts.xml",
}
REPR = re.compile(r"\{'|\['|^None$|\bNone\b,|<[a-z_.]+ object at ")


def _commands() -> dict:
    return typer.main.get_command(build()).commands


def _format_choices(command) -> list[str]:
    for param in command.params:
        if "--format" in getattr(param, "opts", []) and hasattr(param.type, "choices"):
            return list(param.type.choices)
    return []


def _cases() -> list[tuple[str, str, int]]:
    cases = []
    for name, command in sorted(_commands().items()):
        if name in OWN_FORMATS:
            continue
        for fmt in _format_choices(command):
            for n in range(len(CALLS.get(name, [[]]))):
                cases.append((name, fmt, n))
    return cases


@pytest.fixture
def samples(store: str, monkeypatch: pytest.MonkeyPatch) -> KnowledgeBase:
    """The samples in a store of each backend (``store``): every format on both."""
    monkeypatch.setenv("EDITOR", "true")  # `kb edit` then finds no changes and prints the entry
    kb = KnowledgeBase.open(store)
    kb.ingest([str(SEEDS), str(DATA)])
    yield kb
    kb.close()


def test_every_command_with_formats_is_walked() -> None:
    with_formats = {name for name, c in _commands().items() if _format_choices(c)}
    assert with_formats - OWN_FORMATS == set(CALLS), "add the new command's calls to CALLS"


def check_output(fmt: str, out: str) -> None:
    """Fail unless ``out`` is a well-formed document of format ``fmt``."""
    assert out.strip(), "no output"
    if fmt == "json":
        json.loads(out)
        return
    lines = out.splitlines()
    if fmt == "jsonl":
        assert all(isinstance(json.loads(line), dict) for line in lines)
        return
    for line in lines:
        assert not REPR.search(line), f"a Python repr or None in {fmt} output: {line!r}"
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        header = rows[0]
        assert header and all(re.fullmatch(r"[a-z_]+", h) for h in header), f"no header: {header}"
        assert all(len(row) == len(header) for row in rows), "rows of different lengths"
    elif fmt == "ids":
        assert all(line.strip() and line == line.strip() for line in lines), lines


@pytest.mark.parametrize(("name", "fmt", "n"), _cases())
def test_every_offered_format_works(samples: KnowledgeBase, cli, name: str, fmt: str, n: int) -> None:
    call = CALLS.get(name, [[]])[n]
    args = call(fmt, samples) if callable(call) else call
    result = cli(name, *args, "--format", fmt)
    assert result.exit_code == 0, (name, args, fmt, result.stderr)
    check_output(fmt, result.stdout)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "md"])
def test_every_export_format_works(samples: KnowledgeBase, cli, tmp_path: Path, fmt: str) -> None:
    assert _format_choices(_commands()["export"]) == ["jsonl", "json", "csv", "md"]
    if fmt == "md":
        result = cli("export", "--format", fmt, "--output", str(tmp_path / "md"))
        assert result.exit_code == 0, result.stderr
        assert len(list((tmp_path / "md").glob("*.md"))) == samples.count()
        return
    result = cli("export", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    check_output(fmt, result.stdout)


def test_every_input_format_reads_its_sample(cli) -> None:
    choices = set(INPUT_FORMATS)
    assert choices == set(INPUT_SAMPLES)
    for fmt, name in INPUT_SAMPLES.items():
        for flag in ("--format", "-F", "-f"):
            result = cli("ingest", "--dry-run", "--json", flag, fmt, str(DATA / name))
            assert result.exit_code == 0, (fmt, result.stderr)
            assert json.loads(result.stdout)["counts"]["added"] >= 1


# -- options that would be ignored are refused ---------------------------------------


def _with_json_and_format(name: str) -> bool:
    params = {opt for p in _commands()[name].params for opt in getattr(p, "opts", [])}
    return "--json" in params and "--format" in params


@pytest.mark.parametrize("name", sorted(n for n in CALLS if _with_json_and_format(n)))
def test_json_with_another_format_is_refused(samples: KnowledgeBase, cli, name: str) -> None:
    call = CALLS[name][0]
    other = [f for f in _format_choices(_commands()[name]) if f != "json"][-1]
    args = call(other, samples) if callable(call) else call
    result = cli(name, *args, "--json", "--format", other)
    assert result.exit_code == 2, (name, result.stdout)
    assert "--json" in result.stderr
    agreeing = cli(name, *(call("json", samples) if callable(call) else call), "--json", "--format", "json")
    assert agreeing.exit_code == 0, agreeing.stderr


LISTING_OPTIONS = [
    ["--category", "Home"],
    ["--expert", "higby"],
    ["--tag", "diy"],
    ["--sort", "title"],
    ["--desc"],
    ["--limit", "2"],
    ["--offset", "1"],
]


@pytest.mark.parametrize("listing", ["categories", "experts", "tags"])
@pytest.mark.parametrize("option", LISTING_OPTIONS, ids=lambda o: " ".join(o))
def test_list_of_names_honours_or_refuses_every_option(
    samples: KnowledgeBase, cli, listing: str, option: list[str]
) -> None:
    plain = cli("list", listing, "--format", "json")
    result = cli("list", listing, *option, "--format", "json")
    if result.exit_code == 2:
        assert option[0] in result.stderr, result.stderr
        return
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) != json.loads(plain.stdout), f"{option} was ignored"


def test_show_raw_refuses_a_format(samples: KnowledgeBase, cli) -> None:
    result = cli("show", "1", "--raw", "--format", "json")
    assert result.exit_code == 2
    assert "--raw" in result.stderr


def test_show_related_is_listed_in_json_when_asked_for_and_refused_where_it_cannot_be(
    samples: KnowledgeBase, cli
) -> None:
    # An entry on the samples whose related list is not empty in the table.
    entry_id = next(e.id for e in samples.list(limit=1000) if samples.related(e.id, limit=3))
    table_related = samples.related(entry_id, limit=3)
    one = cli("show", str(entry_id), "--related", "3", "--format", "json")
    assert one.exit_code == 0, one.stderr
    related = json.loads(one.stdout)["related"]
    assert [r["id"] for r in related] == [h.entry.id for h in table_related]
    assert set(related[0]) == {"id", "uid", "title", "question", "score"}
    lines = cli("show", str(entry_id), "1", "--related", "2", "--format", "jsonl")
    assert lines.exit_code == 0, lines.stderr
    records = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [r["id"] for r in records] == [entry_id, 1] and all(len(r["related"]) <= 2 for r in records)
    # Without --related the JSON shape is the entry's own; with CSV or ids, --related is refused.
    assert "related" not in json.loads(cli("show", str(entry_id), "--format", "json").stdout)
    for fmt in ("csv", "ids"):
        refused = cli("show", str(entry_id), "--related", "3", "--format", fmt)
        assert refused.exit_code == 2 and "--related" in refused.stderr
