"""Conversation history that survives a restart: in its own SQLite file beside the index, or
in the catalog's PostgreSQL database when there is one (so every host sees every
conversation).

The SQLite file is kept apart from the article catalog so that chat traffic never contends
with ingestion for the catalog's write lock, and so deleting every conversation is deleting
one file. PostgreSQL locks rows, not files, so there they share the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from core.records import Citation
from core.settings import Settings
from index.database import Database, PostgresDatabase, Row, SqliteDatabase
from index.migrations import CONVERSATIONS

Role = Literal["user", "assistant"]
_ID = re.compile(r"^[0-9a-f]{32}$")


class UnknownConversation(LookupError):
    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation with id {conversation_id!r}")
        self.conversation_id = conversation_id


def new_id() -> str:
    return uuid.uuid4().hex


def new_token() -> str:
    """A conversation's bearer secret: whoever holds it may read, extend and delete it."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Only a hash is stored, so the file alone does not hand out the tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_conversation_id(value: str) -> bool:
    return bool(_ID.match(value))


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str
    question: str | None = None
    """For a user turn: the standalone question that was searched for."""
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    created_at: datetime = field(default_factory=now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "text": self.text,
            "question": self.question,
            "citations": [c.as_dict() for c in self.citations],
            "refused": self.refused,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "turns": self.turns,
        }


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: list[Turn]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "turns": [t.as_dict() for t in self.turns],
        }


def create_schema(db: sqlite3.Connection) -> None:
    """The SQLite file's tables (PostgreSQL's come with the catalog's, index.migrations)."""
    db.executescript(CONVERSATIONS)
    columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
    if "token_hash" not in columns:
        # Conversations stored before tokens existed have none: only the API key opens them.
        db.execute("ALTER TABLE conversations ADD COLUMN token_hash TEXT")
    db.commit()


def open_conversations(settings: Settings) -> ConversationStore:
    """In the catalog's PostgreSQL database when settings name one, else in their own file."""
    if settings.database_url:
        return ConversationStore(PostgresDatabase(settings.database_url, per_thread=False))
    return ConversationStore(
        SqliteDatabase(
            settings.conversations_path,
            timeout=30,
            setup=create_schema,
            pragmas=("foreign_keys=ON",),
            per_thread=False,
        )
    )


class ConversationStore:
    """One connection behind one lock: each operation is a few rows, so serialising them
    costs nothing and rules out SQLite's "database is locked" between the server's threads.
    Between processes (several workers, several hosts) the database takes turns: a turn is
    appended with the conversation's row locked where the engine locks rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        with self._lock, self.db.transaction():
            yield self.db

    def exists(self, conversation_id: str) -> bool:
        if not is_conversation_id(conversation_id):
            return False
        with self._transaction() as db:
            row = db.one("SELECT 1 AS known FROM conversations WHERE id = ?", (conversation_id,))
        return row is not None

    def holds(self, conversation_id: str, token: str) -> bool:
        """Whether `token` is this conversation's own (compared in constant time)."""
        if not is_conversation_id(conversation_id):
            return False
        with self._transaction() as db:
            row = db.one("SELECT token_hash FROM conversations WHERE id = ?", (conversation_id,))
        stored = row["token_hash"] if row is not None else None
        return stored is not None and hmac.compare_digest(stored, token_hash(token))

    def get(self, conversation_id: str) -> Conversation:
        if not is_conversation_id(conversation_id):
            raise UnknownConversation(conversation_id)
        with self._transaction() as db:
            head = db.one("SELECT * FROM conversations WHERE id = ?", (conversation_id,))
            if head is None:
                raise UnknownConversation(conversation_id)
            rows = db.rows(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            )
        return Conversation(
            id=head["id"],
            title=head["title"],
            created_at=datetime.fromisoformat(head["created_at"]),
            updated_at=datetime.fromisoformat(head["updated_at"]),
            turns=[_turn(r) for r in rows],
        )

    def recent_turns(self, conversation_id: str, limit: int) -> list[Turn]:
        """The last `limit` turns, oldest first: what a follow-up can refer back to."""
        if not is_conversation_id(conversation_id):
            raise UnknownConversation(conversation_id)
        with self._transaction() as db:
            if (
                db.one("SELECT 1 AS known FROM conversations WHERE id = ?", (conversation_id,))
                is None
            ):
                raise UnknownConversation(conversation_id)
            rows = db.rows(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY position DESC LIMIT ?",
                (conversation_id, limit),
            )
        return [_turn(r) for r in reversed(rows)]

    def append(
        self,
        conversation_id: str,
        turns: Sequence[Turn],
        *,
        create: bool = False,
        token: str | None = None,
    ) -> None:
        """Adds turns in one transaction, so a question is never stored without its answer.

        With `create`, a conversation that does not exist yet is started (its title is the
        first message, its owner whoever holds `token`); without it, a conversation deleted
        meanwhile raises instead of being silently brought back."""
        if not is_conversation_id(conversation_id):
            raise UnknownConversation(conversation_id)
        stamp = now().isoformat()
        with self._transaction() as db:
            known = db.one(
                f"SELECT 1 AS known FROM conversations WHERE id = ?{db.for_update}",
                (conversation_id,),
            )
            if known is None:
                if not create:
                    raise UnknownConversation(conversation_id)
                title = _title(turns[0].text) if turns else ""
                db.run(
                    "INSERT INTO conversations (id, title, created_at, updated_at, token_hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, title, stamp, stamp, token and token_hash(token)),
                )
            last = db.one(
                "SELECT COALESCE(MAX(position), -1) + 1 AS next FROM turns "
                "WHERE conversation_id = ?",
                (conversation_id,),
            )
            position = int(last["next"]) if last else 0
            db.many(
                "INSERT INTO turns (conversation_id, position, role, text, question, citations,"
                " refused, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        conversation_id,
                        position + offset,
                        t.role,
                        t.text,
                        t.question,
                        json.dumps([c.as_dict() for c in t.citations], ensure_ascii=False),
                        int(t.refused),
                        t.created_at.isoformat(),
                    )
                    for offset, t in enumerate(turns)
                ],
            )
            db.run("UPDATE conversations SET updated_at = ? WHERE id = ?", (stamp, conversation_id))

    def list(
        self, limit: int = 50, offset: int = 0, tokens: Sequence[str] | None = None
    ) -> list[ConversationSummary]:
        """Most recently active first; with `tokens`, only the conversations they open."""
        where, args = "", list[Any]()
        if tokens is not None and not tokens:
            return []
        if tokens is not None:
            where = f"WHERE c.token_hash IN ({','.join('?' * len(tokens))}) "
            args = [token_hash(t) for t in tokens]
        with self._transaction() as db:
            rows = db.rows(
                "SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS n "
                f"FROM conversations c {where}"
                "ORDER BY c.updated_at DESC, c.id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            )
        return [
            ConversationSummary(
                id=r["id"],
                title=r["title"],
                created_at=datetime.fromisoformat(r["created_at"]),
                updated_at=datetime.fromisoformat(r["updated_at"]),
                turns=int(r["n"]),
            )
            for r in rows
        ]

    def delete(self, conversation_id: str) -> bool:
        if not is_conversation_id(conversation_id):
            return False
        with self._transaction() as db:
            db.run("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            gone = db.run("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return gone > 0


def _title(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _turn(row: Row) -> Turn:
    return Turn(
        role=row["role"],
        text=row["text"],
        question=row["question"],
        citations=[Citation.from_dict(c) for c in json.loads(row["citations"])],
        refused=bool(row["refused"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )
