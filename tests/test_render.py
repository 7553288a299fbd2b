"""kb.render's highlighting of search snippets: spans styled, text folded and made inert."""

from __future__ import annotations

import pytest

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


def test_reflow_joins_wrapped_prose_and_keeps_short_lines_lists_code_and_blanks() -> None:
    from kb.render import reflow

    text = (
        "Hi Susan,\n"
        "chemotherapy can change how the bone takes up the tracer that the scan\n"
        "uses, so a scan soon after a dose can look better than the bone is.\n"
        "\n"
        "Check:\n"
        "1. the date of the last dose, which matters a great deal for what the scan\n"
        "shows\n"
        "- the kind of scan\n"
        "    indented code that is long enough to be joined if it were prose text\n"
        "    second code line\n"
        "```\n"
        "fenced line that is long enough to be joined if it were prose, but is not\n"
        "next fenced line\n"
        "```\n"
        "Best regards,\n"
        "Donald"
    )
    lines = reflow(text).split("\n")
    assert lines[0] == "Hi Susan,"  # a short line ends where its writer ended it
    assert lines[1].endswith("the scan uses, so a scan soon after a dose can look better than the bone is.")
    assert lines[2] == "" and lines[3] == "Check:"
    assert lines[4].endswith("what the scan shows")  # a wrapped list item is one item again
    assert lines[5] == "- the kind of scan"
    assert lines[6:8] == [
        "    indented code that is long enough to be joined if it were prose text",
        "    second code line",
    ]
    assert lines[9:11] == [
        "fenced line that is long enough to be joined if it were prose, but is not",
        "next fenced line",
    ]
    assert lines[-2:] == ["Best regards,", "Donald"]


def test_reflow_keeps_a_markdown_hard_break() -> None:
    from kb.render import reflow

    text = "A line that the writer ended on purpose with two spaces at the end  \nand the next one."
    assert reflow(text).count("\n") == 1


def test_render_hands_on_the_emitters_and_renderers_it_imports_on_first_use() -> None:
    import kb.emit
    import kb.render
    import kb.render.reports

    assert kb.render.emit_json is kb.emit.emit_json
    assert kb.render.ingest_summary is kb.render.reports.ingest_summary
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = kb.render.no_such_name  # type: ignore[attr-defined]
