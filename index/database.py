"""Where the catalog, the feed sources and the conversations are kept: a SQLite file in the
data directory (the default, what `make demo` runs) or a PostgreSQL database that several
hosts share (NEWSDESK_DATABASE_URL=postgresql://…).

`Database` is the small interface the stores are written against: a few ways to run a query,
a transaction, and what its errors look like. Queries are written once, with `?` parameters,
and run on either engine; only what truly differs (the lexical index, the schema steps, row
locks) is asked of the dialect.

Standard library only at import time: psycopg is imported when PostgreSQL is chosen, so the
CLI's fast paths stay light.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol
from urllib.parse import urlsplit

from core.settings import Settings
from index.migrations import migrate, migrate_postgres

Params = Sequence[Any]


class Row(Protocol):
    """A result row read by column name (sqlite3.Row, or psycopg's dict row)."""

    def __getitem__(self, key: str) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class StoreUnreachable(RuntimeError):
    """A store's server did not answer; our own wrapping of a client's connection error."""


def is_storage_fault(error: BaseException) -> bool:
    """An error of the catalog's database (SQLite or PostgreSQL) or of Chroma: the store, not
    the request, is at fault. (Matched by module, so this needs no psycopg or chromadb.)"""
    if isinstance(error, sqlite3.Error | StoreUnreachable):
        return True
    return type(error).__module__.split(".")[0] in ("chromadb", "psycopg")


def postgres_where(url: str) -> str:
    """host:port/database of a PostgreSQL URL, for messages: never its password."""
    parts = urlsplit(url)
    return f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


class Database(ABC):
    """One database, opened and brought up to date, with a connection per thread (the
    server answers from a thread pool)."""

    where: str
    """What it is, for messages: a file, or a PostgreSQL host and database."""
    for_update: str
    """Appended to a SELECT that reads a row about to be changed, so that two processes
    change it in turn ("" in SQLite, whose writers take turns on the whole file)."""
    integrity_errors: tuple[type[Exception], ...]

    def __init__(self, *, per_thread: bool = True) -> None:
        """`per_thread=False`: one connection for every thread, for a caller that serialises
        its use of the database itself (the conversation store), so it holds one, not one
        per serving thread."""
        self._per_thread = per_thread
        self._local = self._holder()
        self._connections: list[Any] = []
        self._guard = threading.Lock()

    @abstractmethod
    def _connect(self) -> Any:
        """A new connection, set up for this database."""

    def _is_open(self, connection: Any) -> bool:
        return True

    @property
    def _db(self) -> Any:
        """This thread's connection (a new one when it has none, or its old one was lost)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or not self._is_open(connection):
            connection = self._connect()
            self._local.connection = connection
            with self._guard:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._guard:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = self._holder()

    def _holder(self) -> Any:
        return threading.local() if self._per_thread else SimpleNamespace()

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Any:
        """A cursor (with fetchone, fetchall, rowcount) over a query with `?` parameters."""

    @abstractmethod
    def many(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self.execute(sql, params).fetchall())

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self.execute(sql, params).fetchone()
        return row

    def run(self, sql: str, params: Params = ()) -> int:
        """A write; the number of rows it changed."""
        return int(self.execute(sql, params).rowcount)


class SqliteDatabase(Database):
    """A SQLite file; WAL lets the readers go on while a writer's transaction is open on its
    own connection."""

    for_update = ""
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = 60,
        setup: Callable[[sqlite3.Connection], object] = migrate,
        pragmas: Sequence[str] = (),
        per_thread: bool = True,
    ) -> None:
        super().__init__(per_thread=per_thread)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.where = str(path)
        self._timeout = timeout
        self._pragmas = ("journal_mode=WAL", "synchronous=NORMAL", *pragmas)
        setup(self._db)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self._timeout, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        for pragma in self._pragmas:
            connection.execute(f"PRAGMA {pragma}")
        return connection

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._db.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._db:
            yield


class PostgresDatabase(Database):
    """A PostgreSQL database. Connections are in autocommit (a read never holds a
    transaction open) and writes run in explicit transactions. A connection the server
    dropped (a restart, a failover) is replaced on next use, so Newsdesk rides out a database
    restart without one of its own: the requests made while it is down fail (503), the
    next ones succeed."""

    for_update = " FOR UPDATE"

    def __init__(self, url: str, *, connect_timeout: int = 10, per_thread: bool = True) -> None:
        import psycopg

        super().__init__(per_thread=per_thread)
        self.url = url
        self.where = postgres_where(url)
        self.integrity_errors = (psycopg.IntegrityError,)
        self._connect_timeout = connect_timeout
        migrate_postgres(self._db)

    def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(
            self.url,
            autocommit=True,
            row_factory=dict_row,
            connect_timeout=self._connect_timeout,
            application_name="newsdesk",
        )

    def _is_open(self, connection: Any) -> bool:
        return not connection.closed

    def _retrying(self, action: Callable[[Any], Any]) -> Any:
        """`action` on this thread's connection; once more on a new connection when the old
        one turns out to have been dropped, unless a transaction was open on it (whose work
        would be lost: that error goes to the caller)."""
        import psycopg

        connection = self._db
        idle = connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        try:
            return action(connection)
        except psycopg.OperationalError:
            if not (idle and connection.closed):
                raise
            return action(self._db)

    def execute(self, sql: str, params: Params = ()) -> Any:
        query = sql.replace("?", "%s")
        return self._retrying(lambda db: db.execute(query, params))

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        query = sql.replace("?", "%s")
        rows = list(rows)
        self._retrying(lambda db: db.cursor().executemany(query, rows))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        import psycopg

        with ExitStack() as stack:
            connection = self._db
            try:
                stack.enter_context(connection.transaction())
            except psycopg.OperationalError:
                if not connection.closed:
                    raise
                stack.enter_context(self._db.transaction())  # BEGIN on a new connection
            yield


def open_database(settings: Settings) -> Database:
    """The catalog's database as settings choose it (the sources live in it too)."""
    if settings.database_url:
        return PostgresDatabase(settings.database_url)
    return SqliteDatabase(settings.catalog_path)


def has_catalog(settings: Settings) -> bool:
    """Whether there may be an index to read without creating one: a SQLite catalog file
    exists, or the catalog is in PostgreSQL (which the first query will reach, or not)."""
    return bool(settings.database_url) or settings.catalog_path.exists()
