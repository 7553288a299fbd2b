"""Web pages saved as HTML: schema.org Q&A markup first, else the page's text.

A page with schema.org ``FAQPage``/``QAPage`` markup (JSON-LD or microdata) gives one entry
per question with its accepted (else most up-voted) answer; the answer's author is the
expert. Any other page is rendered as text without its furniture (navigation, scripts,
forms, cookie banners, ads) and read by the text parsers: an "ask an expert" page saved
from a browser gives the entry its scraped text gives. The category comes from the
breadcrumb trail, the title from the page, and ``source.external_id`` is the page's
canonical URL.

Parsing uses selectolax's Lexbor engine, an HTML5 parser: broken markup is repaired the
way browsers repair it. It is imported here, so other formats never load it.
"""

from __future__ import annotations

from typing import Any

from kb.errors import ParseError
from kb.models import Entry, Expert, Source
from kb.parsers.json import question_key

NAME = "html"
# The footer words of a scraped expert page (kb.parsers's registry lists them too).
_EXPERT_MARKERS = ("All Answers", "Answers by Expert", "Ask Experts")

# Tags whose presence near the top says "HTML" (after a first "<").
_HTML_HINTS = (
    "<html",
    "<head",
    "<body",
    "<meta",
    "<title",
    "<div",
    "<p>",
    "<p ",
    "<article",
    "<section",
    "<main",
    "<script",
    "<h1",
    "<h2",
    "<ul",
    "<table",
    "<span",
    "<a ",
    "<br",
)


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is an HTML page; any text not starting with ``<`` costs one look."""
    start = text[:64].lstrip("\ufeff \t\r\n")
    if not start.startswith("<"):
        return 0.0
    head = text[:4096].lower()
    if "<!doctype html" in head or "<html" in head:
        return 0.95
    if any(hint in head for hint in _HTML_HINTS):
        return 0.8
    return 0.0


def _clean_input(text: str) -> str:
    # Lexbor takes UTF-8: lone surrogates (from surrogateescape decoding) cannot be encoded.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _attr(node: Any, name: str) -> str:
    return ((node.attributes.get(name) if node is not None else None) or "").strip()


def _canonical(tree: Any, lowered: str) -> str:
    """The page's own URL: ``<link rel=canonical>``, else ``og:url``; web addresses only."""
    if "canonical" in lowered:
        for link in tree.tags("link"):
            if "canonical" in _attr(link, "rel").casefold().split():
                url = _attr(link, "href")
                if url.casefold().startswith(("http://", "https://")):
                    return url
    if "og:url" not in lowered:
        return ""
    url = next((_attr(m, "content") for m in tree.tags("meta") if _attr(m, "property") == "og:url"), "")
    return url if url.casefold().startswith(("http://", "https://")) else ""


def _title(tree: Any, lowered: str) -> tuple[str, Any]:
    """The page's title and the ``<h1>`` it came from (None when it came from elsewhere)."""
    for h1 in tree.tags("h1"):
        text = " ".join(h1.text(deep=True).split())
        if text:
            return text, h1
    if "og:title" in lowered:
        og = next((_attr(m, "content") for m in tree.tags("meta") if _attr(m, "property") == "og:title"), "")
        if og:
            return og, None
    head_title = next(iter(tree.tags("title")), None)
    text = " ".join((head_title.text(deep=True) if head_title is not None else "").split())
    # "Question title | Site name": the site's name is not the page's title.
    for separator in (" | ", " - ", " – ", " — ", " :: "):
        if separator in text:
            text = text.split(separator)[0].strip()
            break
    return text, None


def _crumb_category(tree: Any, title: str) -> str:
    """The category a breadcrumb trail in the page's markup shows (links, then the page)."""
    from kb.parsers.htmltext import elements
    from kb.parsers.schemaorg import category_from_crumbs

    for trail, attrs in elements(tree.root):
        if (
            "breadcrumb" in (attrs.get("class") or "")
            or "readcrumb" in (attrs.get("aria-label") or "")
            or "breadcrumb" in (attrs.get("id") or "")
        ):
            names = [" ".join(a.text(deep=True).split()) for a in trail.traverse() if a.tag == "a"]
            if names:
                return category_from_crumbs(names, title)
    return ""


