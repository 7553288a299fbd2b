"""$EDITOR handling: command splitting, and kb edit / kb add --editor with real editor scripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.cli.editor import edit_text, editor_command
from kb.errors import EditorError
from tests.conftest import make_entry


def write_editor(folder: Path, name: str, body: str) -> Path:
    """Write an executable Python editor script; it gets the file to edit as its last argument."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\nimport sys\npath = sys.argv[-1]\ntext = open(path, encoding='utf-8').read()\n" + body,
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


REPLACE_ANSWER = (
    "head, _, _ = text.partition('## Answer')\n"
    "open(path, 'w', encoding='utf-8').write(head + '## Answer\\n\\nEdited answer, café.\\n')\n"
)
FILL_TEMPLATE = (
    "text = text.replace('## Question\\n', '## Question\\nWhat is new?\\n')\n"
    "text = text.replace('## Answer\\n', '## Answer\\nThis is.\\n')\n"
    "open(path, 'w', encoding='utf-8').write(text)\n"
)


@pytest.fixture
def editors(tmp_path: Path) -> Path:
    """A folder whose name has a space, as editors' install paths often do."""
    return tmp_path / "my editors"


@pytest.fixture
def stored(kb_db: Path) -> KnowledgeBase:
    kb = KnowledgeBase.open(kb_db)
    kb.add_many([make_entry(1), make_entry(2)])
    return kb


def _env(editor: Path | str, **extra: str) -> dict[str, str]:
    value = str(editor)
    return {"VISUAL": "", "EDITOR": value, **extra}


# -- the command line of the editor ------------------------------------------------------


def test_editor_command_is_split_like_a_shell() -> None:
    assert editor_command({"EDITOR": "code --wait"}) == ["code", "--wait"]
    assert editor_command({"EDITOR": "'/opt/My Editor/ed' -n"}) == ["/opt/My Editor/ed", "-n"]
    assert editor_command({"VISUAL": "vim -u NONE", "EDITOR": "nano"}) == ["vim", "-u", "NONE"]


def test_editor_command_takes_an_unquoted_existing_path_with_spaces(editors: Path) -> None:
    script = write_editor(editors, "ed.py", "")
    assert editor_command({"EDITOR": str(script)}) == [str(script)]


def test_editor_command_reports_bad_quoting() -> None:
    with pytest.raises(EditorError, match="EDITOR"):
        editor_command({"EDITOR": "'unterminated"})


def test_edit_text_round_trips_through_a_md_file(editors: Path) -> None:
    script = write_editor(editors, "upper.py", "assert path.endswith('.md')\nopen(path, 'w').write(text.upper())\n")
    assert edit_text("abc\n", env={"EDITOR": f"'{script}'"}) == "ABC\n"


def test_edit_text_missing_editor_is_an_editor_error() -> None:
    with pytest.raises(EditorError, match="not found"):
        edit_text("x", env={"EDITOR": "/no/such/editor --wait"})


# -- kb edit ------------------------------------------------------------------------------


