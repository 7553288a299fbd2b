"""Readable text from HTML: paragraphs, line breaks, lists and code, with page furniture left out.

Works on a selectolax (Lexbor) node tree, which is built by the HTML5 parsing algorithm, so
broken markup reads as a browser reads it. ``to_text`` renders any element; ``page_text``
renders a whole page without its navigation, scripts, styles, forms, cookie banners and
ads. Nothing here interprets markup inside text: a ``<script>`` is dropped, never run,
and links contribute their words only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Elements whose content is never text for a reader.
_DROP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "form",
        "button",
        "input",
        "select",
        "textarea",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "svg",
        "canvas",
        "audio",
        "video",
        "map",
        "head",
        "title",
        "meta",
        "link",
        "dialog",
        "-comment",
    }
)
# Elements that start a block of their own (a paragraph of the output).
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "blockquote",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "fieldset",
        "center",
        "body",
        "html",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "ul",
        "ol",
        "pre",
        "li",
    }
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Words in class or id names that mark page furniture rather than content.
_FURNITURE = frozenset(
    {
        "nav",
        "navbar",
        "navigation",
        "menu",
        "breadcrumb",
        "breadcrumbs",
        "cookie",
        "cookies",
        "consent",
        "gdpr",
        "ad",
        "ads",
        "advert",
        "adverts",
        "advertisement",
        "advertising",
        "sponsor",
        "sponsored",
        "promo",
        "newsletter",
        "subscribe",
        "social",
        "share",
        "sharing",
        "skip",
        "popup",
        "modal",
        "sidebar",
        "comments",
        "widget",
        "disqus",
    }
)
_FURNITURE_ROLES = frozenset({"navigation", "banner", "search", "dialog", "alertdialog", "complementary-ad"})
# Headings that label a section; rendered "Question:" / "Answer:" for the text parsers.
SECTION_LABELS = {"question": "Question:", "answer": "Answer:", "q": "Question:", "a": "Answer:"}
_SPACES = " \t\n\r\f"


def elements(root: Any) -> Iterator[tuple[Any, dict[str, str | None]]]:
    """Yield each element at or under ``root`` that has attributes, with them, in document order.

    What a CSS attribute selector would find, tested in Python instead: Lexbor sets up
    (and later frees) its selector engine for each document at the first ``css()`` call,
    which cost html.parse 5-8 us a page more than this walk of a page's few dozen elements.
    """
    for node in root.traverse():
        attrs = node.attributes
        if attrs:
            yield node, attrs


def is_furniture(node: Any, inside_content: bool) -> bool:
    """Tell page furniture (navigation, banners, ads, hidden parts) from content."""
    attrs = node.attributes
    if not attrs:
        return node.tag == "header" and not inside_content
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    role = (attrs.get("role") or "").lower()
    if role in _FURNITURE_ROLES:
        return True
    style = attrs.get("style")
    if style and "display:none" in style.replace(" ", "").lower():
        return True
    for name in ("class", "id"):
        value = attrs.get(name)
        if value:
            for word in value.lower().replace("-", " ").replace("_", " ").split():
                if word in _FURNITURE:
                    return True
    # A header outside the article is the site's banner (logo, menus, search).
    return node.tag == "header" and not inside_content


# C0 controls other than white space (escape sequences, NULs): browsers do not show them.
# A regular expression over plain text (not markup) finds them, far faster than a
# translate() of every text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


# Markup nested deeper than this is read as if flat below it. Building the tree of deeply
# nested markup costs the HTML5 parser time in the square of the depth (each new element
# looks through the elements still open): 100k nested <ul><li> took over 300 s. Browsers
# bound the depth the same way (Blink's parser nests at most 512 elements).
MAX_DEPTH = 512
# A tag runs to its ">" or to the next "<", so an unclosed one cannot make the scan go back.
_TAG = re.compile(r"<(?:(!--)|(/?)([A-Za-z][A-Za-z0-9:-]*+)[^<>]*+>?)")
# Elements that never hold others, and those whose start closes an open one of their kind
# (a <li> ends the <li> before it): neither can nest by itself, so neither is counted.
_UNCOUNTED = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    | {"p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "html", "head", "body"}
)
# Elements whose content is text up to their end tag, never markup.
_RAW_TEXT = {
    name: re.compile(f"</{name}", re.IGNORECASE)
    for name in ("script", "style", "textarea", "title", "xmp", "noembed", "noframes", "iframe")
}


def bounded_markup(text: str) -> str:
    """Return ``text`` with the start and end tags nested deeper than MAX_DEPTH left out.

    One pass over the tags, counting open elements as the parser would keep them (an end
    tag counts only when an element of its name is open); comments and raw text
    (scripts, styles) are skipped whole. Text is never removed, only tags.
    """
    if text.count("<") <= MAX_DEPTH:  # most pages: not tags enough to nest that deep
        return text
    kept: list[str] = []
    depth, last, pos = 0, 0, 0
    open_names: dict[str, int] = {}
    search = _TAG.search
    while (m := search(text, pos)) is not None:
        pos = m.end()
        if m.group(1):  # a comment: tags inside it are text
            close = text.find("-->", pos)
            pos = len(text) if close < 0 else close + 3
            continue
        name = m.group(3).lower()
        if name in _UNCOUNTED:
            continue
        if not m.group(2):
            raw = _RAW_TEXT.get(name)
            if raw is not None:
                close_tag = raw.search(text, pos)
                pos = len(text) if close_tag is None else close_tag.start()
            depth += 1
            open_names[name] = open_names.get(name, 0) + 1
            drop = depth > MAX_DEPTH and raw is None
        elif open_names.get(name):
            open_names[name] -= 1
            drop = depth > MAX_DEPTH and name not in _RAW_TEXT
            depth -= 1
        else:
            continue
        if drop:
            kept.append(text[last : m.start()])
            last = m.end()
    if not kept:
        return text
    kept.append(text[last:])
    return "".join(kept)


def drop_controls(text: str) -> str:
    """Drop C0 control characters other than tab, line feed, form feed and carriage return."""
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def _collapse(text: str) -> str:
    """Collapse runs of HTML white space to one space; non-breaking spaces stay, as in browsers."""
    if not text.isprintable():  # a fast test that holds for most texts: one line, no controls
        text = drop_controls(text.replace("\n", " ").replace("\t", " ").replace("\r", " ").replace("\f", " "))
    if "  " not in text:
        return text
    inner = " ".join(w for w in text.split(" ") if w)
    if not inner:
        return " "
    return (" " if text[0] == " " else "") + inner + (" " if text[-1] == " " else "")


class _Writer:
    """Collects output text as blocks of lines."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.lines: list[str] = []
        self.line: list[str] = []
        self.prefix = ""  # list bullet waiting for the next text
        self.indent = ""

    def text(self, text: str) -> None:
        if not self.line:
            text = text.lstrip(_SPACES)
            if not text:
                return
            text = self.indent + self.prefix + text
            self.prefix = ""
        elif text[:1] == " " and self.line[-1][-1:] == " ":
            text = text[1:]
        if text:
            self.line.append(text)

    def end_line(self) -> None:
        if self.line:
            self.lines.append("".join(self.line).rstrip(_SPACES))
            self.line = []

    def end_block(self) -> None:
        self.end_line()
        if self.lines:
            self.blocks.append("\n".join(self.lines))
            self.lines = []

    def verbatim(self, text: str) -> None:
        self.end_block()
        body = drop_controls(text).strip("\n")
        if body.strip():
            self.blocks.append("```\n" + body + "\n```")

    def result(self) -> str:
        self.end_block()
        return "\n\n".join(b for b in self.blocks if b.strip())


