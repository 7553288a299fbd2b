"""Shell completion for the `kb` command: entry ids, category names, expert names.

Callbacks for Typer's ``autocompletion=``. Typer passes their arguments by name (``ctx``,
``incomplete``), so this module needs no typer import, and it imports nothing else at
the top either: the cli modules import it on every run, while the callbacks only run
when a shell asks for completions. They read the knowledge base as it is (for a files
store, its search index with no staleness check and no rebuild: a completion must
answer at once), never create anything, and return [] on any problem rather than break
the user's shell.
"""

from typing import TYPE_CHECKING, Any

# Only quoted annotations name these. The callbacks' own annotations are plain builtins:
# Typer inspects them (evaluating any strings) each time it builds the command line.
if TYPE_CHECKING:
    from collections.abc import Callable

    from kb.api import KnowledgeBase

# Below this many entries every id is offered; above it, the newest 200.
_COMPLETE_ALL_BELOW = 2000
_MAX_ITEMS = 200


def complete_ids(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Complete entry ids (or uid prefixes), with each entry's title as help."""
    text = incomplete.strip().lstrip("#").lower()

    def find(kb: "KnowledgeBase") -> "list[tuple[str, str]]":
        from kb.backend import Request

        newest = Request(sort="id", descending=True, limit=_MAX_ITEMS)
        entries = kb.list() if kb.count() <= _COMPLETE_ALL_BELOW else kb.list(newest)
        by_id = [(str(e.id), _plain(e.display_title())) for e in entries if str(e.id).startswith(text)]
        if by_id or not text:
            return by_id
        return [(e.uid, _plain(e.display_title())) for e in entries if e.uid.startswith(text)]

    return _complete(ctx, find)


def complete_categories(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Complete category names (any case), with their entry counts as help."""
    prefix = incomplete.casefold()
    return _complete(
        ctx,
        lambda kb: [
            (name, _count(n, "entry", "entries")) for name, n in kb.categories() if name.casefold().startswith(prefix)
        ],
    )


def complete_experts(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Complete expert names (any case), with their answer counts as help."""
    prefix = incomplete.casefold()
    return _complete(
        ctx,
        lambda kb: [
            (s.name, _count(s.count, "answer", "answers")) for s in kb.experts() if s.name.casefold().startswith(prefix)
        ],
    )


def _complete(ctx: Any, find: "Callable[[KnowledgeBase], list[tuple[str, str]]]") -> "list[tuple[str, str]]":
    """Read the knowledge base named by --db (on this command or a parent), $KB_DB or the default, as it is."""
    try:
        from kb.api import KnowledgeBase

        db = None
        while ctx is not None and db is None:
            db = (getattr(ctx, "params", None) or {}).get("db")
            ctx = getattr(ctx, "parent", None)
        with KnowledgeBase.open(db or None, as_is=True) as kb:
            return find(kb)[:_MAX_ITEMS]
    except Exception:  # a completion must never raise into the shell
        return []


def quote_bash_completions() -> None:
    """Make bash insert completions as shell words: `'Oncology (General Cancer)'`.

    bash puts COMPREPLY on the command line as it is, so a value with spaces splits and
    a `(` is a syntax error; zsh and fish quote what they insert themselves. The quoting
    happens when a value is written out, after Typer kept the values that start with
    what was typed. (Typer registers its own classes on every run, so this is called
    just before completing; the module is Typer's, pinned below 0.29 in pyproject.)
    """
    import shlex

    from typer._click.shell_completion import add_completion_class
    from typer._completion_classes import BashComplete

    class _QuotingBashComplete(BashComplete):
        def format_completion(self, item: Any) -> str:
            return shlex.quote(item.value)

    add_completion_class(_QuotingBashComplete, "bash")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _plain(text: str) -> str:
    """Make a title safe for a completion menu: one line, no control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:60]
