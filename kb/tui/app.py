"""The `kb browse` app: a search box, the hits as you type, and the selected entry beside them.

Every read and write goes through kb.api.KnowledgeBase. Searches run on a worker thread
(one at a time, under a lock: the index's SQLite connection is shared); a result that
arrives after a newer keystroke is dropped and the newest query runs instead, so a slow
query never holds typing up.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from kb.backend import Request
from kb.errors import KbError, QueryError
from kb.render import clean
from kb.tui import views
from kb.tui.preview import Preview

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from kb.api import KnowledgeBase
    from kb.models import Entry

# How many hits the list holds: a page of `kb search`'s ranking, two screenfuls of the
# list. Each row costs the redraw that follows a keystroke ~0.3 ms (40 rows: ~12 ms).
LIMIT = 20
# The preview shows the start of long questions and answers (the reader shows them whole):
# wrapping a 20 kB answer on every keystroke would cost more than the search.
PREVIEW_CHARS = 1500
# From this many columns the preview is beside the list; below, under it.
WIDE = 100


class SearchBox(Input):
    """The query line; arrows and page keys move in the hit list without leaving it."""

    BINDINGS = [
        Binding("down", "app.move(1)", show=False),
        Binding("up", "app.move(-1)", show=False),
        Binding("pagedown", "app.move(8)", show=False),
        Binding("pageup", "app.move(-8)", show=False),
        Binding("enter", "submit", "Open"),
        Binding("escape", "app.clear_or_quit", "Clear/quit"),
        Binding("ctrl+f", "app.facets", "Facets"),
        Binding("ctrl+o", "app.open_questions", "Open questions"),
    ]


class HitList(OptionList):
    """The hits, two lines each, cut to the list's width by its CSS (``text-overflow``).

    The rows do not depend on the width, so the first page, read before the first layout,
    is drawn once, on the first screen, and a new width (a resized terminal) redraws no row.
    """

    BINDINGS = [Binding("escape", "app.focus_search", "Search", show=False)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: list[Entry] = []
        self.pattern: re.Pattern[str] | None = None

    def show(self, entries: list[Entry], pattern: re.Pattern[str] | None) -> None:
        self.entries, self.pattern = entries, pattern
        self.set_options([Option(views.hit_row(e, pattern), id=str(e.id)) for e in entries])
        self.highlighted = 0 if entries else None

    def selected_entry(self) -> Entry | None:
        index = self.highlighted
        if index is None or not self.entries:
            return None
        return self.entries[min(index, len(self.entries) - 1)]


class BrowseApp(App[int]):
    """Search a knowledge base as you type and read the answers, with the keyboard alone."""

    TITLE = "kb browse"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        # Ctrl-C ends kb browse as it ends every kb command (exit 130), rather than being
        # taken by the search box as "copy" and doing nothing visible.
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
        Binding("f1", "help", "Keys"),
        Binding("question_mark", "help", "Keys", show=False),
        Binding("f", "facets", "Facets"),
        Binding("c", "copy", "Copy"),
        Binding("e", "edit", "Edit"),
        Binding("r", "related", "Related"),
        Binding("o", "open_questions", "Open questions"),
        Binding("a", "answer", "Answer"),
        Binding("q", "quit", "Quit", show=False),
    ]
    CSS = """
    #bar { height: 1; }
    #prompt { width: auto; padding: 0 1; text-style: bold; }
    #query { border: none; height: 1; padding: 0 1; width: 1fr; }
    #body { height: 1fr; }
    #hits {
        width: 45%; height: 100%; border: none; border-right: solid $primary-darken-2;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    #preview { width: 1fr; height: 100%; }
    Screen.-narrow #body { layout: vertical; }
    Screen.-narrow #hits { width: 100%; height: 45%; border-right: none; border-bottom: solid $primary-darken-2; }
    Screen.-narrow #preview { width: 100%; height: 1fr; }
    #status { height: 1; padding: 0 1; }
    """

    def __init__(
        self, kb: KnowledgeBase, query: str = "", *, empty: bool | None = None, include_open: bool = False
    ) -> None:
        super().__init__()
        self.kb = kb
        # Open questions (waiting for an answer) are left out, as kb search leaves them,
        # unless asked for (kb browse --open); the open-questions view (o) shows only them.
        self.include_open = include_open
        self.open_view = False
        # A reader would otherwise print a notice on stderr, over the screen.
        kb.hooks.on_stale = self._index_in_use
        kb.hooks.on_rebuild = None
        self.initial_query = query
        self.empty = empty
        self.category: str | None = None
        self.expert: str | None = None
        self.pattern: re.Pattern[str] | None = None
        self.shown_query: str | None = None  # the query whose results the list shows
        self._seq = 0
        self._lock = threading.Lock()
        self._searching = False
        self._wanted: tuple[str, str | None, str | None, int] = ("", None, None, 0)
        self._open_when_shown = False
        self._stale = False

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Static(Text("kb ›"), id="prompt")
            yield SearchBox(value=self.initial_query, placeholder="type a question or keywords", id="query")
        with Horizontal(id="body"):
            yield HitList(id="hits")
            yield Preview(id="preview", limit=PREVIEW_CHARS)
        yield Static(Text(""), id="status")
        yield Footer()

    def on_mount(self) -> None:
        # Textual sets the breakpoint's class after the first layout, so a narrow terminal
        # was painted the wide layout first, then the narrow one; the first screen has it now.
        wide = self.size.width >= WIDE
        self.screen.set_class(wide, "-wide").set_class(not wide, "-narrow")
        self.search_box.focus()
        if self.empty is None:
            self.empty = self.kb.count() == 0
        if self.empty:
            self.preview.show_message(views.empty_store_text(self.kb.location))
            self.status(Text("no entries yet", style="bold"))
            return
        if self.initial_query.strip():
            self.search(self.initial_query)
            return
        # The first page by id is a quick indexed read: taken here, before the first layout,
        # it is on the first screen kb browse paints. From the worker, an empty list and
        # status were painted first, then again with the rows (three paints, a visible flash).
        # A query given on the command line is searched on the worker, as typed ones are.
        self._seq += 1
        with self._lock:
            first_page = self._answer(self.initial_query, self.category, self.expert)
        self.show_results(self._seq, self.initial_query, first_page)

    @property
    def search_box(self) -> SearchBox:
        return self.query_one("#query", SearchBox)

    @property
    def hit_list(self) -> HitList:
        return self.query_one("#hits", HitList)

    @property
    def preview(self) -> Preview:
        return self.query_one("#preview", Preview)

    def status(self, text: Text) -> None:
        self.screen_stack[0].query_one("#status", Static).update(text, layout=False)

    def _index_in_use(self) -> None:
        self._stale = True

    # -- searching ----------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "query" and not self.empty:
            self.search(event.value)

    def search(self, query: str) -> None:
        """Ask for the hits of ``query`` (with the facet filter); they come from the worker thread.

        Keystrokes are debounced by coalescing, not by a timer (whose delay every keystroke
        would pay): the first search starts at once, and keys typed while one runs only
        record the newest query, which starts as soon as the running one ends.
        """
        self._seq += 1
        self._wanted = (query, self.category, self.expert, self._seq)
        if not self._searching:
            self._searching = True
            self._run_search(*self._wanted)

    @work(exclusive=True, thread=True, group="search")
    def _run_search(self, query: str, category: str | None, expert: str | None, seq: int) -> None:
        result: Any = None
        with self._lock:
            if seq == self._seq:  # else a newer query is waiting: skip this one
                result = self._answer(query, category, expert)
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.show_results, seq, query, result)

    def _answer(self, query: str, category: str | None, expert: str | None) -> Any:
        """What ``_query`` gives, or the KbError that stopped it (show_results shows either)."""
        try:
            return self._query(query, category, expert)
        except KbError as exc:
            return exc

    def _query(self, query: str, category: str | None, expert: str | None) -> tuple[list[Entry], Text]:
        """Run one search the way `kb search` ranks it; an empty query lists entries by id
        (the open questions oldest first, in their view)."""
        status = "open" if self.open_view else None if self.include_open else "answered"
        request = Request(category, expert, limit=LIMIT, status=status)
        if not query.strip():
            if self.open_view:
                return waiting_list(self.kb, category, expert)
            entries = self.kb.list(request)
            return entries, Text(opening_note(len(entries), self.kb.count(request)))
        try:
            result = self.kb.search(query, request)
        except QueryError as exc:  # '"' as the first key of a phrase: not yet words to search for
            return [], Text(clean(exc.message), style="bold")
        entries = [hit.entry for hit in result]
        if entries:
            total = result.total if result.total is not None else len(entries)
            note = Text(f"{len(entries)} of {total} matches" if total > len(entries) else f"{total} matches")
        else:
            note = Text(clean(result.reason or "nothing matched"), style="bold")
        if result.suggestions:
            note.append("  did you mean: " + clean(", ".join(result.suggestions)), style="italic")
        return entries, note

    def show_results(self, seq: int, query: str, result: Any) -> None:
        """Put a search's hits on screen; if a newer query came meanwhile, drop them and run it."""
        self._searching = False
        if seq != self._seq:
            self._searching = True
            self._run_search(*self._wanted)
            return
        if isinstance(result, KbError):
            self.status(Text("Error: " + clean(result.message), style="bold"))
            return
        entries, note = result
        self.pattern = views.query_pattern(query)
        self.shown_query = query
        self.hit_list.show(entries, self.pattern)
        self._show_preview()
        filters = [
            f"{kind}: {value}" for kind, value in (("category", self.category), ("expert", self.expert)) if value
        ]
        if filters:
            note.append("   filter " + clean(", ".join(filters)) + " (f: change)", style="italic")
        if self.open_view:
            note.append("   open questions (o: every entry, a: answer)", style="italic")
        if self._stale:
            note.append("   another kb process is writing: results may miss its newest entries", style="italic")
        self.status(note)
        if self._open_when_shown:
            self._open_when_shown = False
            self.action_open()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "hits":
            self._show_preview()

    def _show_preview(self) -> None:
        self.preview.show(self.hit_list.selected_entry(), self.pattern)

    # -- moving and opening -------------------------------------------------------------

    def action_move(self, step: int) -> None:
        hits = self.hit_list
        if not hits.entries:
            return
        index = hits.highlighted or 0
        hits.highlighted = max(0, min(len(hits.entries) - 1, index + step))

    def action_interrupt(self) -> None:
        self.exit(return_code=130)

    def action_focus_search(self) -> None:
        self.search_box.focus()

    def action_clear_or_quit(self) -> None:
        if self.search_box.value:
            self.search_box.value = ""
        else:
            self.exit(0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "query" or self.empty:
            return
        if self.shown_query != event.value or self._searching:
            # Enter came before the results of what was typed: open their first when they come.
            self._open_when_shown = True
            return
        self.action_open()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "hits":
            self.action_open()

    def action_open(self) -> None:
        entry = self.hit_list.selected_entry()
        if entry is None:
            self.notify("nothing to open: no hit is selected", severity="warning", markup=False)
            return
        self.open_entry(entry)

    def open_entry(self, entry: Entry | None) -> None:
        if entry is not None:
            self.push_screen(_screens().ReaderScreen(entry, self.pattern))

    def current_entry(self) -> Entry | None:
        """The entry the keys act on: the one being read, else the selected hit."""
        screen = self.screen
        if isinstance(screen, _screens().ReaderScreen):
            return screen.current_entry()
        return self.hit_list.selected_entry()

    # -- keys that act on the current entry ---------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the pick and help screens (kb's modal ones) the letters are not for the entry
        # behind them. Asked for every binding as the footer is drawn, so it does not
        # import kb.tui.screens, which the first screen does without.
        if action in ("copy", "edit", "related", "facets", "answer", "open_questions") and isinstance(
            self.screen, ModalScreen
        ):
            return False
        return True

    def action_help(self) -> None:
        screens = _screens()
        if not isinstance(self.screen, screens.HelpScreen):
            self.push_screen(screens.HelpScreen())

    def action_copy(self) -> None:
        entry = self.current_entry()
        if entry is None:
            self.notify("nothing to copy: no entry is selected", severity="warning", markup=False)
            return
        blocker = clipboard_blocker(os.environ)
        if blocker:
            self.notify(f"cannot copy: {blocker}", severity="warning", markup=False, timeout=6)
            return
        self.copy_to_clipboard(clean(entry.answer))
        self.notify(f"answer of #{entry.id} copied to the clipboard (OSC 52)", markup=False)

    def action_related(self) -> None:
        entry = self.current_entry()
        if entry is None or entry.id is None or self.empty:
            return
        ref = entry.id
        self._read(
            lambda: [h.entry for h in self.kb.related(ref, limit=15)],
            lambda related: self._show_related(entry, related),
        )

    @work(thread=True, group="reads")
    def _read(self, read: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Read from the knowledge base off the UI thread, then hand the result to ``then``."""
        with self._lock:
            try:
                value = read()
            except KbError as exc:
                self.call_from_thread(self.notify, clean(exc.message), severity="error", markup=False)
                return
        self.call_from_thread(then, value)

    def _show_related(self, entry: Entry, related: list[Entry]) -> None:
        if not related:
            self.notify(f"no entry is related to #{entry.id}", markup=False)
            return
        title = Text("Related to ", style="bold").append(clean(entry.display_title()))
        title.append("   Enter: open, Escape: close", style="italic")
        width = max(self.size.width * 9 // 10 - 4, 20)
        items: list[tuple[Text, Any]] = [(views.hit_row(e, None, width), e) for e in related]
        self.push_screen(_screens().PickScreen(title, items), self.open_entry)

    def action_facets(self) -> None:
        if not self.empty:
            self._read(
                lambda: (self.kb.categories(), [(e.name, e.count) for e in self.kb.experts()]),
                lambda facets: self._show_facets(*facets),
            )

    def _show_facets(self, categories: list[tuple[str, int]], experts: list[tuple[str, int]]) -> None:
        items: list[tuple[Text, Any]] = [(Text("All entries (no filter)", style="bold"), ("", ""))]
        for heading, kind, rows in (("Categories", "category", categories), ("Experts", "expert", experts)):
            if rows:
                items.append((Text(f"{heading} ({len(rows)})", style="bold underline"), None))
                items += [(Text(f"{n:>7}  ").append(clean(name)), (kind, name)) for name, n in rows]
        title = Text("Filter by a category or an expert", style="bold")
        title.append("   Enter: apply, Escape: close", style="italic")
        if isinstance(self.screen, _screens().ReaderScreen):
            self.pop_screen()
        self.push_screen(_screens().PickScreen(title, items), self._apply_facet)

    def _apply_facet(self, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        kind, name = choice
        self.category = name if kind == "category" else None
        self.expert = name if kind == "expert" else None
        self.search(self.search_box.value)
        self.search_box.focus()

    def action_edit(self) -> None:
        """Edit the entry as `kb edit` does: the app steps aside while the editor runs."""
        entry = self.current_entry()
        if entry is None or entry.id is None:
            return
        from textual.app import SuspendNotSupported

        from kb.cli.editor import edit_entry

        try:
            with self._lock, self.suspend():
                changed, updated = edit_entry(self.kb, entry.id, reopen=_ask_reopen)
        except SuspendNotSupported:
            self.notify(
                "cannot edit here: this terminal cannot hand over to an editor", severity="warning", markup=False
            )
            return
        except KbError as exc:
            self.notify(clean(exc.message), title="not saved", severity="error", markup=False, timeout=8)
            return
        if not changed:
            self.notify(f"#{entry.id}: no changes", markup=False)
            return
        self.notify(f"#{updated.id} saved", markup=False)
        for screen in self.screen_stack:
            if isinstance(screen, _screens().ReaderScreen) and screen.entry.id == updated.id:
                screen.replace_entry(updated)
        self.search(self.search_box.value)

    def action_open_questions(self) -> None:
        """Switch between every entry and the open questions (oldest first, with their wait)."""
        if self.empty:
            return
        if isinstance(self.screen, _screens().ReaderScreen):
            self.pop_screen()
        self.open_view = not self.open_view
        self.search(self.search_box.value)

    def action_answer(self) -> None:
        """Answer the open question in the editor, as `kb answer ID` does: the app steps aside."""
        entry = self.current_entry()
        if entry is None or entry.id is None:
            return
        if not entry.is_open:
            self.notify(f"#{entry.id} is answered already (e edits it)", markup=False)
            return
        from textual.app import SuspendNotSupported

        from kb.cli.asking import write_answer

        try:
            with self._lock, self.suspend():
                stored = self.kb.answer(entry.id, write_answer(entry))
        except SuspendNotSupported:
            self.notify("cannot answer here: this terminal cannot hand over to an editor", severity="warning")
            return
        except KbError as exc:
            message = clean(exc.message + (f" ({exc.hint})" if exc.hint else ""))
            self.notify(message, title="not saved", severity="error", markup=False, timeout=12)
            return
        self.notify(f"#{stored.id} answered: kb search finds it now", markup=False)
        for screen in self.screen_stack:
            if isinstance(screen, _screens().ReaderScreen) and screen.entry.id == stored.id:
                screen.replace_entry(stored)
        self.search(self.search_box.value)


def waiting_list(kb: KnowledgeBase, category: str | None, expert: str | None) -> tuple[list[Entry], Text]:
    """The open questions oldest first (with the facet filter), and the status line over them."""
    questions = [w.entry for w in kb.inbox().questions]
    if category or expert:
        kept = {e.id for e in kb.list(category=category, expert=expert, status="open", limit=None)}
        questions = [q for q in questions if q.id in kept]
    if not questions:
        return [], Text("no open questions: every question has its answer", style="bold")
    shown = questions[:LIMIT]
    noun = "open question" if len(questions) == 1 else "open questions"
    return shown, Text(f"{len(questions):,} {noun}, oldest first")


def _screens() -> ModuleType:
    """kb.tui.screens, imported when a screen first opens over the search screen."""
    from kb.tui import screens

    return screens


def _ask_reopen(error: KbError) -> bool:
    """While the app is suspended: say why the edited text was refused, offer to reopen it."""
    from kb import render

    render.error(error.message, error.hint)
    try:
        answer = input("reopen the editor? [Y/n] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("", "y", "yes")


# Terminals known to ignore OSC 52 (Textual notes macOS Terminal; the Linux console and
# `dumb` have no clipboard at all).
_NO_OSC52_TERMS = ("linux", "dumb")


def clipboard_blocker(env: os._Environ[str] | dict[str, str]) -> str | None:
    """Say why a copy by OSC 52 would not reach the clipboard here, or None when it should."""
    if env.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores OSC 52; try iTerm2, kitty, WezTerm or Alacritty"
    if env.get("TERM", "") in _NO_OSC52_TERMS:
        return f"this terminal (TERM={env.get('TERM')}) has no OSC 52 clipboard"
    if env.get("TMUX") and shutil.which("tmux"):
        try:
            setting = subprocess.run(
                ["tmux", "show-options", "-gv", "set-clipboard"], capture_output=True, text=True, timeout=1
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            setting = ""
        if setting == "off" or setting == "external":
            return "tmux drops OSC 52 from programs (set -g set-clipboard on)"
    return None


def opening_note(shown: int, total: int) -> str:
    """The status line over the entries listed before anything is typed: how many of how many."""
    if total > shown:
        return f"the first {shown:,} of {total:,} entries by id; type to search"
    return f"{total:,} {'entry' if total == 1 else 'entries'} by id; type to search"
