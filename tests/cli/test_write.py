"""The write side: KnowledgeBase add/update/remove/stats, and kb add/remove/stats/completion."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.cli.complete import complete_categories, complete_experts, complete_ids
from kb.errors import Duplicate, InvalidEntry, NotFound
from kb.models import Entry, Expert
from tests.conftest import DATA, ROOT, make_entry


@pytest.fixture
def kb(kb_db: Path) -> KnowledgeBase:
    with KnowledgeBase.open(kb_db) as opened:
        yield opened


def _ids(kb: KnowledgeBase) -> list[int]:
    return sorted(e.id for e in kb.iter_entries())


# -- library ------------------------------------------------------------------------------


def test_add_by_keywords_returns_a_stored_entry(kb: KnowledgeBase) -> None:
    entry = kb.add(
        question="  How often should I water roses?\r\n",
        answer="Weekly, deeply.",
        title="Watering",
        category="Gardening",
        expert="Pat Doe",
        tags="roses, water",
    )
    assert isinstance(entry, Entry)
    assert entry.id == 1
    assert entry.question == "How often should I water roses?"
    assert entry.expert == Expert(name="Pat Doe")
    assert entry.tags == ["roses", "water"]
    assert kb.get(1).uid == entry.uid
    assert [h.entry.id for h in kb.search("water roses").hits] == [1]


def test_add_an_entry_object(kb: KnowledgeBase) -> None:
    added = kb.add(make_entry(1))
    assert kb.get(added.uid[:8]).id == added.id


def test_add_duplicate_raises_duplicate_with_the_existing_id(kb: KnowledgeBase) -> None:
    first = kb.add(make_entry(1))
    with pytest.raises(Duplicate) as caught:
        kb.add(make_entry(1, title="another title, same text"))
    assert caught.value.existing_id == first.id
    assert caught.value.exit_code == 1
    assert isinstance(caught.value, InvalidEntry)  # older callers catch this
    assert _ids(kb) == [1]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"question": "Q?"}, "missing answer"),
        ({"answer": "A."}, "missing question"),
        ({"title": "t"}, "missing question and answer"),
    ],
)
def test_add_missing_fields_are_named(kb: KnowledgeBase, fields: dict, named: str) -> None:
    with pytest.raises(InvalidEntry) as caught:
        kb.add(**fields)
    assert named in str(caught.value)
    assert caught.value.exit_code == 2
    assert not kb.backend.path.exists()


def test_add_rejects_unknown_keywords_and_mixed_forms(kb: KnowledgeBase) -> None:
    with pytest.raises(TypeError):
        kb.add(question="q", answer="a", colour="red")
    with pytest.raises(TypeError):
        kb.add(make_entry(1), title="x")


def test_add_many_adds_nothing_when_one_entry_is_invalid(kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidEntry):
        kb.add_many([make_entry(1), make_entry(2, answer=" ")])
    assert _ids(kb) == []


def test_add_many_reports_duplicates_and_adds_the_rest(kb: KnowledgeBase) -> None:
    kb.add(make_entry(1))
    added, duplicates = kb.add_many([make_entry(1), make_entry(2), make_entry(2)])
    assert [e.id for e in added] == [2]
    assert [e.id for e in duplicates] == [1, 2]


def test_update_by_ref_with_fields_keeps_raw_text(kb: KnowledgeBase) -> None:
    report = kb.ingest([str(DATA / "note.md")])
    entry = report.added[0]
    raw = kb.raw(entry.id)
    assert raw
    updated = kb.update(entry.id, answer="A new answer.", tags=["edited"])
    assert updated.uid != entry.uid
    stored = kb.get(entry.id)
    assert (stored.answer, stored.tags, stored.question) == ("A new answer.", ["edited"], entry.question)
    assert kb.raw(entry.id) == raw


def test_remove_takes_one_ref_or_many(kb: KnowledgeBase) -> None:
    kb.add_many([make_entry(n) for n in range(1, 5)])
    assert [e.id for e in kb.remove(1)] == [1]
    uid = kb.get(2).uid
    assert [e.id for e in kb.remove(uid[:6])] == [2]
    assert [e.id for e in kb.remove([3, "4"])] == [3, 4]


def test_remove_with_an_unknown_id_removes_nothing(kb: KnowledgeBase) -> None:
    kb.add_many([make_entry(1), make_entry(2)])
    with pytest.raises(NotFound):
        kb.remove([1, 99])
    assert _ids(kb) == [1, 2]


def test_stats_counts_everything(kb: KnowledgeBase) -> None:
    kb.add_many([make_entry(1, category="A"), make_entry(2, category="A"), make_entry(3, category="B", tags=["x"])])
    stats = kb.stats()
    data = stats.to_dict()
    assert (data["entries"], data["categories"], data["experts"], data["tags"]) == (3, 2, 1, 2)
    assert data["per_category"] == [{"category": "A", "entries": 2}, {"category": "B", "entries": 1}]
    assert data["sources"] == {"files": 0, "formats": {}, "entries": {"json": 3}}  # entries with no file
    shards = kb.backend.path.with_name("kb.json.d")
    assert data["store_bytes"] == kb.backend.path.stat().st_size + sum(p.stat().st_size for p in shards.iterdir())
    assert data["index_bytes"] > 0


def test_stats_of_an_empty_store(kb: KnowledgeBase) -> None:
    data = kb.stats().to_dict()
    assert (data["entries"], data["store_bytes"], data["per_category"]) == (0, 0, [])


# -- kb add -------------------------------------------------------------------------------


def test_cli_add_prints_the_new_id(cli) -> None:
    result = cli(
        "add",
        "--question",
        "How often?",
        "--answer",
        "Weekly.",
        "--title",
        "Watering",
        "-c",
        "Gardening",
        "-e",
        "Pat Doe",
        "-t",
        "roses",
        "-t",
        "water",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1\n"
    entry = KnowledgeBase.open().get(1)
    assert (entry.title, entry.category, entry.expert.name, entry.tags) == (
        "Watering",
        "Gardening",
        "Pat Doe",
        ["roses", "water"],
    )


def test_cli_add_json_prints_the_entry(cli) -> None:
    result = cli("add", "-Q", "How often?", "-a", "Weekly.", "--format", "json")
    record = json.loads(result.stdout)
    assert (record["id"], record["question"], record["source"]["format"]) == (1, "How often?", "manual")


def test_cli_add_duplicate_exits_1_and_says_so(cli) -> None:
    cli("add", "-Q", "How often?", "-a", "Weekly.")
    result = cli("add", "-Q", "How  often?", "-a", "Weekly.")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "entry 1 already has this question and answer" in result.stderr
    assert _ids(KnowledgeBase.open()) == [1]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-Q", "Q?"], "missing answer"),
        (["-a", "A."], "missing question"),
        (["--title", "t"], "missing question and answer"),
    ],
)
def test_cli_add_without_a_tty_names_missing_fields(cli, args: list[str], named: str) -> None:
    result = cli("add", *args)
    assert result.exit_code == 2
    assert named in result.stderr
    assert "--question" in result.stderr  # the hint says how to give them
    assert result.stdout == ""


def test_cli_add_reads_a_json_list_from_stdin(cli) -> None:
    records = [
        {"question": "Q1?", "answer": "A1", "expert": {"name": "Ann", "expertise": "Soil"}},
        {"question": "Q2?", "answer": "A2", "tags": ["x"]},
    ]
    result = cli("add", "--category", "Soil", "-t", "piped", input=json.dumps(records))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1\n2\n"
    entries = list(KnowledgeBase.open().iter_entries())
    assert [e.category for e in entries] == ["Soil", "Soil"]
    assert [e.tags for e in entries] == [["piped"], ["x", "piped"]]
    assert entries[0].expert == Expert(name="Ann", expertise="Soil")
    assert entries[0].source.path is None


def test_cli_add_reads_markdown_from_stdin(cli) -> None:
    text = "---\ntitle: From stdin\ntags: [a, b]\n---\n## Question\n\nWhy?\n\n## Answer\n\nBecause.\n"
    result = cli("add", "--format", "json", input=text)
    record = json.loads(result.stdout)
    assert (record["title"], record["tags"], record["answer"]) == ("From stdin", ["a", "b"], "Because.")


def test_cli_add_reads_json_lines_from_stdin(cli) -> None:
    text = '{"question": "Q1?", "answer": "A1"}\n{"question": "Q2?", "answer": "A2"}\n'
    result = cli("add", "--format", "json", input=text)
    assert [r["id"] for r in json.loads(result.stdout)] == [1, 2]


def test_cli_add_refuses_a_bad_record_and_adds_none(cli) -> None:
    records = [{"question": "Q1?", "answer": "A1"}, {"question": "Q2?"}]
    result = cli("add", input=json.dumps(records))
    assert result.exit_code == 2
    assert "'answer' is missing" in result.stderr
    assert not KnowledgeBase.open().exists()


def test_cli_add_stdin_duplicates_are_reported_the_rest_added(cli) -> None:
    cli("add", "-Q", "Q1?", "-a", "A1")
    result = cli(
        "add",
        "--format",
        "json",
        input=json.dumps([{"question": "Q1?", "answer": "A1"}, {"question": "Q2?", "answer": "A2"}]),
    )
    assert result.exit_code == 1
    assert [r["id"] for r in json.loads(result.stdout)] == [2]
    assert "entry 1 already has" in result.stderr


def test_cli_add_text_is_never_rich_markup(cli) -> None:
    result = cli("add", "-Q", "[bold red]Q[/]?", "-a", "[link=http://x]A[/link]", "--format", "json")
    assert json.loads(result.stdout)["question"] == "[bold red]Q[/]?"


# -- kb remove ------------------------------------------------------------------------------


def _seed(n: int = 3) -> None:
    KnowledgeBase.open().add_many([make_entry(i) for i in range(1, n + 1)])


def test_cli_remove_yes_reports_what_was_removed(cli) -> None:
    _seed()
    result = cli("remove", "1", "3", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["removed 1  Title 1", "removed 3  Title 3"]
    assert _ids(KnowledgeBase.open()) == [2]


def test_cli_rm_alias_json(cli) -> None:
    _seed()
    result = cli("rm", "2", "-y", "--format", "json")
    assert [r["id"] for r in json.loads(result.stdout)] == [2]


def test_cli_remove_without_tty_or_yes_refuses(cli) -> None:
    _seed()
    result = cli("remove", "1")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert _ids(KnowledgeBase.open()) == [1, 2, 3]


def test_cli_remove_unknown_id_removes_nothing(cli) -> None:
    _seed()
    result = cli("remove", "1", "42", "--yes")
    assert result.exit_code == 1
    assert "42" in result.stderr
    assert _ids(KnowledgeBase.open()) == [1, 2, 3]


# -- kb stats -------------------------------------------------------------------------------


def test_cli_stats_json(cli) -> None:
    KnowledgeBase.open().add_many([make_entry(n, category=f"Cat {n % 2}") for n in range(1, 6)])
    data = json.loads(cli("stats", "--json").stdout)
    assert data["entries"] == 5
    assert data["per_category"][0] == {"category": "Cat 1", "entries": 3}


def test_cli_stats_table_has_a_bar_per_category(cli) -> None:
    categories = [f"Category {n:02d}" for n in range(20)]
    KnowledgeBase.open().add_many([make_entry(n, category=c) for n, c in enumerate(categories)])
    result = cli("stats")
    assert result.exit_code == 0
    assert "entries" in result.stdout and "20" in result.stdout
    bars = [line for line in result.stdout.splitlines() if "█" in line]
    assert len(bars) == 15
    assert "5 more categories" in result.stdout


def test_cli_stats_escapes_category_markup(cli) -> None:
    KnowledgeBase.open().add(make_entry(1, category="[red]Evil\x1b[2J"))
    result = cli("stats")
    assert "[red]Evil" in result.stdout
    assert "\x1b" not in result.stdout


# -- JSON on stdout, alone -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["add", "-Q", "New?", "-a", "Yes.", "--format", "json"],
        ["edit", "1", "--format", "json"],
        ["remove", "2", "--yes", "--format", "json"],
        ["export", "--format", "json"],
        ["stats", "--format", "json"],
    ],
    ids=lambda a: a[0],
)
def test_every_write_command_prints_only_json(kb_run, kb_db: Path, tmp_path: Path, args: list[str]) -> None:
    KnowledgeBase.open(kb_db).add_many([make_entry(1), make_entry(2)])
    editor = tmp_path / "noop.py"
    editor.write_text(f"#!{sys.executable}\n", encoding="utf-8")
    editor.chmod(0o755)
    result = kb_run(*args, env={"EDITOR": str(editor), "VISUAL": ""}, timeout=60)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


# -- shell completion ------------------------------------------------------------------------


def _completion_kb(kb_db: Path) -> None:
    KnowledgeBase.open(kb_db).add_many(
        [make_entry(1, category="Roses"), make_entry(2, category="Lawns", expert=Expert(name="Donald Higby, M.D."))]
    )
    KnowledgeBase.open(kb_db).count()  # builds the index


class _Ctx:
    def __init__(self, params: dict, parent: _Ctx | None = None) -> None:
        self.params = params
        self.parent = parent


def test_completion_callbacks_read_the_index(kb_db: Path) -> None:
    _completion_kb(kb_db)
    ctx = _Ctx({})
    assert [v for v, _ in complete_ids(ctx, "")] == ["1", "2"]
    assert complete_ids(ctx, "2") == [("2", "Title 2")]
    assert complete_categories(ctx, "ro") == [("Roses", "1 entry")]
    assert [v for v, _ in complete_experts(ctx, "d")] == ["Donald Higby, M.D."]


def test_completion_uses_db_given_before_the_command(kb_db: Path, tmp_path: Path, monkeypatch) -> None:
    _completion_kb(kb_db)
    monkeypatch.setenv("KB_DB", str(tmp_path / "elsewhere.json"))
    assert complete_categories(_Ctx({}, parent=_Ctx({"db": str(kb_db)})), "") != []


def test_completion_never_raises(kb_db: Path, tmp_path: Path) -> None:
    assert complete_ids(_Ctx({}), "") == []  # no store, no index
    assert not kb_db.with_name("kb.index.sqlite").exists()  # and none was created
    bad = tmp_path / "bad.index.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    assert complete_categories(_Ctx({"db": str(tmp_path / "bad.json")}), "") == []
    assert complete_experts(None, "") == []


def test_shell_completion_end_to_end(kb_db: Path) -> None:
    _completion_kb(kb_db)
    kb_script = Path(sys.executable).with_name("kb")
    if not kb_script.exists():
        pytest.skip("the kb console script is not installed")
    env = dict(os.environ, _KB_COMPLETE="complete_zsh")
    for words, expected in [
        ("kb show ", '"1":"Title 1"'),
        ("kb remove 1 ", '"2":"Title 2"'),
        ("kb list --category L", '"Lawns":"1 entry"'),
        ("kb add --expert Don", '"Donald Higby, M.D.":"1 answer"'),
        ("kb export --category R", '"Roses":"1 entry"'),
    ]:
        out = subprocess.run(
            [str(kb_script)], env=dict(env, _TYPER_COMPLETE_ARGS=words), capture_output=True, text=True, timeout=30
        )
        assert expected in out.stdout, (words, out.stdout, out.stderr)


# -- the README section's example runs ----------------------------------------------------


def test_readme_write_python_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert block, "README.md has no python example"
    result = subprocess.run(
        [sys.executable, "-c", block.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, KB_DB=str(tmp_path / "x.json")),
    )
    assert result.returncode == 0, result.stderr
