"""FAQ pages without schema.org markup: the questions and answers the page's own structure shows.

Most FAQ pages on the web carry no markup for search engines; their layout says what is a
question. Read here, in document order: ``<details>`` (the ``<summary>`` asks, the rest
answers), ``<dl>`` (``<dt>`` asks, its ``<dd>`` answer), a heading that asks followed by
its paragraphs and lists, an accordion's trigger (a button or header naming its panel by
``aria-controls``, ``data-bs-target``/``data-target`` or ``href="#id"``) and CMS FAQ blocks
whose classes say "question" and "answer" (WordPress's Yoast and Rank Math blocks).

A question must ask (end with "?") unless the page or the block calls itself a FAQ. A
heading that does not ask, above a group of questions, is their category. Navigation,
banners, sidebars, comments and footers are never searched, and never read into an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kb.parsers.htmltext import drop_controls, is_furniture, to_text

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Never searched for questions, nor read as answers (furniture is told by is_furniture too).
_SKIP = frozenset({"script", "style", "noscript", "template", "nav", "form", "head", "svg", "iframe", "-comment"})
# Attributes by which an accordion's trigger names the panel it opens.
_TARGETS = ("aria-controls", "data-bs-target", "data-target", "href")
# A question's own "Q:" / "Question 3." label, and an answer's "A:".
_Q_LABEL = re.compile(r"^(?:q|question)[ \t]*+\d*+[ \t]*+[:.)][ \t]*+", re.IGNORECASE)
_A_LABEL = re.compile(r"^(?:a|answer)[ \t]*+[:.)][ \t]*+", re.IGNORECASE)
_FAQ_WORDS = ("faq", "frequently asked", "questions")
# What a question of these shapes shows in the (lower-cased) markup: most pages read as
# text (an article, an expert page) show none of it and are spared the walk. Each
# pattern opens with a literal, which the regex engine scans for quickly; one
# case-insensitive alternation of them all cost 0.3 ms a page.
_MARKED_TAGS = ("<summary", "<dt", "aria-expanded")
_QUESTION_CLASS = re.compile(r"class\s*+=\s*+[\"'][^\"'<>]*question")
_ASKING_HEADING = re.compile(r"\?[\"'\u201d\u2019)\]\s]*+(?:</[a-z0-9]+>\s*+)*</h[2-6]")


def _hinted(lowered: str) -> bool:
    if any(tag in lowered for tag in _MARKED_TAGS):
        return True
    if "question" in lowered and _QUESTION_CLASS.search(lowered):
        return True
    return "?" in lowered and _ASKING_HEADING.search(lowered) is not None


@dataclass
class Pair:
    """One question found in a page's structure, with its answer and section."""

    question: str
    answer: str
    category: str


def _words(value: str | None) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", (value or "").lower())) - {""}


def _marks(node: Any) -> set[str]:
    attrs = node.attributes
    return _words(attrs.get("class")) | _words(attrs.get("id")) if attrs else set()


def _aside(node: Any, inside: bool) -> bool:
    """Tell page furniture, a footer, or a sidebar (an aside outside the article) from content."""
    tag = node.tag
    if tag == "footer" or (tag == "aside" and not inside) or "footer" in _marks(node):
        return True
    return is_furniture(node, inside)


def _flat(node: Any) -> str:
    """The words of ``node`` on one line, whatever its elements (an accordion's question is a
    <button>'s text), without hidden parts (an accordion's "+" icon)."""
    words: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.tag == "-text":
            words.append(current.text_content or "")
            continue
        attrs = current.attributes
        if current.tag in _SKIP or (attrs and ("hidden" in attrs or attrs.get("aria-hidden") == "true")):
            if current is not node:
                continue
        child = current.last_child
        while child is not None:
            stack.append(child)
            child = child.prev
    return drop_controls(" ".join(" ".join(words).split()))


def _asks(text: str) -> bool:
    return text.rstrip(" \"')]\u201d\u2019").endswith("?")


def _says_faq(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _FAQ_WORDS)


class _Reader:
    """One walk of a page's content, collecting question nodes and their answer nodes."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree
        self.ids: dict[str, Any] | None = None
        self.taken: set[int] = set()  # mem_ids of nodes already read as answers
        self.pairs: list[tuple[Any, list[Any], str, bool]] = []

    def by_id(self, ident: str) -> Any:
        if self.ids is None:  # built on the first accordion only: most pages have none
            self.ids = {}
            for node in self.tree.root.traverse():
                attrs = node.attributes
                if attrs and attrs.get("id"):
                    self.ids.setdefault(attrs["id"], node)
        return self.ids.get(ident)

    def panel(self, node: Any) -> Any:
        """The element an accordion trigger at or inside ``node`` opens, or None."""
        for trigger in [node, *(n for n in node.traverse() if n.attributes)]:
            attrs = trigger.attributes
            if not attrs or "aria-expanded" not in attrs:
                continue  # accordions say whether they are open; tabs (which name panels too) do not
            if not any(attrs.get(name) for name in _TARGETS):
                # No panel named: the panel is what follows the trigger (or the header it is
                # alone in), as in most hand-written accordions.
                holder = trigger
                while _next_element(holder) is None and holder.mem_id != node.mem_id and holder.parent is not None:
                    holder = holder.parent
                following = _next_element(holder)
                if following is not None and following.tag not in _HEADINGS:
                    return following
                continue
            for name in _TARGETS:
                value = (attrs.get(name) or "").strip()
                if name != "aria-controls":
                    if not value.startswith("#"):
                        continue
                    value = value[1:]
                target = self.by_id(value.split()[0]) if value else None
                if target is not None and target.mem_id != node.mem_id:
                    return target
        return None

    def walk(self, root: Any, faq_page: bool) -> None:
        sections: list[tuple[int, str]] = []  # open section headings: (level, text)
        stack: list[tuple[Any, bool, bool]] = [(root, False, faq_page)]
        while stack:
            node, inside, faq = stack.pop()
            tag = node.tag
            if tag in _SKIP or tag == "-text" or node.mem_id in self.taken:
                continue
            if node is not root and _aside(node, inside):
                continue
            marks = _marks(node)
            faq = faq or bool(marks & {"faq", "faqs"})
            inside = inside or tag in ("main", "article")
            level = _HEADINGS.get(tag)
            found = self.question(node, tag, marks)
            # A heading ends the sections of its rank and below; an accordion's header does
            # not (frameworks give every item's header one rank, whatever the page's).
            while level is not None and sections and sections[-1][0] >= level:
                if found is not None and found[1] is None:
                    break
                sections.pop()
            if found is not None:
                answers, _ = found
                self.pairs.append((node, answers, sections[-1][1] if sections else "", faq or found[1] is True))
                self.taken.update(a.mem_id for a in answers)
                continue
            if level is not None:
                text = _flat(node)
                if level > 1 and text:
                    sections.append((level, text))
                continue
            child = node.last_child
            while child is not None:
                stack.append((child, inside, faq))
                child = child.prev

    def question(self, node: Any, tag: str, marks: set[str]) -> tuple[list[Any], bool | None] | None:
        """Return the answer nodes when ``node`` asks a question, and how it was told.

        The second item is True for a block its classes call a question, None for an
        accordion's trigger, False for the rest (a question there must ask).
        """
        if tag == "summary" and node.parent is not None and node.parent.tag == "details":
            return _after(node), False
        if tag == "dt":
            answers = []
            sibling = node.next
            while sibling is not None and sibling.tag != "dt":
                if sibling.tag == "dd":
                    answers.append(sibling)
                sibling = sibling.next
            return (answers, False) if answers else None
        if "question" in marks:
            answer = _next_element(node)
            while answer is not None and "answer" not in _marks(answer) and _next_element(answer) is not None:
                answer = _next_element(answer)
            if answer is not None and "answer" in _marks(answer):
                return [answer], True
        level = _HEADINGS.get(tag)
        if level is None and tag not in ("button", "a", "div", "span", "p", "strong", "dt"):
            return None
        if level is not None or node.attributes:
            panel = self.panel(node) if level is not None or _has_target(node) else None
            if panel is not None:
                return [panel], None
        # An <h1> is the page's title, not one question among others.
        if level is not None and level > 1 and _asks(_flat(node)):
            return _section_after(node, level), False
        return None


def _has_target(node: Any) -> bool:
    attrs = node.attributes
    return bool(attrs) and "aria-expanded" in attrs


def _next_element(node: Any) -> Any:
    sibling = node.next
    while sibling is not None and (sibling.tag == "-text" or sibling.tag == "-comment"):
        sibling = sibling.next
    return sibling


def _after(node: Any) -> list[Any]:
    answers = []
    sibling = node.next
    while sibling is not None:
        answers.append(sibling)
        sibling = sibling.next
    return answers


def _ends_section(node: Any, level: int) -> bool:
    """Tell whether ``node`` is (or holds) a heading at ``level`` or above, or one that asks."""
    for inner in [node] if node.tag in _HEADINGS else node.traverse():
        inner_level = _HEADINGS.get(inner.tag)
        if inner_level is not None and (inner_level <= level or _asks(_flat(inner))):
            return True
    return False


def _section_after(heading: Any, level: int) -> list[Any]:
    """The nodes after a heading up to the next heading of its rank (or one that asks).

    A heading alone in its wrapper (``<div class="q"><h3>...?</h3></div>``) answers with
    what follows the wrapper.
    """
    node = heading
    while (
        _next_element(node) is None and node.parent is not None and node.parent.tag not in ("body", "main", "article")
    ):
        if _flat(node.parent) != _flat(heading):
            break
        node = node.parent
    answers = []
    sibling = node.next
    while sibling is not None:
        if sibling.tag != "-text" and _ends_section(sibling, level):
            break
        answers.append(sibling)
        sibling = sibling.next
    return answers


def _answer_text(nodes: list[Any]) -> str:
    parts = []
    for node in nodes:
        if node.tag == "-text":
            text = " ".join((node.text_content or "").split())
        elif node.tag in _SKIP or (len(nodes) > 1 and _aside(node, True)):
            continue
        else:
            text = to_text(node, drop_furniture=True)
        if text:
            parts.append(text)
    return _A_LABEL.sub("", "\n\n".join(parts), count=1).strip()


def find(tree: Any, title: str, lowered: str) -> list[Pair]:
    """Return the questions and answers the page's structure holds (none: an empty list).

    ``lowered`` is the page's markup in lower case, to tell cheaply whether it can hold any.
    """
    body = tree.body
    if body is None or not _hinted(lowered):
        return []
    reader = _Reader(tree)
    reader.walk(body, _says_faq(title))
    pairs = []
    seen: set[str] = set()
    for node, answers, category, faq in reader.pairs:
        question = _Q_LABEL.sub("", _flat(node), count=1).strip()
        if not question or not (faq or _asks(question)):
            continue
        answer = _answer_text(answers)
        if not answer or question in seen:
            continue
        seen.add(question)
        pairs.append(Pair(question, answer, category))
    return pairs
