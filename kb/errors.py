"""Exceptions the library raises; the CLI maps each to a one-line message and an exit code.

Each carries what a person needs to act on it (the file, the line, a hint). Library code
raises these and never prints or exits.
"""

from __future__ import annotations


class KbError(Exception):
    """Base of every error kb reports to a user without a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ParseError(KbError):
    """A file or record could not be read as Q&A; says which and where."""

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, hint: str | None = None
    ) -> None:
        where = path or ""
        if where and line is not None:
            where = f"{where}:{line}"
        elif line is not None:
            where = f"line {line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.reason = message
        self.path = path
        self.line = line


class UsageError(KbError):
    """A request that cannot be carried out as given (exit 2, as Click's usage errors)."""

    exit_code = 2


class NotFound(KbError):
    """An entry, expert or category that was asked for does not exist."""

    exit_code = 1


class StoreMissing(NotFound):
    """A command that reads was pointed at a store that does not exist (only writes create one)."""


class InvalidEntry(KbError):
    """An entry lacks a required field (question or answer) or has a malformed one."""

    exit_code = 2


class StoreError(KbError):
    """The store cannot be opened or written: corrupt, unreadable or read-only."""

    exit_code = 3


class StoreBusy(StoreError):
    """Another kb process held the store's lock past the timeout."""

    exit_code = 4


class ServerUnavailable(StoreError):
    """A database server cannot serve kb: down, refusing the login, or a read-only standby.

    The message names the server (never its password) and the reason.
    """


class ReadOnlyLogin(StoreError):
    """The database login may read but not write; the write was not made."""


class EditConflict(KbError):
    """An entry changed after it was read for an edit; the edit was not saved."""

    exit_code = 1


class AlreadyAnswered(EditConflict):
    """The question was answered (by someone else, perhaps meanwhile); this answer was not
    stored, and ``draft`` names the file that keeps its text."""

    def __init__(self, message: str, *, draft: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.draft = draft


class SearchIndexError(KbError):
    """The search index could not be built or queried; ``corrupt`` when the file is damaged."""

    exit_code = 3
    corrupt = False


class QueryError(KbError):
    """A search query could not be understood."""

    exit_code = 2


class Duplicate(InvalidEntry):
    """The entry's question and answer are already stored; nothing was added.

    A subclass of InvalidEntry (so ``except InvalidEntry`` still catches it), but exit
    code 1: the input is well formed, it is just already there.
    """

    exit_code = 1

    def __init__(self, message: str, *, existing_id: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.existing_id = existing_id


class EditorError(KbError):
    """The text editor could not be started or exited with an error."""

    exit_code = 1


class ConfigError(KbError):
    """A KB_* environment variable holds a value kb cannot use."""

    exit_code = 2


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped an ingest; ``saved`` entries were committed before it (a re-run goes on).

    A KeyboardInterrupt still, so code that stops on Ctrl-C stops on this too.
    """

    def __init__(self, saved: int, *, dry_run: bool = False) -> None:
        super().__init__(saved)
        self.saved = saved
        self.dry_run = dry_run

    def __str__(self) -> str:
        if self.dry_run:
            return "interrupted: nothing was written (dry run)"
        return f"interrupted: {self.saved} entries saved; run the same command again to continue"
