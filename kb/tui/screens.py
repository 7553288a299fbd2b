"""The screens `kb browse` opens over its search screen: the reader, a pick list, the keys.

The reader shows one entry full screen (scroll, `/` to find in it); the pick list serves
the related entries and the facets; the help screen lists every key. Entry text reaches
widgets only as Rich ``Text`` built by kb.tui.views, never as markup.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from kb.render import clean
from kb.tui import views

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from kb.models import Entry


class EntryView(VerticalScroll):
    """An entry's question, answer and expert card, scrollable; used by the preview and the reader."""

    DEFAULT_CSS = """
    EntryView { padding: 0 1; }
    EntryView > .card { margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text(""), classes="text")
        yield Static(Text(""), classes="card")

    def show(
        self,
        entry: Entry | None,
        pattern: re.Pattern[str] | None,
        *,
        find: re.Pattern[str] | None = None,
        keep_scroll: bool = False,
    ) -> None:
        """Show an entry (or nothing)."""
        text, card = self.query_one(".text", Static), self.query_one(".card", Static)
        if entry is None:
            text.update(Text(""))
            card.update(Text(""))
        else:
            text.update(views.entry_text(entry, pattern, find=find))
            card.update(views.expert_view(entry))
        if not keep_scroll:
            self.scroll_home(animate=False)

    def line_of(self, offset: int) -> int:
        """Return the screen line (within this view) where character ``offset`` of the text lands."""
        static = self.query_one(".text", Static)
        width = max(static.content_region.width or self.size.width - 2, 10)
        content = static.content
        plain = content.plain if isinstance(content, Text) else ""
        if not plain:
            return 0
        # The lines before the match wrap the same way with or without what follows it.
        return len(Text(plain[:offset] + "x").wrap(self.app.console, width)) - 1


class ReaderScreen(Screen):
    """One entry, full screen: PgUp/PgDn, Home/End scroll; `/` finds text; Escape goes back."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "find", "Find"),
        Binding("n", "find_next", "Next match", show=False),
        Binding("c", "app.copy", "Copy answer"),
        Binding("e", "app.edit", "Edit"),
        Binding("r", "app.related", "Related"),
        Binding("question_mark", "app.help", "Keys", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]
    DEFAULT_CSS = """
    ReaderScreen #reader { height: 1fr; }
    ReaderScreen #find { display: none; height: 1; border: none; padding: 0 1; }
    ReaderScreen #find.-shown { display: block; }
    ReaderScreen #find-status { height: 1; padding: 0 1; }
    """

    def __init__(self, entry: Entry, pattern: re.Pattern[str] | None) -> None:
        super().__init__()
        self.entry = entry
        self.pattern = pattern
        self.find: re.Pattern[str] | None = None
        self._match = -1

    def compose(self) -> ComposeResult:
        yield EntryView(id="reader")
        yield Input(placeholder="find in this entry (Enter: find, then n: next; Escape: close)", id="find")
        yield Static(Text(""), id="find-status")
        yield Footer()

    def on_mount(self) -> None:
        self.view.show(self.entry, self.pattern)
        self.view.focus()

    @property
    def view(self) -> EntryView:
        return self.query_one("#reader", EntryView)

    def current_entry(self) -> Entry:
        return self.entry

    def replace_entry(self, entry: Entry) -> None:
        self.entry = entry
        self.view.show(entry, self.pattern, find=self.find)

    def action_back(self) -> None:
        box = self.query_one("#find", Input)
        if box.has_class("-shown"):
            box.remove_class("-shown")
            self.view.focus()
            return
        self.dismiss()

    def action_find(self) -> None:
        box = self.query_one("#find", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.find = views.find_pattern(event.value)
        self._match = -1
        self.view.show(self.entry, self.pattern, find=self.find, keep_scroll=True)
        self._step()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter ends typing the find text (its first match is shown as it is typed): the
        keys go back to the entry, so `n` finds the next match (it would otherwise be
        typed into the box) and `/` edits the text."""
        event.stop()
        self.view.focus()

    def action_find_next(self) -> None:
        self._step()

    def _step(self) -> None:
        """Scroll to the next match of the find text, wrapping around; say where we are."""
        status = self.query_one("#find-status", Static)
        if self.find is None:
            status.update(Text(""))
            return
        plain = views.entry_text(self.entry, None).plain
        starts = [m.start() for m in self.find.finditer(plain)]
        if not starts:
            status.update(Text("not found: " + clean(self.query_one("#find", Input).value), style="bold"))
            return
        self._match = (self._match + 1) % len(starts)
        line = self.view.line_of(starts[self._match])
        self.view.scroll_to(y=max(0, line - 2), animate=False)
        status.update(Text(f"match {self._match + 1} of {len(starts)}"))


class PickScreen(ModalScreen[Any]):
    """A list to choose one item from (related entries, facets); Escape closes it."""

    BINDINGS = [Binding("escape", "close", "Close")]
    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen > Vertical { width: 90%; height: 85%; border: round $accent; background: $surface; }
    PickScreen .title { height: auto; padding: 0 1; }
    PickScreen OptionList { height: 1fr; border: none; }
    """

    def __init__(self, title: Text, items: list[tuple[Text, Any]]) -> None:
        super().__init__()
        self.title_text = title
        # (prompt, value) pairs; a value of None makes a heading that cannot be chosen.
        self.items = items

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            options = [
                Option(prompt, id=str(i), disabled=value is None) for i, (prompt, value) in enumerate(self.items)
            ]
            yield OptionList(*options, id="picks")

    def on_mount(self) -> None:
        picks = self.query_one("#picks", OptionList)
        picks.focus()
        first = next((i for i, (_, value) in enumerate(self.items) if value is not None), None)
        picks.highlighted = first

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.items[int(event.option.id or 0)][1])

    def action_close(self) -> None:
        self.dismiss(None)