def test_edit_replaces_the_answer(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    script = write_editor(editors, "replace answer.py", REPLACE_ANSWER)
    before = stored.get(1)
    result = kb_run("edit", "1", "--format", "json", env=_env(f"'{script}'"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answer"] == "Edited answer, café."
    after = KnowledgeBase.open(stored.backend.path).get(1)
    assert after.answer == "Edited answer, café."
    assert (after.question, after.title, after.tags, after.created_at) == (
        before.question,
        before.title,
        before.tags,
        before.created_at,
    )
    assert after.uid != before.uid
    assert KnowledgeBase.open(stored.backend.path).search("edited").hits[0].entry.id == 1


def test_edit_with_editor_arguments(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    script = write_editor(editors, "ed.py", "assert sys.argv[1] == '--wait'\n" + REPLACE_ANSWER)
    result = kb_run("edit", "2", env=_env(f"'{script}' --wait"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "2\n"
    assert KnowledgeBase.open(stored.backend.path).get(2).answer == "Edited answer, café."


def test_edit_unchanged_file_changes_nothing(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    script = write_editor(editors, "noop.py", "")
    before = stored.backend.path.read_bytes()
    result = kb_run("edit", "1", env=_env(script))
    assert result.returncode == 0
    assert b"no changes" in result.stderr
    assert stored.backend.path.read_bytes() == before


def test_edit_only_whitespace_changes_nothing(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    script = write_editor(editors, "spaces.py", "open(path, 'w').write(text.replace('\\n', '   \\n') + '\\n\\n')\n")
    before = stored.backend.path.read_bytes()
    result = kb_run("edit", "1", env=_env(script))
    assert b"no changes" in result.stderr
    assert stored.backend.path.read_bytes() == before


def test_edit_editor_failure_leaves_the_store(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    script = write_editor(editors, "fail.py", "open(path, 'w').write('ruined')\nsys.exit(1)\n")
    before = stored.backend.path.read_bytes()
    result = kb_run("edit", "1", env=_env(script))
    assert result.returncode == 1
    assert b"exited with status 1" in result.stderr
    assert b"Traceback" not in result.stderr
    assert stored.backend.path.read_bytes() == before


def test_edit_invalid_content_without_tty_aborts(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    script = write_editor(editors, "break.py", "open(path, 'w').write(text.replace('## Answer', 'Answer'))\n")
    before = stored.backend.path.read_bytes()
    result = kb_run("edit", "1", env=_env(script), timeout=30)
    assert result.returncode == 2
    assert b"Answer" in result.stderr
    assert stored.backend.path.read_bytes() == before


def test_edit_into_a_duplicate_is_refused(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    other = stored.get(2)
    body = (
        f"text = text.replace({stored.get(1).question!r}, {other.question!r})\n"
        f"text = text.replace({stored.get(1).answer!r}, {other.answer!r})\n"
        "open(path, 'w').write(text)\n"
    )
    script = write_editor(editors, "dup.py", body)
    before = stored.backend.path.read_bytes()
    result = kb_run("edit", "1", env=_env(script))
    assert result.returncode == 2
    assert b"entry 2 already has this question and answer" in result.stderr
    assert stored.backend.path.read_bytes() == before


def test_edit_unknown_id_exits_1_without_opening_the_editor(kb_run, stored: KnowledgeBase, editors: Path) -> None:
    marker = editors / "ran"
    script = write_editor(editors, "mark.py", f"open({str(marker)!r}, 'w').write('x')\n")
    result = kb_run("edit", "99", env=_env(script))
    assert result.returncode == 1
    assert not marker.exists()


def test_edit_missing_editor_is_a_clean_error(kb_run, stored: KnowledgeBase) -> None:
    result = kb_run("edit", "1", env=_env("/no/such/editor"))
    assert result.returncode == 1
    assert result.stderr.decode().startswith("Error: editor '/no/such/editor' not found")


# -- kb add --editor ------------------------------------------------------------------------


def test_add_editor_fills_the_template(kb_run, kb_db: Path, editors: Path) -> None:
    script = write_editor(editors, "fill.py", FILL_TEMPLATE)
    result = kb_run("add", "--editor", "--title", "Prefilled", "-t", "x", "--format", "json", env=_env(script))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["title"], record["tags"], record["question"], record["answer"]) == (
        "Prefilled",
        ["x"],
        "What is new?",
        "This is.",
    )
    assert record["source"]["format"] == "markdown"


def test_add_editor_unchanged_template_adds_nothing(kb_run, kb_db: Path, editors: Path) -> None:
    script = write_editor(editors, "noop.py", "")
    result = kb_run("add", "--editor", env=_env(script))
    assert result.returncode == 2
    assert b"unchanged" in result.stderr
    assert not kb_db.exists()


def test_add_editor_empty_answer_is_refused(kb_run, kb_db: Path, editors: Path) -> None:
    script = write_editor(editors, "half.py", FILL_TEMPLATE.replace("This is.", ""))
    result = kb_run("add", "--editor", env=_env(script))
    assert result.returncode == 2
    assert b"answer" in result.stderr
    assert not kb_db.exists()