def parse(text: str, name: str) -> list[Entry]:
    """Parse one page into its entries.

    Raises:
        ParseError: when the page holds no question and answer kb can find.
    """
    from selectolax.lexbor import LexborHTMLParser

    from kb.parsers import schemaorg
    from kb.parsers.htmltext import bounded_markup

    tree = LexborHTMLParser(bounded_markup(_clean_input(text)))
    if tree.body is None:
        raise ParseError("empty page: no question and answer", path=name)
    # Each lookup below costs a walk of the whole tree; the page's text says (in a few
    # microseconds) which ones can find anything.
    lowered = text.lower()
    title, h1 = _title(tree, lowered)
    url = _canonical(tree, lowered)
    roots: list[Any] = schemaorg.jsonld_roots(tree) if "ld+json" in lowered else []
    if "itemscope" in lowered:
        roots.extend(schemaorg.microdata_roots(tree))
    nodes = schemaorg.items(roots)
    category = schemaorg.breadcrumb(nodes, title)
    if not category and "readcrumb" in lowered:
        category = _crumb_category(tree, title)
    items = schemaorg.qa_items(nodes)
    if items:
        keys: dict[str, int] = {}
        return [_entry(item, question_key(item.question, keys), name, text, url, category) for item in items]
    # An expert page saved from a browser is read as its text is; any other page by its
    # structure first (details, definition lists, headings that ask, accordions).
    if not any(marker in text for marker in _EXPERT_MARKERS):
        from kb.parsers import htmlfaq

        pairs = htmlfaq.find(tree, title, lowered)
        if pairs:
            return [_pair_entry(pair, name, text, url, category) for pair in pairs]
    return _from_text(tree, h1, title, category, url, name, text)


def _pair_entry(pair: Any, name: str, raw: str, url: str, category: str) -> Entry:
    return Entry(
        question=pair.question,
        answer=pair.answer,
        category=pair.category or category,
        source=Source(path=name, format=NAME, external_id=url or None, key=question_key(pair.question)),
        raw=raw,
    )


def _entry(item: Any, key: str, name: str, raw: str, url: str, category: str) -> Entry:
    ref = item.ref if item.ref.casefold().startswith(("http://", "https://")) else ""
    return Entry(
        question=item.question,
        answer=item.answer,
        title=item.title,
        category=category,
        expert=Expert(name=item.author) if item.author else None,
        source=Source(path=name, format=NAME, external_id=ref or url or None, key=key),
        raw=raw,
    )


# What stands between the links of a breadcrumb trail ("Home > Health > Oncology").
_TRAIL_SEPARATORS = " \t\r\n\xa0>\u203a\u00bb/|\u2192:-\u00b7.0123456789"


def _drop_trails(tree: Any, h1: Any) -> None:
    """Leave out the trails of links above the title that no class names as furniture.

    A block that holds two links or more and nothing else but separators (a breadcrumb
    as links between '>' signs, or as a list of links) is navigation, not the start of
    the question.
    """
    trails = []
    stop = h1.mem_id
    for node in tree.body.traverse():
        if node.mem_id == stop:
            break
        if node.tag not in _TRAIL_TAGS:
            continue
        links = [a.text(deep=True) for a in node.traverse() if a.tag == "a"]
        if len(links) < 2:
            continue
        rest = node.text(deep=True)
        for link in links:
            rest = rest.replace(link, "", 1)
        if not rest.strip(_TRAIL_SEPARATORS) and any(link.strip() for link in links):
            trails.append(node)
    kept = {node.mem_id for node in trails}
    for node in trails:
        parent = node.parent
        while parent is not None and parent.mem_id not in kept:
            parent = parent.parent
        if parent is None:
            node.decompose()


_TRAIL_TAGS = frozenset({"div", "p", "nav", "ol", "ul", "span", "section"})


def _from_text(tree: Any, h1: Any, title: str, category: str, url: str, name: str, raw: str) -> list[Entry]:
    """Read the page's main text with the text parsers (Q/A labels, an expert page's layout)."""
    from kb import parsers
    from kb.parsers.htmltext import to_text

    if h1 is not None:
        _drop_trails(tree, h1)
        h1.decompose()  # the title, given to the entry apart from the body text
    # An expert's block stays even where the page puts it in a sidebar.
    keep = ("Answers by Expert",) if "Answers by Expert" in raw else ()
    body = to_text(tree.body, drop_furniture=True, keep=keep)
    entries: list[Entry] = []
    try:
        # The footer markers' words come first: the detector itself reads every line.
        markers = parsers.BY_NAME["expert-page"].markers
        if any(m in body for m in markers) and parsers.get("expert-page").detect(body, name) >= 0.8:
            # An expert page's text begins with "Category/Title", as its scraped text does.
            header = f"{category}/{title}" if category and title else title or category
            entries = parsers.get("expert-page").parse(f"{header}\n\n{body}" if header else body, name)
        else:
            for fmt in ("qa", "markdown"):
                if parsers.get(fmt).detect(body, name) >= 0.5:
                    entries = parsers.get(fmt).parse(body, name)
                    break
    except ParseError as exc:
        # Its line numbers count lines of the rendered text, not of the file.
        raise ParseError(f"{exc.reason} (in the page's text)", path=name) from None
    if not entries:
        raise ParseError(
            "no question and answer found in this page: no schema.org FAQPage/QAPage markup, "
            "and its text has no Question/Answer labels",
            path=name,
        )
    for n, entry in enumerate(entries, 1):
        entry.title = entry.title or title
        entry.category = entry.category or category
        entry.source.format = NAME
        entry.source.external_id = entry.source.external_id or url or None
        entry.source.key = entry.source.key or (f"q{n}" if len(entries) > 1 else None)
        entry.source.line = None  # lines of the rendered text, not of the file
        entry.raw = raw
    return entries
