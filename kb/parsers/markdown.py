"""Markdown input and output: front matter, then ``## Question`` and ``## Answer`` sections.

``parse`` reads kb's own shape, one entry per file: optional YAML-style front matter between ``---`` lines
(title, category, tags, expert, created_at, and updated_at when the uid beside it still
matches the text; id and other keys are ignored), then a
Question and an Answer heading (levels 1-3, any case). A level-1 heading before them
titles the entry when the front matter does not. ``render_markdown`` writes the same
shape, and is what export, ``kb add --editor`` and ``kb edit`` use, so that
``parse(render_markdown(e))`` gives back e's title, category, tags, expert and created_at
exactly, and its question and answer as ``clean_text`` leaves them (line ends as LF, no
trailing blanks per line, no blank edges). A file without those sections is read as notes
(``kb.parsers.mdnotes``): a heading or bold line per question.

The front matter reader is a small subset of YAML, written here to avoid a dependency:
``key: value`` with plain, ``"double"`` (JSON escapes) or ``'single'`` quoted scalars,
``[a, b]`` and ``- a`` lists, block scalars (``|``, ``>``) and one level of nested mapping
(for ``expert``). Rendering quotes every string as JSON, except multi-line values that read
back exactly as a ``|`` block; and it escapes body lines that would read as a section
heading with a backslash (``\\## Answer``), which Markdown also shows as literal text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kb.errors import ParseError
from kb.models import ASKING_FIELDS, EXPERT_FIELDS, OPEN, Entry, Expert, Source, asking_fields, make_uid, split_tags
from kb.parsers.json import clean_text
from kb.parsers.mdnotes import find_questions, heading_text, parse_notes

NAME = "markdown"

# A section heading, as Markdown allows it: up to three spaces, one to three '#'. Runs
# of blanks side by side are possessive (``*+``), so a long line costs one pass, not the
# cube of its length (a heading followed by 20k spaces took minutes).
_SECTION_BODY = r" {0,3}(?P<hashes>#{1,3})\s++(?P<section>question|answer)\s*+:?\s*+#*+\s*+"
_SECTION = re.compile(rf"^{_SECTION_BODY}$", re.IGNORECASE)
# The same line protected by render_markdown: one more backslash than it had.
_ESCAPED = re.compile(rf"^\\+{_SECTION_BODY}$", re.IGNORECASE)
_NEEDS_ESCAPE = re.compile(rf"^\\*{_SECTION_BODY}$", re.IGNORECASE)
_H1 = re.compile(r"^ {0,3}#[ \t]++(?P<text>.*)$")
# Keys are words, maybe with spaces, '/' or '.' ("education/credentials"); the first
# ": " ends the key, so a value may hold colons ("title: Re: roses").
# The key is read possessively and its trailing blanks stripped after: a lazy key that
# may hold spaces, then a run of blanks, retried every split of a long blank run.
_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w ./-]*+)[ \t]*+:(?:[ \t]++(?P<rest>.*))?$")
_BLOCK = re.compile(r"^(?P<style>[|>])[+-]?[1-9]?[ \t]*(?:#.*)?$")
_FENCES = ("---", "...")

_json_decoder = json.JSONDecoder()
_SURROGATE = re.compile("[\ud800-\udfff]")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return not line.strip()


def _skippable(line: str) -> bool:
    """Blank lines and ``#`` comments carry nothing outside block scalars."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


