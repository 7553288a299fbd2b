"""kb.render's highlighting of search snippets: spans styled, text folded and made inert."""

from __future__ import annotations

from kb.render import highlighted


def test_highlighted_styles_the_spans_and_folds_white_space() -> None:
    text = highlighted("a  bone\n\nscan here", [(3, 7), (9, 13)], style="bold")
    assert text.plain == "a bone scan here"
    styled = [text.plain[span.start : span.end] for span in text.spans if span.style == "bold"]
    assert styled == ["bone", "scan"]


def test_highlighted_makes_escape_sequences_visible() -> None:
    text = highlighted("\x1b[31mred\x1b[0m alert", [(13, 18)])
    assert "\x1b" not in text.plain and "␛[31mred" in text.plain
    assert text.plain.endswith("alert")
