"""`kb browse` and open questions, under Textual's headless pilot: left out of the search
unless --open, their own view (o) oldest first with the wait, and answering one in the
editor (a)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.tui.app import BrowseApp
from kb.tui.screens import ReaderScreen
from tests.tui.test_browse import drive, hit_ids, preview_text, settle, status_text


@pytest.fixture
def kb(kb_db: Path) -> KnowledgeBase:
    base = KnowledgeBase.open(kb_db)
    base.add(question="How often should I water tomatoes?", answer="Twice a week.", category="Gardening")
    base.post("Can I water tomatoes with grey water?", category="Gardening", asked_by="sam")
    older = base.post("Do tomatoes need a cage?", category="Gardening").entry
    older.asked_at = "2024-01-01T00:00:00+00:00"
    base.update(older)
    yield base
    base.close()


def test_browse_leaves_open_questions_out_unless_open(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "tomatoes")

    async def steps(pilot) -> None:
        assert hit_ids(app) == [1]

    drive(app, steps)
    included = BrowseApp(kb, "tomatoes", include_open=True)

    async def more(pilot) -> None:
        assert sorted(hit_ids(included)) == [1, 2, 3]

    drive(included, more)


def test_browse_open_view_lists_the_oldest_first_with_the_wait(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot) -> None:
        assert hit_ids(app) == [1]
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert hit_ids(app) == [3, 2]
        assert "2 open questions, oldest first" in status_text(app)
        assert "Waiting for an answer" in preview_text(app)
        row = app.hit_list.get_option_at_index(0).prompt.plain
        assert row.startswith("[open] ") and "waiting " in row and "d" in row.split("waiting ")[1]
        await pilot.press("tab", "o")  # o from the list: back to every entry
        await settle(pilot)
        assert hit_ids(app) == [1]

    drive(app, steps)


def test_browse_answers_an_open_question_in_the_editor(
    kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\n{ printf "A stake will do.\\n"; cat "$1"; } > "$1.new" && mv "$1.new" "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    # The headless pilot has no terminal to hand over; the editor runs without one.
    monkeypatch.setattr(BrowseApp, "suspend", lambda self: contextlib.nullcontext())
    app = BrowseApp(kb)

    async def steps(pilot) -> None:
        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("a")
        await settle(pilot)
        assert hit_ids(app) == [2]  # answered: out of the open questions

    drive(app, steps)
    stored = kb.get(3)
    assert stored.status == "answered" and stored.answer == "A stake will do."
    assert [h.entry.id for h in kb.search("cage")] == [3]


def test_browse_answer_key_on_an_answered_entry_says_so(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot) -> None:
        await pilot.press("tab", "a")
        await pilot.pause()
        assert any("answered already" in str(n.message) for n in app._notifications)

    drive(app, steps)
