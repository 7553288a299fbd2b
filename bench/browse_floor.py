"""The floor of `kb browse`: a Textual app with its widgets and its first screen, and nothing behind them.

The same layout, CSS, keys and first screen as kb's (a prompt and search box; a list of
20 two-line rows beside a preview of the first; the status line; the footer with the same
keys; no command palette), drawn from text made up here rather than read from a store.
``bench/browse.py`` times both to the status line on a pseudo-terminal, in turns; what kb
takes beyond this is what it pays for kb: its imports, the store, the first page's read.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Input, OptionList, Static

ROWS = 20
WORDS = "what are the symptoms and treatments of this condition in adults and in children".split()


def row(n: int) -> Text:
    """A hit row as kb draws one: the title (bold), then category · source and the question (dim)."""
    title = Text(f"Condition number {n} with a title longer than the list is wide", style="bold")
    second = Text("Category · Source", style="italic").append("  ")
    second.append(" ".join(WORDS[n % 5 :] + WORDS[: n % 5]) + "?", style="dim")
    return Text("\n").join([title, second])


def preview() -> Text:
    """The first row's entry as kb previews it: header, facts, question and the answer's start."""
    out = Text("#1  ", style="bold").append(
        "Condition number 0 with a title longer than the list is wide", style="bold"
    )
    out.append("\nCategory  ·  answered by Source", style="italic")
    out.append("\n\nQuestion\n", style="bold underline").append(" ".join(WORDS) + "?")
    out.append("\n\nAnswer\n", style="bold underline").append(" ".join(WORDS * 20)[:1500])
    return out


class Box(Input):
    # kb's search box keys, shown in the footer as kb shows them.
    BINDINGS = [
        Binding("enter", "app.bell", "Open"),
        Binding("escape", "app.bell", "Clear/quit"),
        Binding("ctrl+f", "app.bell", "Facets"),
        Binding("ctrl+o", "app.bell", "Open questions"),
    ]


class Bare(App[int]):
    TITLE = "kb browse"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "bell", "Keys"),
        Binding("f", "bell", "Facets"),
        Binding("c", "bell", "Copy"),
        Binding("e", "bell", "Edit"),
        Binding("r", "bell", "Related"),
        Binding("o", "bell", "Open questions"),
        Binding("a", "bell", "Answer"),
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
    #preview { width: 1fr; height: 100%; padding: 0 1; overflow: hidden; }
    Screen.-narrow #body { layout: vertical; }
    Screen.-narrow #hits { width: 100%; height: 45%; border-right: none; border-bottom: solid $primary-darken-2; }
    Screen.-narrow #preview { width: 100%; height: 1fr; }
    #status { height: 1; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Static(Text("kb ›"), id="prompt")
            yield Box(placeholder="type a question or keywords", id="query")
        with Horizontal(id="body"):
            yield OptionList(id="hits")
            yield Static(Text(""), id="preview")
        yield Static(Text(""), id="status")
        yield Footer()

    def on_mount(self) -> None:
        # As kb does: the breakpoint's class on the first screen, not after it.
        wide = self.size.width >= 100
        self.screen.set_class(wide, "-wide").set_class(not wide, "-narrow")
        self.query_one("#query").focus()
        hits = self.query_one("#hits", OptionList)
        hits.set_options([row(n) for n in range(ROWS)])
        hits.highlighted = 0
        self.query_one("#preview", Static).update(preview(), layout=False)
        status = Text(f"the first {ROWS} of 16,375 entries by id; type to search")
        self.query_one("#status", Static).update(status, layout=False)


if __name__ == "__main__":
    Bare().run()