def _section_label(heading: Any) -> tuple[str, int | None] | None:
    """Return ("Question:"/"Answer:", None) for a heading that labels a section.

    A heading left unclosed (``<h2>Answer<p>...``) swallows what follows, as it does in a
    browser; then the label is its first text, and the second item is that text node's
    ``mem_id``, for the caller to skip while it reads on.
    """
    words = heading.text(deep=True).strip(_SPACES + ":").casefold()
    if words in SECTION_LABELS:
        return SECTION_LABELS[words], None
    first = heading.child
    while first is not None and first.tag not in ("-text", *_BLOCKS) and first.child is not None:
        first = first.child  # through <b>, <span> ... to the first text
    if first is not None and first.tag == "-text":
        words = (first.text_content or "").strip(_SPACES + ":").casefold()
        if words in SECTION_LABELS:
            return SECTION_LABELS[words], first.mem_id
    return None


def to_text(root: Any, *, drop_furniture: bool = False, keep: tuple[str, ...] = ()) -> str:
    """Render an element (and what it holds) as readable text.

    Paragraphs are separated by blank lines, ``<br>`` breaks a line, list items become
    ``- `` (or ``1. ``) lines, table cells are joined with `` | ``, and ``<pre>`` blocks
    are kept verbatim between ``` fences. With ``drop_furniture``, navigation, banners,
    cookie notices, ads and hidden parts are left out too, except those that hold one
    of the texts in ``keep`` (an expert's block in a page's sidebar): their own furniture
    is still left out. The walk is iterative, so deeply nested markup cannot exhaust the
    stack.
    """
    out = _Writer()
    lists: list[list[int | None]] = []  # one [counter or None] per open list
    content_depth = 0  # open <main>/<article> elements
    skip = None  # a text node already read as a section label
    # A Node on the stack is to be entered; a str is the tag of an element to leave (only
    # elements that need closing push one). Reading SE bodies, this walk is most of the
    # time spent per post, hence the few branches on the common paths.
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if node.__class__ is str:
            if node in _BLOCKS:
                if node in ("ul", "ol"):
                    lists.pop()
                    out.indent = "  " * max(0, len(lists) - 1)
                elif node in ("main", "article"):
                    content_depth -= 1
                # Inside a list, blocks are lines of the list's one block.
                if lists:
                    out.end_line()
                else:
                    out.end_block()
            else:  # tr
                out.end_line()
            continue
        tag = node.tag
        if tag == "-text":
            value = node.text_content
            if value and (skip is None or node.mem_id != skip):
                if not value.strip(_SPACES):
                    # Indentation between elements, most text nodes of a page: one space at most.
                    if out.line:
                        out.text(" ")
                else:
                    out.text(_collapse(value))
            continue
        if tag in _BLOCKS:
            if tag == "pre":
                out.verbatim(node.text(deep=True))
                continue
            if drop_furniture and node is not root and is_furniture(node, content_depth > 0):
                if not (keep and _holds(node, keep)):
                    continue
            if tag in _HEADINGS:
                label = _section_label(node)
                if label is not None:
                    out.end_block()
                    out.blocks.append(label[0])
                    if label[1] is None:
                        continue
                    skip = label[1]  # an unclosed heading holds the section: read on after the label
            if lists:
                out.end_line()
            else:
                out.end_block()
            if tag in ("main", "article"):
                content_depth += 1
            elif tag in ("ul", "ol"):
                lists.append([1 if tag == "ol" else None])
                out.indent = "  " * (len(lists) - 1)
            elif tag == "li" and lists:
                counter = lists[-1]
                if counter[0] is None:
                    out.prefix = "- "
                else:
                    out.prefix = f"{counter[0]}. "
                    counter[0] += 1
            elif tag == "hr":
                continue
            stack.append(tag)
        elif tag in _DROP or (
            drop_furniture
            and node.attributes
            and is_furniture(node, content_depth > 0)
            and not (keep and _holds(node, keep))
        ):
            continue
        elif tag == "br":
            out.end_line()
            continue
        elif tag == "tr":
            out.end_line()
            stack.append(tag)
        elif (tag == "td" or tag == "th") and out.line:
            out.text(" | ")
        child = node.last_child
        while child is not None:
            stack.append(child)
            child = child.prev
    return out.result()


def _holds(node: Any, texts: tuple[str, ...]) -> bool:
    """Tell whether one of ``texts`` is in what ``node`` holds."""
    inner = node.text(deep=True)
    return any(text in inner for text in texts)
