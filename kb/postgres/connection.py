"""Opening a connection to the PostgreSQL server a kb URL names, and naming what went wrong.

libpq reads the URL, so the ``PG*`` variables, service files and ``.pgpass`` work as they
do for psql. Every failure becomes one KbError that names the server (never the password)
and the reason: down, refusing the login, a hot standby asked to write, a login that may
only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kb.errors import KbError, ReadOnlyLogin, ServerUnavailable, StoreError

if TYPE_CHECKING:
    import psycopg

# How long opening a connection may take before the server counts as down (seconds).
CONNECT_TIMEOUT = 10
# SQLSTATEs of a write refused for what the login or the server is, not for what was written.
_NO_PRIVILEGE = "42501"  # insufficient_privilege
_READ_ONLY = "25006"  # read_only_sql_transaction: a hot standby, or default_transaction_read_only


def describe(url: str) -> str:
    """The server a URL names, as people may see it: ``user@host:port/dbname``, no password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL: libpq's own message says why at connect
        return "the PostgreSQL server"
    host = str(parts.get("host") or parts.get("hostaddr") or "local socket")
    where = host + (f":{parts['port']}" if parts.get("port") else "")
    if parts.get("user"):
        where = f"{parts['user']}@{where}"
    if parts.get("dbname"):
        where += f"/{parts['dbname']}"
    if parts.get("service"):
        where = f"service {parts['service']} ({where})" if host != "local socket" else f"service {parts['service']}"
    return where


def connection_name(conn: psycopg.Connection[Any]) -> str:
    """``user@host:port/dbname`` of an open connection."""
    info = conn.info
    return f"{info.user}@{info.host}:{info.port}/{info.dbname}"


def _reason(message: str) -> str:
    """libpq's message cut to its reason: the text after the last "failed:", on one line."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    reason = first.rsplit("failed:", 1)[-1].strip()
    reason = reason.removeprefix("FATAL:").strip()
    if "Connection refused" in reason or "No such file or directory" in reason:
        return "it is not running or not reachable (connection refused)"
    if "password authentication failed" in reason:
        return "it refused the password (" + reason + ")"
    return reason or first


def connect(url: str, *, schema: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection whose search path is kb's schema.

    Raises:
        ServerUnavailable: the server is down, refused the login, or lacks the database.
        StoreError: psycopg is not installed.
    """
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError(
            "kb needs psycopg to use PostgreSQL", hint='install it with: pip install "kb-answers[postgres]"'
        ) from exc
    try:
        # The search path travels with the login (no round trip of its own), unless the
        # server, or a pooler before it, refuses options at login: then it is SET after.
        try:
            return _open(url, options=_options(url, schema))
        except psycopg.OperationalError as exc:
            if "options" not in str(exc) and "startup parameter" not in str(exc):
                raise
        conn = _open(url)
    except psycopg.OperationalError as exc:
        raise ServerUnavailable(f"cannot use the PostgreSQL server {describe(url)}: {_reason(str(exc))}") from None
    except psycopg.ProgrammingError as exc:  # a URL libpq cannot read
        raise ServerUnavailable(f"cannot read the PostgreSQL URL: {_reason(str(exc))}") from None
    conn.execute(f"SET search_path TO {_quoted(schema)}, pg_catalog")
    return conn


def _open(url: str, options: str | None = None) -> psycopg.Connection[Any]:
    import psycopg

    extra: dict[str, Any] = {"options": options} if options is not None else {}
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name="kb", **extra)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _options(url: str, schema: str) -> str:
    """libpq's ``options`` for a login whose search path is kb's schema, after any the URL
    or $PGOPTIONS give (which these replace otherwise). Spaces and backslashes in the
    schema's name are escaped, as the server splits the options at spaces."""
    import os

    from psycopg.conninfo import conninfo_to_dict

    given = conninfo_to_dict(url).get("options") or os.environ.get("PGOPTIONS") or ""
    path = f"{_quoted(schema)},pg_catalog".replace("\\", "\\\\").replace(" ", "\\ ")
    return f"{given} -c search_path={path}".strip()


def scalar(conn: psycopg.Connection[Any], statement: str, params: Any = None) -> Any:
    """The first column of the first row a statement returns (None when no row)."""
    row = conn.execute(statement, params).fetchone()
    return row[0] if row is not None else None


def in_recovery(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server is a hot standby (a replica that only reads)."""
    return bool(scalar(conn, "SELECT pg_is_in_recovery()"))


def standby_error(conn: psycopg.Connection[Any]) -> ServerUnavailable:
    return ServerUnavailable(
        f"the PostgreSQL server {connection_name(conn)} is a hot standby: it only reads",
        hint="send writes to the primary server",
    )


@contextmanager
def database_errors(conn: psycopg.Connection[Any], doing: str) -> Iterator[None]:
    """Turn a server's refusal of a write, or a lost connection, into kb's one-line errors.

    Other database errors are bugs in kb (a query it built wrong) and keep their traceback.
    """
    import psycopg

    try:
        yield
    except KbError:
        raise
    except psycopg.errors.ReadOnlySqlTransaction:
        if in_recovery(conn):
            raise standby_error(conn) from None
        raise ReadOnlyLogin(
            f"this login may only read: {connection_name(conn)} is read-only ({doing})",
        ) from None
    except psycopg.errors.InsufficientPrivilege:
        raise ReadOnlyLogin(
            "this login may only read",
            hint=f"{conn.info.user} has no right to write kb's tables on {connection_name(conn)} ({doing})",
        ) from None
    except psycopg.OperationalError as exc:
        raise ServerUnavailable(
            f"lost the PostgreSQL server {connection_name(conn)} while {doing}: {_reason(str(exc))}"
        ) from None
