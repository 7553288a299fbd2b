"""The html parser: schema.org FAQPage/QAPage markup, page text, broken and hostile pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb import parsers
from kb.errors import ParseError
from kb.parsers import expert_page, html
from kb.parsers.htmltext import to_text

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "html"


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _body(markup: str):
    from selectolax.lexbor import LexborHTMLParser

    return LexborHTMLParser(markup).body


def test_html_faq_page_gives_one_entry_per_question():
    entries = html.parse((ROOT / "data" / "faq_page.html").read_text(encoding="utf-8"), "faq_page.html")
    assert [e.question for e in entries] == [
        "How often should I water newly planted roses?",
        "When is the best time to prune roses?",
        "Why are the leaves of my rose turning yellow with black spots?",
    ]
    first = entries[0]
    # Answer HTML becomes text: the paragraph, then the list as "- " lines.
    assert first.answer == (
        "Water deeply twice a week for the first month, then once a week.\n\n"
        "- Soak the soil to 30 cm.\n- Water the roots, not the leaves."
    )
    assert first.expert is not None and first.expert.name == "Pat Doe"
    assert entries[2].expert is None
    # The BreadcrumbList (inside @graph) names the category, not "Home" nor the page itself.
    assert {e.category for e in entries} == {"Gardening"}
    assert {e.source.external_id for e in entries} == {"https://garden-club.example/faq/roses"}
    assert len({e.source.key for e in entries}) == 3
    assert all(e.source.format == "html" and e.raw and "<html" in e.raw for e in entries)


def test_html_qapage_microdata_takes_the_most_upvoted_answer():
    [entry] = html.parse(_read("qapage_microdata.html"), "qa.html")
    assert entry.title == "Why does my sourdough starter smell like nail polish?"
    assert entry.question == "My starter is two weeks old. Since yesterday it smells of acetone. Is it ruined?"
    assert entry.answer.startswith("It is hungry, not ruined.")
    assert "1. Discard all but 50 g.\n2. Add 50 g flour and 50 g water." in entry.answer
    # A <pre> block stays verbatim, indentation and spacing included.
    assert "```\nratio = 1:1:1   # starter : flour : water\n  keep at 24 C\n```" in entry.answer
    assert entry.expert is not None and entry.expert.name == "Ana Baker"
    assert entry.category == "Baking"
    assert entry.source.external_id == "https://bread.example/questions/812/starter-smell"


def test_html_qapage_accepted_answer_wins_over_votes():
    page = """<html><head><script type="application/ld+json">
    [{"@context": "https://schema.org", "@type": "QAPage", "mainEntity": {"@id": "#q"}},
     {"@id": "#q", "@type": "Question", "name": "Tabs or spaces?", "text": "Which should I use in Python?",
      "acceptedAnswer": {"@type": "Answer", "text": "Spaces: PEP 8 says four.", "upvoteCount": 3,
                         "author": [{"@type": "Person", "name": "Guido Fan"}]},
      "suggestedAnswer": [{"@type": "Answer", "text": "Tabs!", "upvoteCount": 99}]}]
    </script></head><body></body></html>"""
    [entry] = html.parse(page, "p.html")
    assert (entry.title, entry.question, entry.answer) == (
        "Tabs or spaces?",
        "Which should I use in Python?",
        "Spaces: PEP 8 says four.",
    )
    assert entry.expert is not None and entry.expert.name == "Guido Fan"


def test_html_seed_page_saved_as_html_gives_the_seed_entry():
    [from_html] = html.parse(_read("seed_page.html"), "seed.html")
    seed = next((ROOT / "seeds").glob("*.txt"))
    [from_text] = expert_page.parse(seed.read_text(encoding="utf-8"), seed.name)
    for field in ("title", "category", "question", "answer", "expert", "uid"):
        assert getattr(from_html, field) == getattr(from_text, field), field
    assert from_html.source.copyright == "©2017 About.com"
    # Navigation, cookie banner, ads, share links and scripts stay out of every field.
    text = json.dumps(from_html.to_dict())
    for furniture in ("cookies", "Advertisement", "Sponsored", "Tweet", "Log in", "gtag", "Privacy"):
        assert furniture not in text


def test_html_labelled_headings_split_question_and_answer():
    [entry] = html.parse(_read("labelled_article.html"), "kettle.html")
    assert entry.title == "Descaling a kettle"
    assert entry.category == "Kitchen"
    assert entry.question == "What is the safest way to descale an electric kettle?"
    assert entry.answer.startswith("Fill it half way") and "descaler" not in entry.answer


@pytest.mark.parametrize(
    "trail",
    [
        '<nav class="site-breadcrumbs">',
        '<div aria-label="Breadcrumb trail">',
        '<ol id="breadcrumb">',
        # The first marked element holding links is the trail; an empty one is passed over.
        '<span class="breadcrumb"></span><p class="breadcrumb-bar">',
    ],
)
def test_html_breadcrumb_trail_in_markup_names_the_category(trail):
    close = "</" + trail.rsplit("<", 1)[1].split()[0] + ">"
    page = (
        f"<html><body>{trail}<a href='/'>Home</a> &gt; <a href='/garden/'>Garden</a>"
        f" &gt; <a href='/garden/roses'>Pruning roses</a>{close}"
        "<article><h1>Pruning roses</h1><h2>Question</h2><p>When should I prune roses?</p>"
        "<h2>Answer</h2><p>In late winter, before the buds break.</p></article></body></html>"
    )
    [entry] = html.parse(page, "roses.html")
    # Not "Home", not the page itself: the crumb above it.
    assert entry.category == "Garden"
    assert entry.question == "When should I prune roses?"


def test_html_broken_markup_is_read_as_browsers_read_it():
    [entry] = html.parse(_read("broken_markup.html"), "broken.html")
    # The unclosed <h2>Answer swallows the rest of the page, as in a browser; its first
    # text is still the label.
    assert entry.question == "Can I freeze cooked rice\n\nand reheat it later?"
    assert entry.answer == (
        "Yes: cool it within an hour, freeze it flat in bags, and reheat until steaming hot."
        "\n\nfridge | 1 day\nfreezer | 1 month"
    )


def test_html_hostile_markup_stays_inert():
    [entry] = html.parse(_read("hostile.html"), "hostile.html")
    assert entry.answer == "Yes. Click"
    assert "\x1b" not in entry.question and "alert" not in entry.question + entry.answer
    # Rich markup in text is kept as plain characters (render prints it as Text).
    assert entry.question == "Is this [bold red]safe[/bold red]?[2J"
    # A javascript: canonical link is not a URL kb records.
    assert entry.source.external_id is None


def test_html_page_without_qa_is_one_line_with_the_reason():
    with pytest.raises(ParseError) as err:
        html.parse(_read("no_qa.html"), "about.html")
    assert "no question and answer found in this page" in str(err.value)
    assert str(err.value).startswith("about.html:") and "\n" not in str(err.value)


def test_html_detect_is_cheap_and_sure():
    assert html.detect(_read("seed_page.html"), "x") >= parsers.SURE
    assert html.detect("<div><p>Q: a</p></div>", "x") >= 0.5
    assert html.detect("Q: What?\nA: That.", "x") == 0.0
    assert html.detect("<!-- a comment -->\n## Question\nx\n## Answer\ny", "x") == 0.0
    assert parsers.detect(_read("seed_page.html"), "saved-page") == "html"
    assert parsers.detect("whatever", "page.HTM") == "html"


def test_html_text_renders_lists_tables_and_breaks():
    body = _body(
        "<p>a<br>b</p><ul><li>x<ul><li>y</li></ul></li><li>z</li></ul>"
        "<ol><li>one</li><li>two</li></ol><table><tr><th>k</th><td>v</td></tr></table>"
        "<p>a   b&nbsp;&nbsp;c</p>"
    )
    assert to_text(body) == "a\nb\n\n- x\n  - y\n- z\n\n1. one\n2. two\n\nk | v\n\na b\xa0\xa0c"


def test_html_text_drops_control_characters_even_in_code():
    body = _body("<p>a\x1b[31mred\x07</p><pre>x = 1\x1b]0;title\x07\n  y</pre>")
    assert to_text(body) == "a[31mred\n\n```\nx = 1]0;title\n  y\n```"


def test_html_text_survives_deep_nesting():
    body = _body("<div>" * 5000 + "deep" + "</div>" * 5000)
    assert to_text(body) == "deep"


def test_html_ingest_cli_reads_pages(tmp_path):
    db = tmp_path / "kb.json"
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "faq.html").write_bytes((ROOT / "data" / "faq_page.html").read_bytes())
    (pages / "about.htm").write_bytes(_read("no_qa.html").encode())
    run = subprocess.run(
        [sys.executable, "-m", "kb", "--db", str(db), "ingest", "--json", str(pages)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["counts"]["added"] == 3
    [failure] = report["failures"]
    assert failure["path"].endswith("about.htm") and "no question and answer" in failure["reason"]
    assert "Traceback" not in run.stderr


# The seed page as a browser's "Save page as..." writes it, in the layouts such a site had:
# the breadcrumb trail as a list of links, as links between '>' signs (with or without a
# class that names it), with schema.org microdata; the expert's block in a sidebar; the
# expert's name as a link, on its own line or followed by the "Ask Experts" link.
SAVED_ABOUT_PAGES = sorted(p.name for p in FIXTURES.glob("saved_about_*.html"))


@pytest.mark.parametrize("page", SAVED_ABOUT_PAGES)
def test_html_seed_page_saved_from_a_browser_reads_as_its_text(page: str) -> None:
    [entry] = html.parse(_read(page), page)
    seed = next((ROOT / "seeds").glob("*.txt"))
    [from_text] = expert_page.parse(seed.read_text(encoding="utf-8"), seed.name)
    assert entry.title == "false negatiave on bone scan"
    assert entry.category == "Oncology (General Cancer)"
    assert entry.expert is not None and entry.expert.name == "Donald Higby, M.D."
    assert entry.question == from_text.question and entry.answer == from_text.answer
    assert entry.uid == from_text.uid
    assert entry.expert.expertise == from_text.expert.expertise
    assert entry.expert.experience == from_text.expert.experience
    assert entry.source.copyright == "©2017 About.com"
    for furniture in ("Home", "Health", "Ask Experts", "All Answers", "Search"):
        assert furniture not in entry.question + entry.answer + entry.expert.name


def test_html_saved_about_pages_are_all_there() -> None:
    assert len(SAVED_ABOUT_PAGES) == 5
