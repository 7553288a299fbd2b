"""`kb browse` under Textual's headless pilot, against a real store ingested from seeds/ and data/.

Each test drives the app with keys as a person would (type, move, open, back, copy,
facets, related, quit) and checks what the app shows or did.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Input, Static
from textual.worker import WorkerCancelled

from kb.api import KnowledgeBase
from kb.models import Expert
from kb.render import clean
from kb.tui import views
from kb.tui.app import LIMIT, BrowseApp, clipboard_blocker
from kb.tui.screens import HelpScreen, PickScreen, ReaderScreen
from tests.conftest import DATA, SEEDS

HOSTILE_QUESTION = "Why does [bold red]this[/] show \x1b[31mred\x1b[0m text?"


@pytest.fixture
def kb(kb_db: Path) -> KnowledgeBase:
    """A store of the repository's samples, plus one entry whose text tries markup and escapes."""
    base = KnowledgeBase.open(kb_db)
    report = base.ingest([str(SEEDS), str(DATA)])
    assert not report.failures
    base.add(
        question=HOSTILE_QUESTION,
        answer="Hostile [link=http://x]answer[/link] \x1b]52;c;eA==\x07 here.",
        title="Markup zebra",
        category="Testing",
        expert=Expert(name="[i]Eve[/i]"),
    )
    yield base
    base.close()


def drive(app: BrowseApp, steps, size=(100, 30)):
    """Run the app headless at ``size`` and await ``steps(pilot)``; return its exit code."""

    async def main():
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await steps(pilot)
        return app.return_code

    return asyncio.run(main())


async def settle(pilot) -> None:
    """Wait for the debounce, the search worker and the redraw that follows it.

    A search a newer one superseded ends cancelled (its worker group is exclusive): that
    is the app working, so the wait goes on to the searches still running.
    """
    await pilot.pause(0.05)
    while running := [w for w in pilot.app.workers if not w.is_finished]:
        for worker in running:
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
    await pilot.pause()


def hit_ids(app: BrowseApp) -> list[int]:
    return [e.id for e in app.hit_list.entries]


def preview_text(app: BrowseApp) -> str:
    return app.preview.text.plain


def rendered(app: BrowseApp, renderable, width: int) -> str:
    """What a Rich renderable shows at this width, as plain text."""
    lines = app.console.render_lines(renderable, app.console.options.update_width(width))
    return "\n".join("".join(seg.text for seg in line) for line in lines)


def status_text(app: BrowseApp) -> str:
    return app.screen_stack[0].query_one("#status", Static).content.plain