KEYS = (
    (
        "Anywhere",
        (
            ("Ctrl-Q", "quit"),
            ("Ctrl-C", "quit, as an interrupted command (exit code 130)"),
            ("Tab, Shift-Tab", "move the focus between the search box and the hit list"),
            ("F1", "this list of keys (also ? outside the search box)"),
        ),
    ),
    (
        "Search box",
        (
            ("typing", 'search as you type (same syntax as kb search: "phrase", -word, category:, expert:, tag:)'),
            ("Up/Down, PgUp/PgDn", "move in the hit list"),
            ("Enter", "open the selected hit (the first until you move)"),
            ("Escape", "clear the search box; quit when it is empty"),
            ("Ctrl-F", "facets: filter by a category or an expert"),
            ("Ctrl-O", "open questions (waiting for an answer), oldest first; again: every entry"),
        ),
    ),
    (
        "Hit list and preview",
        (
            ("Enter", "open the selected hit full screen"),
            ("c", "copy the answer to the clipboard (OSC 52)"),
            ("e", "edit the entry in $VISUAL / $EDITOR, as kb edit does"),
            ("r", "related entries"),
            ("f", "facets: categories and experts with counts; pick one to filter"),
            ("o", "open questions, oldest first, with how long each has waited; again: every entry"),
            ("a", "answer the open question in $VISUAL / $EDITOR, as kb answer does"),
            ("Escape", "back to the search box"),
            ("q", "quit"),
        ),
    ),
    (
        "Reading an entry",
        (
            ("PgUp/PgDn, Home/End", "scroll (Up/Down too)"),
            ("/", "find in the entry; Enter, then n: next match (/ again: change the text)"),
            ("c, e, r, a", "copy, edit, related, answer, as above"),
            ("Escape", "close the find box, then go back to the list"),
        ),
    ),
)


def keys_table() -> Table:
    """Every key of `kb browse`, grouped by where it works, in two columns that wrap to fit."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for section, rows in KEYS:
        table.add_row(Text(section, style="bold underline"), Text(""))
        for key, what in rows:
            table.add_row(Text("  " + key), Text(what))
        table.add_row(Text(""), Text(""))
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, grouped by where it works."""

    BINDINGS = [
        Binding("escape,question_mark,q,f1", "close", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 95%; height: 90%; border: round $accent; background: $surface;
                                   padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(keys_table())
            yield Static(Text("Escape, ? or q closes this list.", style="italic"))

    def action_close(self) -> None:
        self.dismiss(None)