class _FrontMatter:
    """Reads the lines between the ``---`` fences into a dict of str, list and dict values."""

    def __init__(self, lines: list[str], first_line: int, name: str) -> None:
        self.lines = lines
        self.first_line = first_line  # file line number of lines[0]
        self.name = name

    def error(self, index: int, reason: str) -> ParseError:
        return ParseError(f"front matter: {reason}", path=self.name, line=self.first_line + index)

    def read(self) -> dict[str, Any]:
        values, index = self.mapping(0, -1, nested=False)
        if index < len(self.lines):
            raise self.error(index, "unexpected indentation")
        return values

    def mapping(self, index: int, parent: int, *, nested: bool) -> tuple[dict[str, Any], int]:
        """Read keys indented deeper than ``parent`` (all at one indentation) from ``index``."""
        values: dict[str, Any] = {}
        level = None
        while index < len(self.lines):
            line = self.lines[index]
            if _skippable(line):
                index += 1
                continue
            indent = _indent(line)
            if indent <= parent or (level is not None and indent < level):
                break
            if level is None:
                level = indent
            elif indent > level:
                raise self.error(index, "unexpected indentation")
            m = _KEY.match(line.strip())
            if m is None:
                raise self.error(index, f"expected 'key: value', found {line.strip()[:40]!r}")
            key, rest = m.group("key").rstrip().lower(), (m.group("rest") or "").strip()
            value, index = self.value(index, level, rest, nested=nested)
            values.setdefault(key, value)
        return values, index

    def value(self, index: int, level: int, rest: str, *, nested: bool) -> tuple[Any, int]:
        """Read the value of the key on line ``index``; return it and the next line index."""
        block = _BLOCK.match(rest)
        if block:
            return self.block_scalar(index + 1, level, folded=block.group("style") == ">")
        if rest and not rest.startswith("#"):
            return self.scalar(rest, index), index + 1
        # Nothing after the colon: a list or a mapping may follow on the next lines.
        after = index + 1
        while after < len(self.lines) and _skippable(self.lines[after]):
            after += 1
        if after == len(self.lines):
            return None, after
        following = self.lines[after]
        indent, stripped = _indent(following), following.strip()
        if stripped.startswith("-") and stripped[1:2] in ("", " ", "\t") and indent >= level:
            return self.block_list(after, indent)
        if indent > level:
            if nested:
                raise self.error(after, "nested too deep (one level of mapping is read)")
            return self.mapping(after, level, nested=True)
        return None, index + 1

    def block_list(self, index: int, indent: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        while index < len(self.lines):
            line = self.lines[index]
            if _skippable(line):
                index += 1
                continue
            stripped = line.strip()
            if _indent(line) != indent or not stripped.startswith("-"):
                break
            if stripped[1:2] not in ("", " ", "\t"):
                break
            item = stripped[1:].strip()
            if item:
                items.append(self.scalar(item, index))
            index += 1
        return items, index

    def block_scalar(self, index: int, level: int, *, folded: bool) -> tuple[str, int]:
        """Read a ``|`` or ``>`` block: the lines indented deeper than its key."""
        taken: list[str] = []
        block_indent = None
        while index < len(self.lines):
            line = self.lines[index]
            if _blank(line):
                taken.append("")
                index += 1
                continue
            indent = _indent(line)
            if indent <= level:
                break
            if block_indent is None:
                block_indent = indent
            # A line less indented than the block's first still belongs to it (YAML would
            # refuse it); keep its text rather than fail a hand-edited file.
            taken.append(line[min(indent, block_indent) :])
            index += 1
        if folded:
            paragraphs = "\n".join(taken).strip("\n").split("\n\n")
            text = "\n\n".join(" ".join(p.split("\n")) for p in paragraphs)
        else:
            text = "\n".join(taken).strip("\n")
        return text, index

    def scalar(self, text: str, index: int) -> Any:
        """Read a one-line value: a quoted string, a ``[flow, list]`` or plain text."""
        if text.startswith("["):
            items, end = self.flow_list(text, index)
            self.expect_end(text, end, index)
            return items
        if text[0] in "\"'":
            value, end = self.quoted(text, 0, index)
            self.expect_end(text, end, index)
            return value
        # YAML ends a plain scalar at " #" (a comment).
        cut = re.search(r"[ \t]#", text)
        plain = (text[: cut.start()] if cut else text).strip()
        return None if plain in ("~", "null", "Null", "NULL") else plain

    def quoted(self, text: str, start: int, index: int) -> tuple[str, int]:
        """Read the quoted string at ``text[start]``; return it and the index after it."""
        if text[start] == '"':
            try:
                value, end = _json_decoder.raw_decode(text, start)
            except ValueError as exc:
                raise self.error(index, f"bad double-quoted string: {getattr(exc, 'msg', exc)}") from None
            return value, end
        parts: list[str] = []
        pos = start + 1
        while True:
            close = text.find("'", pos)
            if close < 0:
                raise self.error(index, "single-quoted string is not closed")
            parts.append(text[pos:close])
            if text.startswith("''", close):
                parts.append("'")
                pos = close + 2
                continue
            return "".join(parts), close + 1

    def flow_list(self, text: str, index: int) -> tuple[list[str], int]:
        items: list[str] = []
        pos = 1
        while True:
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            if pos >= len(text):
                raise self.error(index, "list is not closed with ']'")
            if text[pos] == "]" and not items:
                return items, pos + 1
            if text[pos] in "\"'":
                item, pos = self.quoted(text, pos, index)
            else:
                end = pos
                while end < len(text) and text[end] not in ",]":
                    end += 1
                item, pos = text[pos:end].strip(), end
            items.append(item)
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            if pos >= len(text):
                raise self.error(index, "list is not closed with ']'")
            if text[pos] == ",":
                pos += 1
            elif text[pos] == "]":
                return items, pos + 1
            else:
                raise self.error(index, "expected ',' or ']' in list")

    def expect_end(self, text: str, end: int, index: int) -> None:
        rest = text[end:].strip()
        if rest and not rest.startswith("#"):
            raise self.error(index, f"unexpected text after value: {rest[:40]!r}")


def _as_text(value: Any) -> str:
    """Return a front-matter value as one string (lists joined, mappings dropped)."""
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, list):
        return _safe_text(", ".join(v for v in value if isinstance(v, str)))
    return ""


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return split_tags(_safe_text(value))
    tags: list[str] = []
    for item in value if isinstance(value, list) else []:
        tag = _safe_text(item).strip() if isinstance(item, str) else ""
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _expert(value: Any) -> Expert | None:
    if isinstance(value, dict):
        name = _as_text(value.get("name"))
        if not name.strip():
            return None
        bio = {k: _as_text(value.get(k)) or None for k in EXPERT_FIELDS}
        return Expert(name=name, **bio)
    name = _as_text(value)
    return Expert(name=name) if name.strip() else None


