"""FAQ pages without schema.org markup: details, definition lists, headings, accordions, CMS blocks."""

from __future__ import annotations

from pathlib import Path

from kb.parsers import html

FIXTURES = Path(__file__).parent / "fixtures" / "html"


def _page(body: str, title: str = "Help") -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><main>{body}</main></body></html>"


def test_html_faq_shapes_without_markup_each_give_their_entries():
    entries = html.parse((FIXTURES / "faq_shapes.html").read_text(encoding="utf-8"), "help.html")
    got = [(e.question, e.answer, e.category) for e in entries]
    assert got == [
        (
            "Can I change my order after paying?",
            "Yes, within two hours. Open My orders and choose Edit.\n\n"
            "After that the order is packed and can only be returned.",
            "Orders",
        ),
        ("Do you ship abroad?", "- EU: 3-5 days\n- UK: 5-7 days", "Orders"),
        ("How long does a repair take?", "Most repairs are done in a day.", "Repairs"),
        ("Do I need an appointment?", "No.\n\nWalk in any weekday.", "Repairs"),
        (
            "What does a service include?",
            "Gears and brakes adjusted, chain cleaned.\n\n```\nBasic: 40 EUR\nFull:  90 EUR\n```",
            "Repairs",
        ),
        ("Is the warranty kept after a service?", "Yes: servicing by us keeps it.", "Repairs"),
        ("Which cards do you take?", "Visa and Mastercard.", "Payments"),
        ("Can I pay in instalments?", "Yes, in three.\n\nNo fees.", "Payments"),
        ("Do you sell gift cards?", "Yes, from 10 EUR.", "Payments"),
        ("Where is the shop?", "Harbour Street 4.", "Payments"),
    ]
    for entry in entries:
        assert entry.title == ""
        assert entry.expert is None
        assert entry.tags == []
        assert entry.source.format == "html"
        assert entry.source.path == "help.html"
        assert entry.source.key is not None and entry.source.key.startswith("q:")
    assert len({e.source.key for e in entries}) == len(entries)
    # Navigation, cookie banner, ads, sidebar, comments and footer stay out of every entry.
    text = repr([e.to_dict() for e in entries])
    for furniture in ("cookies", "Advertisement", "Sidebar", "Comment by", "Call us", "Is there a FAQ", "not markup"):
        assert furniture not in text


def test_html_faq_a_toggle_that_does_not_ask_is_no_question_outside_a_faq():
    page = _page(
        "<h2>Our story</h2><p>We began in 1999.</p>"
        "<details><summary>Show the timeline</summary><p>1999: first shop.</p></details>"
        "<h2>Why ride?</h2><p>It is good for you.</p>",
        title="About us",
    )
    [entry] = html.parse(page, "about.html")
    assert (entry.question, entry.answer, entry.category) == ("Why ride?", "It is good for you.", "")


def test_html_faq_page_takes_questions_that_do_not_ask():
    page = _page(
        "<h1>FAQ</h1><dl><dt>Opening hours</dt><dd>9 to 5.</dd><dt>Parking</dt><dd>Behind the shop.</dd></dl>",
        title="Shop",
    )
    entries = html.parse(page, "faq.html")
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("Opening hours", "9 to 5.", ""),
        ("Parking", "Behind the shop.", ""),
    ]


def test_html_faq_heading_answer_keeps_sub_headings_and_stops_at_the_next_question():
    page = _page(
        "<h2>Setup</h2>"
        "<h3>How do I pair the lamp?</h3><p>Hold the button.</p><h4>If it blinks red</h4><p>Reset it.</p>"
        "<h3>Q: Can I dim it?</h3><p>A: Yes, from the app.</p>"
    )
    entries = html.parse(page, "lamp.html")
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("How do I pair the lamp?", "Hold the button.\n\nIf it blinks red\n\nReset it.", "Setup"),
        ("Can I dim it?", "Yes, from the app.", "Setup"),
    ]


def test_html_faq_heading_alone_in_its_wrapper_answers_with_what_follows():
    page = _page(
        '<div class="q"><h3>Is it waterproof?</h3></div><div class="a"><p>Up to 1 m.</p></div>'
        '<div class="q"><h3>Is it loud?</h3></div><div class="a"><p>No.</p></div>'
    )
    entries = html.parse(page, "w.html")
    assert [(e.question, e.answer) for e in entries] == [("Is it waterproof?", "Up to 1 m."), ("Is it loud?", "No.")]


def test_html_faq_same_question_twice_is_read_once():
    page = _page("<h3>Why?</h3><p>Because.</p><h3>Why?</h3><p>Again.</p>")
    [entry] = html.parse(page, "twice.html")
    assert (entry.question, entry.answer) == ("Why?", "Because.")


def test_html_faq_accordion_without_named_panel_answers_with_what_follows_and_hides_its_icon():
    page = _page(
        '<h1>How can we help?</h1><h2 class="faq-category-title">Booking</h2>'
        '<div class="accordion-item"><button class="accordion-trigger" aria-expanded="false">'
        'How do I book?<span class="icon" aria-hidden="true">+</span></button>'
        '<div class="accordion-body"><p>Online or by phone.</p></div></div>'
        '<div class="accordion-item"><h3><button aria-expanded="false">Can I cancel?</button></h3>'
        '<div class="accordion-body" hidden><p>Up to a day before.</p></div></div>',
        title="Spa",
    )
    entries = html.parse(page, "spa.html")
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("How do I book?", "Online or by phone.", "Booking"),
        ("Can I cancel?", "Up to a day before.", "Booking"),
    ]
