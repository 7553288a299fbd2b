"""A Markdown export into a folder it wrote before: files of gone entries go, nobody else's do."""

from __future__ import annotations

from pathlib import Path

import orjson

from kb.api import KnowledgeBase
from kb.export import MANIFEST, FolderChanges, markdown_name


def _kb(path: Path, n: int = 3) -> KnowledgeBase:
    kb = KnowledgeBase.open(path)
    for i in range(1, n + 1):
        kb.add(question=f"Question {i}?", answer=f"Answer {i}.", title=f"Topic {i}", category="A" if i < 3 else "B")
    return kb


def _md(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_export_folder_removes_files_of_removed_entries_only(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb.json")
    folder = tmp_path / "notes"
    kb.export("md", folder)
    gone = markdown_name(kb.get(2))
    (folder / "mine.md").write_text("my own note\n", encoding="utf-8")
    (folder / "9-looks-like-kb.md").write_text("not written by kb\n", encoding="utf-8")
    kb.remove(2)
    changes = FolderChanges()
    assert kb.export("md", folder, changes=changes) == 2
    assert changes.removed == [gone] and changes.kept == []
    assert gone not in _md(folder)
    assert {"mine.md", "9-looks-like-kb.md"} <= set(_md(folder))
    again = KnowledgeBase.open(tmp_path / "again" / "kb.json")
    report = again.ingest([str(folder / name) for name in _md(folder) if name[0].isdigit() and name[0] != "9"])
    assert report.counts["added"] == 2


def test_export_folder_keeps_a_changed_file_and_says_so(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb.json")
    folder = tmp_path / "notes"
    kb.export("md", folder)
    name = markdown_name(kb.get(3))
    (folder / name).write_text((folder / name).read_text(encoding="utf-8") + "my addition\n", encoding="utf-8")
    kb.remove(3)
    changes = FolderChanges()
    kb.export("md", folder, changes=changes)
    assert changes.kept == [name] and (folder / name).exists()


def test_export_folder_renamed_entry_leaves_no_old_file(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb.json")
    folder = tmp_path / "notes"
    kb.export("md", folder)
    old = markdown_name(kb.get(1))
    kb.update(1, title="A new title")
    kb.export("md", folder, category="A")  # filtered: the other entries' files stay
    assert old not in _md(folder)
    assert "1-a-new-title.md" in _md(folder)
    assert markdown_name(kb.get(3)) in _md(folder)
    kb.remove(3)
    kb.export("md", folder, category="A")
    assert markdown_name(kb.get(2)) in _md(folder)


def test_export_folder_manifest_never_reaches_outside(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb.json")
    folder = tmp_path / "notes"
    folder.mkdir()
    outside = tmp_path / "precious.md"
    outside.write_text("keep me\n", encoding="utf-8")
    import hashlib

    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    (folder / MANIFEST).write_bytes(orjson.dumps({"files": {"../precious.md": {"id": 99, "sha256": digest}}}))
    kb.export("md", folder)
    assert outside.exists()


def test_export_folder_broken_manifest_is_ignored(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb.json")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / MANIFEST).write_bytes(b"{not json")
    assert kb.export("md", folder) == 3


def test_export_folder_cli_says_what_it_removed(cli, kb_db: Path, tmp_path: Path) -> None:
    kb = _kb(kb_db)
    folder = tmp_path / "notes"
    assert cli("export", "-F", "md", "-o", str(folder)).exit_code == 0
    kb.remove(1)
    result = cli("export", "-F", "md", "-o", str(folder))
    assert result.exit_code == 0
    assert "removed 1 files" in result.stderr and "1-topic-1.md" in result.stderr


def test_export_folder_cli_file_name_is_a_usage_error(cli, kb_db: Path, tmp_path: Path) -> None:
    _kb(kb_db)
    result = cli("export", "-F", "md", "-o", str(tmp_path / "notes.txt"))
    assert result.exit_code == 2
    assert "looks like a file name" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "notes.txt").exists()
    existing = tmp_path / "file.md"
    existing.write_text("x", encoding="utf-8")
    result = cli("export", "-F", "md", "-o", str(existing))
    assert result.exit_code == 2 and existing.read_text(encoding="utf-8") == "x"


def test_export_folder_again_keeps_files_edited_since_and_names_them(kb_db: Path, tmp_path: Path, kb_run) -> None:
    """A second `kb export -F md -o notes/` never writes over a file the user edited."""
    _kb(kb_db).close()
    folder = tmp_path / "notes"
    assert kb_run("export", "-F", "md", "-o", str(folder)).returncode == 0
    first, second = sorted(p for p in folder.glob("*.md"))[:2]
    first.write_text(first.read_text(encoding="utf-8") + "\nMy own note.\n", encoding="utf-8")
    edited = first.read_bytes()
    second.unlink()
    again = kb_run("export", "-F", "md", "-o", str(folder))
    assert again.returncode == 1
    assert first.name in again.stderr.decode() and "--force" in again.stderr.decode()
    assert b"Traceback" not in again.stderr
    assert first.read_bytes() == edited and second.exists()  # the others were written
    third = kb_run("export", "-F", "md", "-o", str(folder))
    assert third.returncode == 1 and first.name in third.stderr.decode()  # still known as edited
    forced = kb_run("export", "-F", "md", "-o", str(folder), "--force")
    assert forced.returncode == 0, forced.stderr
    assert b"My own note." not in first.read_bytes()
    assert kb_run("export", "-F", "md", "-o", str(folder)).returncode == 0
