"""The preview beside the hit list of `kb browse`: the selected entry, not scrollable.

Apart from kb.tui.screens, which kb.tui.app imports only when a screen opens over the
search screen: the first screen of `kb browse` needs only this widget of kb's own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from kb.tui import views

if TYPE_CHECKING:
    from kb.models import Entry


class Preview(Static):
    """The selected hit beside the list: the start of its question and answer, and the card.

    Not scrollable (the reader is): its size never depends on the entry, so a new entry on
    every keystroke is only a repaint, not a new layout of the screen.
    """

    DEFAULT_CSS = """
    Preview { padding: 0 1; overflow: hidden; }
    """

    def __init__(self, *, limit: int, **kwargs: Any) -> None:
        super().__init__(Text(""), **kwargs)
        self.limit = limit
        self.text = Text("")
        self.card: Any = Text("")

    def show(self, entry: Entry | None, pattern: re.Pattern[str] | None) -> None:
        if entry is None:
            self.show_message(Text(""))
            return
        self.text = views.entry_text(entry, pattern, limit=self.limit)
        self.card = views.expert_view(entry)
        self.update(Group(self.text, Text(""), self.card), layout=False)

    def show_message(self, message: Text) -> None:
        self.text, self.card = message, Text("")
        self.update(message, layout=False)