def _unescape(line: str) -> str:
    return line[1:] if _ESCAPED.match(line) else line


def _safe_text(value: str) -> str:
    """Replace lone surrogates, which stdlib JSON escapes can produce, with U+FFFD."""
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)


def parse(text: str, name: str) -> list[Entry]:
    """Return the one entry of a Markdown text, or raise ParseError saying what is missing."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta: dict[str, Any] = {}
    start = 0
    while start < len(lines) and _blank(lines[start]):
        start += 1
    if start < len(lines) and lines[start].rstrip() == "---":
        close = next((i for i in range(start + 1, len(lines)) if lines[i].rstrip() in _FENCES), None)
        if close is None:
            raise ParseError(
                f"front matter opened at line {start + 1} is not closed with '---'",
                path=name,
                line=start + 1,
            )
        meta = _FrontMatter(lines[start + 1 : close], start + 2, name).read()
        start = close + 1

    heading_title = ""
    sections: dict[str, tuple[int, list[str]]] = {}
    current: list[str] | None = None
    for i in range(start, len(lines)):
        line = lines[i]
        m = _SECTION.match(line)
        if m:
            section = m.group("section").lower()
            if section in sections:
                raise ParseError(
                    f"a second '{section}' section at line {i + 1} (one entry per Markdown file)",
                    path=name,
                    line=i + 1,
                )
            if section == "answer" and "question" not in sections:
                raise ParseError(f"answer at line {i + 1} has no question section before it", path=name, line=i + 1)
            current = []
            sections[section] = (i + 1, current)
            continue
        if current is not None:
            current.append(_unescape(line))
        elif not heading_title:
            h1 = _H1.match(line)
            if h1 and heading_text(h1.group("text")):
                heading_title = clean_text(heading_text(h1.group("text")))

    if not sections:
        # Notes: a heading (or bold line) per question.
        category, tags, expert = _as_text(meta.get("category")), _tags(meta.get("tags")), _expert(meta.get("expert"))
        return parse_notes(lines, start, (category, tags, expert), name)
    q_line, q_lines = sections["question"]
    if "answer" not in sections:
        raise ParseError(f"question at line {q_line} has no '## Answer' section", path=name, line=q_line)
    a_line, a_lines = sections["answer"]
    question, answer = clean_text("\n".join(q_lines)), clean_text("\n".join(a_lines))
    if not question:
        raise ParseError(f"question at line {q_line} is empty", path=name, line=q_line)
    asking = asking_fields(meta)
    if not answer and asking["status"] != OPEN:
        raise ParseError(f"answer at line {a_line} is empty", path=name, line=a_line)

    created = meta.get("created_at")
    if isinstance(created, list):
        created = None
    title = _as_text(meta.get("title"))
    # The date of the last change holds only while the text is the one it dated.
    updated = meta.get("updated_at")
    if not isinstance(updated, str) or meta.get("uid") != make_uid(question, answer):
        updated = None
    return [
        Entry(
            question=question,
            answer=answer,
            title=title or heading_title,
            category=_as_text(meta.get("category")),
            tags=_tags(meta.get("tags")),
            expert=_expert(meta.get("expert")),
            created_at=_as_text(created) or None,
            updated_at=_as_text(updated) or None,
            source=Source(path=name, format=NAME, key="1", line=1),
            raw=text,
            **asking,
        )
    ]


def _block_safe(value: str) -> bool:
    """Tell whether ``value`` reads back exactly from a ``|`` block scalar."""
    if "\n" not in value or "\r" in value or value != value.strip():
        return False
    return all(line == line.rstrip() for line in value.split("\n"))


def _scalar(key: str, value: str, indent: str) -> str:
    if _block_safe(value):
        inner = indent + "  "
        body = "\n".join(inner + line if line else "" for line in value.split("\n"))
        return f"{indent}{key}: |\n{body}"
    return f"{indent}{key}: {json.dumps(value, ensure_ascii=False)}"


def _escape(text: str) -> str:
    return "\n".join("\\" + line if _NEEDS_ESCAPE.match(line) else line for line in text.split("\n"))


def render_markdown(entry: Entry) -> str:
    """Return ``entry`` as Markdown with front matter; ``parse`` reads it back."""
    out = ["---", _scalar("title", entry.title, ""), _scalar("category", entry.category, "")]
    out.append("tags: [" + ", ".join(json.dumps(t, ensure_ascii=False) for t in entry.tags) + "]")
    if entry.expert and entry.expert.name.strip():
        out.append("expert:")
        out.append(_scalar("name", entry.expert.name, "  "))
        for section in EXPERT_FIELDS:
            value = getattr(entry.expert, section)
            if value:
                out.append(_scalar(section, value, "  "))
    if entry.is_open:
        # A question waiting for its answer: its empty answer section is not a mistake.
        out.append("status: open")
        for name in ASKING_FIELDS:
            value = getattr(entry, name)
            if value is not None:
                out.append(f"{name}: {value}" if name == "follows" else _scalar(name, value, ""))
    if entry.created_at:
        out.append(_scalar("created_at", entry.created_at, ""))
    if entry.updated_at:
        # With the uid beside it, so parse can tell whether the text is still the one dated.
        out.append(_scalar("updated_at", entry.updated_at, ""))
        out.append(_scalar("uid", entry.uid, ""))
    out += ["---", "", "## Question", "", _escape(clean_text(entry.question)), ""]
    out += ["## Answer", "", _escape(clean_text(entry.answer)), ""]
    return "\n".join(out)


def detect(text: str, name: str) -> float:
    """Score how surely ``text`` is kb Markdown: Question and Answer headings."""
    lines = text.lstrip("\ufeff").replace("\r", "\n").split("\n", 5000)[:5000]
    found = {m.group("section").lower() for m in map(_SECTION.match, lines) if m}
    if found == {"question", "answer"}:
        return 0.95 if lines[0].rstrip() == "---" else 0.9
    # Notes: headings that ask, with text under them.
    questions = find_questions(lines, 0) if "#" in text or "**" in text or "__" in text else []
    answered = sum(1 for _, _, answer, _ in questions if any(line.strip() for line in answer))
    return 0.0 if not answered else 0.7 if answered > 1 else 0.5