def test_browse_typing_ranks_as_search(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        assert app.focused is app.search_box
        await pilot.press(*"water")
        await settle(pilot)
        expected = [h.entry.id for h in kb.search("water", limit=LIMIT)]
        assert len(expected) > 1
        assert hit_ids(app) == expected
        assert "matches" in status_text(app)
        # The preview shows the first hit, its words highlighted.
        first = kb.get(expected[0])
        assert clean(first.question.strip()).splitlines()[0] in preview_text(app)
        text = app.preview.text
        marked = {text.plain[s.start : s.end].lower() for s in text.spans if s.style == views.HIGHLIGHT}
        assert marked and all(word.startswith("water") for word in marked)

    drive(app, steps)


def test_browse_draws_hits_given_before_the_first_layout_once(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[int, int | None]] = []
    row = views.hit_row

    def counted(entry, pattern, width=None):
        drawn.append((entry.id, width))
        return row(entry, pattern, width)

    monkeypatch.setattr(views, "hit_row", counted)
    entries = [h.entry for h in kb.search("water", limit=LIMIT)]

    class Early(BrowseApp):
        # The first page is read before the first layout: the hits arrive while the
        # list has no width yet.
        def on_mount(self) -> None:
            assert not self.hit_list.scrollable_content_region.width
            self.hit_list.show(entries, None)

    app = Early(kb, empty=True)  # empty: the app's own first page stays out of the way

    async def steps(pilot):
        await pilot.pause()
        ids = [e.id for e in entries]
        assert len(ids) > 1 and hit_ids(app) == ids and app.hit_list.option_count == len(ids)
        assert app.hit_list.highlighted == 0
        # Each drawn once, without a width: the list cuts the lines to its own.
        assert drawn == [(entry_id, None) for entry_id in ids]
        assert clean(entries[0].question.strip()).splitlines()[0] in preview_text(app)
        width = app.hit_list.scrollable_content_region.width
        lines = [app.hit_list.render_line(y).text.rstrip() for y in range(2 * len(ids))]
        assert all(0 < len(line) <= width for line in lines)
        assert any(line.endswith("…") for line in lines)
        # Another width: the same rows, cut to it, none rebuilt.
        await pilot.resize_terminal(140, 30)
        await pilot.pause()
        assert len(drawn) == len(ids)
        wider = [app.hit_list.render_line(y).text.rstrip() for y in range(2 * len(ids))]
        assert max(map(len, wider)) > max(map(len, lines))

    drive(app, steps)


def test_browse_first_screen_has_the_first_page_without_a_worker(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def main():
        async with app.run_test(size=(80, 24)):
            # On the first screen already: no search worker ran for it, and the narrow
            # layout's class is set (Textual would set it after the first paint).
            assert not app.workers._workers
            assert app.screen.has_class("-narrow") and not app.screen.has_class("-wide")
            expected = [e.id for e in kb.list(limit=LIMIT, status="answered")]
            assert hit_ids(app) == expected and app.hit_list.highlighted == 0
            assert "entries by id" in status_text(app)
            assert preview_text(app).startswith(f"#{expected[0]}")

    asyncio.run(main())


def test_browse_query_syntax_is_search_syntax(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "water -drinking category:gardening")

    async def steps(pilot):
        expected = [h.entry.id for h in kb.search("water -drinking category:gardening", limit=LIMIT)]
        assert expected and hit_ids(app) == expected
        assert all(kb.get(i).category == "Gardening" for i in hit_ids(app))

    drive(app, steps)


def test_browse_empty_query_lists_entries_and_nothing_matched_says_why(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        assert hit_ids(app)[:3] == [1, 2, 3]
        await pilot.press(*"zzyzxq")
        await settle(pilot)
        assert hit_ids(app) == []
        assert "no entry has" in status_text(app)

    drive(app, steps)


def test_browse_move_changes_the_preview(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "water")

    async def steps(pilot):
        second = kb.get(hit_ids(app)[1])
        await pilot.press("down")
        assert app.focused is app.search_box  # moving from the box keeps the box focused
        assert app.hit_list.highlighted == 1
        assert f"#{second.id} " in preview_text(app)
        await pilot.press("up", "up")
        assert app.hit_list.highlighted == 0

    drive(app, steps)


def test_browse_enter_opens_the_first_hit_and_escape_goes_back(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        # Enter right after typing, before the results came: the first hit of what was typed opens.
        await pilot.press(*"hinge", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReaderScreen)
        top = kb.search("hinge", limit=1)[0].entry
        assert app.screen.entry.id == top.id
        reader = app.screen.query_one("#reader").query_one(".text", Static).content.plain
        assert "Answer" in reader and clean(top.answer.strip())[:40] in reader
        await pilot.press("escape")
        assert not isinstance(app.screen, ReaderScreen)
        assert app.search_box.value == "hinge"

    drive(app, steps)


def test_browse_open_from_the_list_after_moving(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "water")

    async def steps(pilot):
        await pilot.press("tab")
        assert app.focused is app.hit_list
        await pilot.press("down", "enter")
        assert isinstance(app.screen, ReaderScreen)
        assert app.screen.entry.id == hit_ids(app)[1]
        await pilot.press("escape")
        assert app.focused is app.hit_list and app.hit_list.highlighted == 1
        await pilot.press("escape")  # from the list, back to the search box
        assert app.focused is app.search_box and app.is_running

    drive(app, steps)


def test_browse_reader_scrolls_and_finds(kb: KnowledgeBase) -> None:
    long_answer = "\n\n".join(f"Paragraph {i} about hives and honey." for i in range(80)) + "\n\nThe needle word."
    entry = kb.add(question="What is in a long answer?", answer=long_answer, title="Long one")
    app = BrowseApp(kb, "long answer")

    async def steps(pilot):
        assert hit_ids(app)[0] == entry.id
        await pilot.press("enter")
        view = app.screen.query_one("#reader")
        assert view.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert view.scroll_y > 0
        await pilot.press("home")
        await pilot.pause()
        assert view.scroll_y == 0
        await pilot.press("slash", *"needle")
        await pilot.pause()
        status = app.screen.query_one("#find-status", Static).content.plain
        assert status == "match 1 of 1"
        assert view.scroll_y > 100  # the match is near the end
        await pilot.press("escape")  # closes the find box
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("end")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y
        await pilot.press("escape")
        assert not isinstance(app.screen, ReaderScreen)

    drive(app, steps)


def test_browse_copy_puts_the_answer_on_the_clipboard(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TERM_PROGRAM", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    app = BrowseApp(kb, "hinge")

    async def steps(pilot):
        await pilot.press("tab", "c")
        top = kb.get(hit_ids(app)[0])
        assert app.clipboard == clean(top.answer)
        assert any("copied" in n.message for n in app._notifications)

    drive(app, steps)


def test_browse_copy_says_when_the_terminal_cannot(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "linux")
    app = BrowseApp(kb, "hinge")

    async def steps(pilot):
        await pilot.press("tab", "c")
        assert app.clipboard == ""
        assert any("cannot copy" in n.message for n in app._notifications)

    drive(app, steps)
    assert clipboard_blocker({"TERM_PROGRAM": "Apple_Terminal", "TERM": "xterm"})
    assert clipboard_blocker({"TERM": "xterm-kitty"}) is None


def test_browse_facets_filter_by_a_category_and_clear(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert isinstance(app.screen, PickScreen)
        labels = [prompt.plain for prompt, _ in app.screen.items if prompt is not None]
        assert any(label.strip() == "5  Home" for label in labels)  # categories with their counts
        assert any("Experts" in label for label in labels)
        choice = next(i for i, (_, value) in enumerate(app.screen.items) if value == ("category", "Gardening"))
        app.screen.query_one("#picks").highlighted = choice
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, PickScreen)
        assert hit_ids(app) == [e.id for e in kb.list(category="Gardening")]
        assert "category: Gardening" in status_text(app)
        await pilot.press(*"water")
        await settle(pilot)
        assert hit_ids(app) == [h.entry.id for h in kb.search("water", category="Gardening", limit=LIMIT)]
        # The first row clears the filter.
        await pilot.press("ctrl+f")
        await settle(pilot)
        app.screen.query_one("#picks").highlighted = 0
        await pilot.press("enter")
        await settle(pilot)
        assert hit_ids(app) == [h.entry.id for h in kb.search("water", limit=LIMIT)]

    drive(app, steps)


def test_browse_related_lists_and_opens(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "watering hot weather")

    async def steps(pilot):
        top = hit_ids(app)[0]
        await pilot.press("tab", "r")
        await settle(pilot)
        assert isinstance(app.screen, PickScreen)
        related = [e.id for _, e in app.screen.items]
        assert related == [h.entry.id for h in kb.related(top, limit=15)]
        await pilot.press("enter")
        assert isinstance(app.screen, ReaderScreen)
        assert app.screen.entry.id == related[0]

    drive(app, steps)


def test_browse_keys_help_and_quit_keys(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        await pilot.press("q", "question_mark")  # typed into the search box, not acted on
        assert app.search_box.value == "q?"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        shown = rendered(app, app.screen.query_one(Static).content, 80)
        for key in ("Ctrl-Q", "Enter", "Escape", "Tab", "PgUp", "/", "copy", "edit", "related", "facets"):
            assert key in shown
        await pilot.press("escape")
        await pilot.press("escape")  # clears the box
        assert app.search_box.value == "" and app.is_running
        await pilot.press("tab", "q")  # outside the box, q quits

    assert drive(app, steps) == 0
    assert not app.is_running


def test_browse_escape_on_an_empty_box_and_ctrl_q_quit(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        await pilot.press("escape")

    assert drive(app, steps) == 0
    assert not app.is_running
    reading = BrowseApp(kb, "hinge")

    async def quit_while_reading(pilot):
        await pilot.press("enter")
        assert isinstance(reading.screen, ReaderScreen)
        await pilot.press("slash")
        assert isinstance(reading.focused, Input)
        await pilot.press("ctrl+q")

    assert drive(reading, quit_while_reading) == 0
    assert not reading.is_running


def test_browse_entry_text_stays_inert(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "zebra")

    async def steps(pilot):
        shown = preview_text(app)
        assert "[bold red]this[/]" in shown  # markup shown as typed, not applied
        assert "\x1b" not in shown and "␛[31m" in shown
        row = app.hit_list.get_option_at_index(0).prompt.plain
        assert "[i]Eve[/i]" in row
        await pilot.press("enter")
        reader = app.screen.query_one("#reader").query_one(".text", Static).content.plain
        assert "[link=http://x]answer[/link]" in reader and "\x07" not in reader and "\x1b" not in reader

    drive(app, steps)


def test_browse_lays_out_below_on_narrow_terminals(kb: KnowledgeBase) -> None:
    for size, below in (((80, 24), True), ((120, 30), False)):
        app = BrowseApp(kb, "water")

        async def steps(pilot, below=below):
            hits, preview = app.hit_list.region, app.preview.region
            if below:
                assert preview.y >= hits.bottom and hits.width == preview.width
            else:
                assert preview.x >= hits.right and preview.y == hits.y
            assert hits.height >= 4 and preview.height >= 4
            # Rows fit the list: nothing wraps into a third line.
            assert all(
                len(app.hit_list.get_option_at_index(i).prompt.plain.split("\n")) == 2 for i in range(len(hit_ids(app)))
            )

        drive(app, steps, size=size)


def test_browse_drops_stale_results(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "water")

    async def steps(pilot):
        shown = hit_ids(app)
        stale = app._seq - 1
        app.show_results(stale, "hinge", ([kb.get(3)], Text("1 matches")))
        await pilot.pause()
        assert hit_ids(app) == shown

    drive(app, steps)


def test_browse_empty_store_says_how_to_ingest(tmp_path: Path) -> None:
    empty = KnowledgeBase.open(tmp_path / "empty" / "kb.json")
    app = BrowseApp(empty)

    async def steps(pilot):
        assert "kb ingest" in preview_text(app)
        assert hit_ids(app) == []
        await pilot.press(*"roses", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, ReaderScreen)
        await pilot.press("ctrl+q")

    assert drive(app, steps) == 0


def test_query_pattern_marks_what_search_looks_for() -> None:
    pattern = views.query_pattern('scans of the "bone marrow" -prostate category:oncology')
    text = views.highlight("Bone scans and scanning; marrow; prostate; oncology; the end", pattern)
    marked = [text.plain[s.start : s.end] for s in text.spans]
    assert marked == ["Bone", "scans", "scanning", "marrow"]
    assert views.query_pattern("the of and") is None


def test_browse_preview_shows_the_expert_card(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "false negative bone scan")

    async def steps(pilot):
        top = kb.get(hit_ids(app)[0])
        assert top.expert and top.expert.expertise
        shown = rendered(app, app.preview.card, 60)
        assert "Donald Higby" in shown and "Expertise" in shown

    drive(app, steps)


def test_browse_typing_goes_on_while_a_search_is_slow(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        # Holding the app's store lock makes the search of the first key take as long as we like.
        app._lock.acquire()
        try:
            await pilot.press(*"hinge")
            await pilot.pause(0.2)
            assert app.search_box.value == "hinge"  # every key was taken while the search waited
            assert app.shown_query == ""  # and no result has come yet
        finally:
            app._lock.release()
        await settle(pilot)
        await settle(pilot)
        assert app.shown_query == "hinge"
        assert hit_ids(app) == [h.entry.id for h in kb.search("hinge", limit=LIMIT)]

    drive(app, steps)


def test_browse_opening_line_says_how_many_entries_the_store_holds(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)
    total = kb.count()
    assert total > LIMIT

    async def steps(pilot):
        status = app.screen_stack[0].query_one("#status", Static).content.plain
        assert status.startswith(f"the first {LIMIT} of {total} entries"), status
        await pilot.press("ctrl+q")

    drive(app, steps)


def test_browse_n_after_find_goes_to_the_next_match(kb: KnowledgeBase) -> None:
    answer = "\n\n".join(f"Paragraph {i} about hives." for i in range(60))
    kb.add(question="Where is the needle?", answer=f"A needle here.\n\n{answer}\n\nAnd a needle there.", title="Hay")
    app = BrowseApp(kb, "needle")

    async def steps(pilot):
        await pilot.press("enter")
        await pilot.press("slash", *"needle", "enter")
        await pilot.pause()
        screen = app.screen
        status = screen.query_one("#find-status", Static)
        assert status.content.plain == "match 1 of 3"  # the question has one too
        await pilot.press("n")
        await pilot.pause()
        assert status.content.plain == "match 2 of 3"
        assert screen.query_one("#find", Input).value == "needle"  # n was not typed into the box
        await pilot.press("escape")  # closes the find box
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReaderScreen)

    drive(app, steps)


def test_browse_ctrl_c_quits_with_the_interrupt_code(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb, "hinge")

    async def steps(pilot):
        await pilot.press("ctrl+c")  # the search box has the focus, and would copy

    assert drive(app, steps) == 130


def test_entry_text_reflows_hard_wrapped_paragraphs_and_keeps_lists() -> None:
    from kb.models import Entry

    answer = (
        "Lift the hinge pin part way out, wipe it clean and add a few drops of light\n"
        "oil or a smear of petroleum jelly, then tap it back.\n\nYou need:\n- oil\n- a cloth\n"
    )
    entry = Entry(question="How do I stop a squeak?", answer=answer, title="Hinge")
    plain = views.entry_text(entry, None).plain
    assert "drops of light oil or a smear" in plain
    assert "You need:\n- oil\n- a cloth" in plain


def test_browse_a_query_with_nothing_to_search_for_yet_is_a_note_not_an_error(kb: KnowledgeBase) -> None:
    app = BrowseApp(kb)

    async def steps(pilot):
        await pilot.press('"')  # the first key of a phrase
        await settle(pilot)
        status = app.screen_stack[0].query_one("#status", Static).content.plain
        assert status == "the query is empty"
        assert hit_ids(app) == []
        await pilot.press("ctrl+q")

    drive(app, steps)
