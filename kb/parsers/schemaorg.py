"""schema.org Q&A markup in a page: JSON-LD and microdata read into one node shape.

Sites describe FAQs and Q&A threads for search engines as ``FAQPage``/``QAPage`` items
holding ``Question`` items, each with an ``acceptedAnswer`` and ``suggestedAnswer``s; a
``BreadcrumbList`` says where the page sits. Both syntaxes become plain dicts here
(``{"@type": [...], "name": ..., "acceptedAnswer": {...}}``), so one reader handles both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kb.parsers.htmltext import bounded_markup, drop_controls, elements, to_text

# A hostile page could nest items without end; deeper than this is not a Q&A.
_MAX_DEPTH = 40


@dataclass
class QA:
    """One question and its chosen answer, as the markup gives them."""

    question: str
    answer: str
    title: str = ""
    author: str = ""
    ref: str = ""  # the question's own URL or @id, when it has one


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    if raw.__class__ is str and raw and "/" not in raw and ":" not in raw:
        return {raw.casefold()}  # the usual plain "Question": read on every node, so kept short
    values = raw if isinstance(raw, list) else [raw]
    # "Question", "schema:Question" and "https://schema.org/Question" are one type.
    return {str(v).rsplit("/", 1)[-1].rsplit(":", 1)[-1].casefold() for v in values if v}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _walk(roots: list[Any]) -> list[dict[str, Any]]:
    """Return every dict inside ``roots`` (arrays, @graph, nested items), breadth first."""
    found: list[dict[str, Any]] = []
    queue: list[tuple[Any, int]] = [(r, 0) for r in roots]
    for value, depth in queue:  # the queue grows as it is read
        if depth > _MAX_DEPTH:
            continue
        if isinstance(value, list):
            queue.extend((v, depth + 1) for v in value)
        elif isinstance(value, dict):
            found.append(value)
            queue.extend((v, depth + 1) for v in value.values() if isinstance(v, (list, dict)))
    return found


# -- the two syntaxes ----------------------------------------------------------------


def jsonld_roots(tree: Any) -> list[Any]:
    """Return the decoded JSON of every ``application/ld+json`` script (bad ones skipped)."""
    roots: list[Any] = []
    for script in tree.tags("script"):
        kind = (script.attributes.get("type") or "").split(";")[0].strip().casefold()
        if kind != "application/ld+json":
            continue
        body = (script.text(deep=True) or "").strip()
        # Some CMSs wrap the JSON in an HTML comment or CDATA section.
        for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("//<![CDATA[", "//]]>")):
            if body.startswith(opener) and body.endswith(closer):
                body = body[len(opener) : -len(closer)].strip()
        try:
            roots.append(json.loads(body))
        except (ValueError, RecursionError):
            continue
    return roots


def _value(element: Any) -> Any:
    """The value of a microdata property element, as the microdata spec reads it."""
    tag = element.tag
    attrs = element.attributes
    if tag == "meta":
        return attrs.get("content") or ""
    if tag in ("a", "area", "link"):
        return attrs.get("href") or ""
    if tag in ("img", "audio", "video", "source", "embed", "iframe"):
        return attrs.get("src") or ""
    if tag == "time" and attrs.get("datetime"):
        return attrs["datetime"]
    if tag == "data" or tag == "meter":
        return attrs.get("value") or ""
    return to_text(element)


def _owner(element: Any, root: Any) -> Any:
    """Return the nearest itemscope element above ``element`` (below or at ``root``)."""
    parent = element.parent
    while parent is not None:
        if parent.attributes and "itemscope" in parent.attributes:
            return parent
        if parent.mem_id == root.mem_id:
            return None
        parent = parent.parent
    return None


def _item(scope: Any, depth: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": (scope.attributes.get("itemtype") or "").split()}
    if scope.attributes.get("itemid"):
        item["@id"] = scope.attributes["itemid"]
    if depth > _MAX_DEPTH:
        return item
    for prop, attrs in elements(scope):
        if "itemprop" not in attrs:
            continue
        owner = _owner(prop, scope)
        if owner is None or owner.mem_id != scope.mem_id:
            continue
        if "itemscope" in attrs:
            value: Any = _item(prop, depth + 1)
        else:
            value = _value(prop)
        for name in (attrs.get("itemprop") or "").split():
            item.setdefault(name, []).append(value)
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in item.items()}


def microdata_roots(tree: Any) -> list[dict[str, Any]]:
    """Return the top-level microdata items of the page (those that are no item's property)."""
    return [_item(scope) for scope, attrs in elements(tree.root) if "itemscope" in attrs and "itemprop" not in attrs]


# -- reading the items ---------------------------------------------------------------


def _text(value: Any) -> str:
    """A property's text: a string (HTML in JSON-LD is rendered), or an item's name/text."""
    if isinstance(value, list):
        value = next((v for v in value if v), "")
    if isinstance(value, dict):
        value = value.get("text") or value.get("name") or ""
    if not isinstance(value, str):
        return "" if value is None or isinstance(value, bool) else str(value)
    if "<" in value or "&" in value:
        from selectolax.lexbor import LexborHTMLParser

        body = LexborHTMLParser(bounded_markup(value)).body
        return to_text(body) if body is not None else ""
    return drop_controls(value).strip()


def _given(value: Any) -> bool:
    """Whether a property holds something (without rendering it, which costs a parse)."""
    if isinstance(value, list):
        return any(_given(v) for v in value)
    if isinstance(value, dict):
        return _given(value.get("text") or value.get("name"))
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and bool(str(value).strip())


def _votes(answer: dict[str, Any]) -> float:
    try:
        return float(_text(answer.get("upvoteCount")) or 0)
    except ValueError:
        return 0.0


def _resolve(value: Any, ids: dict[str, dict[str, Any]]) -> Any:
    """Follow a ``{"@id": ...}`` reference to the node it names in the page."""
    if isinstance(value, dict) and set(value) == {"@id"}:
        return ids.get(str(value["@id"]), value)
    return value


def _author(answer: dict[str, Any], ids: dict[str, dict[str, Any]]) -> str:
    for author in _as_list(answer.get("author")):
        name = _text(_resolve(author, ids))
        if name:
            return name
    return ""


def _answer_of(question: dict[str, Any], ids: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The accepted answer, else the most up-voted suggested one (the first on a tie)."""
    for answer in _as_list(question.get("acceptedAnswer")):
        answer = _resolve(answer, ids)
        if isinstance(answer, dict) and _given(answer.get("text")):
            return answer
        if isinstance(answer, str) and answer.strip():
            return {"text": answer}
    suggested = [_resolve(a, ids) for a in _as_list(question.get("suggestedAnswer"))]
    suggested = [a for a in suggested if isinstance(a, dict) and _given(a.get("text"))]
    if not suggested:
        return None
    return max(suggested, key=_votes)


def items(roots: list[Any]) -> list[dict[str, Any]]:
    """Every item the markup holds (what qa_items and breadcrumb read): walk it once, pass it to both."""
    return _walk(roots)


def qa_items(nodes: list[dict[str, Any]]) -> list[QA]:
    """Return the questions with answers that the FAQPage/QAPage (or bare Question) items hold."""
    ids = {str(n["@id"]): n for n in nodes if n.get("@id") and len(n) > 1}
    questions: list[dict[str, Any]] = []
    for node in nodes:
        if _types(node) & {"faqpage", "qapage"}:
            for entity in _as_list(node.get("mainEntity")):
                entity = _resolve(entity, ids)
                if isinstance(entity, dict) and "question" in _types(entity) and entity not in questions:
                    questions.append(entity)
    if not questions:
        questions = [n for n in nodes if "question" in _types(n)]
    found: list[QA] = []
    for question in questions:
        answer = _answer_of(question, ids)
        if answer is None:
            continue
        name, body, answer_text = _text(question.get("name")), _text(question.get("text")), _text(answer.get("text"))
        if not (name or body) or not answer_text:
            continue
        ref = question.get("url") or question.get("@id") or ""
        found.append(
            QA(
                question=body or name,
                answer=answer_text,
                title=name if body and name != body else "",
                author=_author(answer, ids),
                ref=ref if isinstance(ref, str) else "",
            )
        )
    return found


def breadcrumb(nodes: list[dict[str, Any]], page_title: str = "") -> str:
    """Return the category a BreadcrumbList among ``nodes`` (see ``items``) names: its last
    crumb above the page itself."""
    for node in nodes:
        if "breadcrumblist" not in _types(node):
            continue
        crumbs: list[tuple[float, str]] = []
        for n, element in enumerate(_as_list(node.get("itemListElement"))):
            if not isinstance(element, dict):
                continue
            name = _text(element.get("name")) or _text(element.get("item"))
            try:
                position = float(_text(element.get("position")) or n)
            except ValueError:
                position = float(n)
            if name:
                crumbs.append((position, name))
        names = [name for _, name in sorted(crumbs, key=lambda c: c[0])]
        return category_from_crumbs(names, page_title)
    return ""


def category_from_crumbs(names: list[str], page_title: str) -> str:
    """Pick the category from a trail of crumb names: not 'Home', not the page itself."""
    names = [n.strip() for n in names if n.strip()]
    if names and page_title and names[-1].casefold() == page_title.strip().casefold():
        names = names[:-1]
    if names and names[0].casefold() in ("home", "homepage", "start", "index"):
        names = names[1:]
    return names[-1] if names else ""
