"""The floor of `kb browse`: a Textual app with its widgets and nothing behind them.

The same layout as kb's (a prompt and search box, a list beside a preview, a status line
and the footer), whose status line says what kb's says once its first results are listed.
``bench/browse.py`` times both to that line on a pseudo-terminal, in turns.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Input, OptionList, Static


class Bare(App[int]):
    CSS = """
    #bar { height: 1; }
    #query { border: none; height: 1; padding: 0 1; width: 1fr; }
    #body { height: 1fr; }
    #hits { width: 45%; height: 100%; border: none; }
    #status { height: 1; padding: 0 1; }
    """
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Static("kb ›")
            yield Input(placeholder="type a question or keywords", id="query")
        with Horizontal(id="body"):
            yield OptionList(id="hits")
            yield Static("", id="preview")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#query").focus()
        self.query_one("#status", Static).update("20 entries by id; type to search")


if __name__ == "__main__":
    Bare().run()
