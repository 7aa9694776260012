"""Conversation history that survives a restart, in its own SQLite file beside the index.

Kept apart from the article catalog so that chat traffic never contends with ingestion for the
catalog's write lock, and so deleting every conversation is deleting one file.
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
from pathlib import Path
from typing import Any, Literal

from core.records import Citation

Role = Literal["user", "assistant"]
_ID = re.compile(r"^[0-9a-f]{32}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    token_hash  TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text            TEXT NOT NULL,
    question        TEXT,
    citations       TEXT NOT NULL DEFAULT '[]',
    refused         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated_at);
"""


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


class ConversationStore:
    """One connection behind a lock: every operation is a few rows, so serialising them costs
    nothing and rules out SQLite's "database is locked" between the server's threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(conversations)")}
        if "token_hash" not in columns:
            # Conversations stored before tokens existed have none: only the API key opens them.
            self._db.execute("ALTER TABLE conversations ADD COLUMN token_hash TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def exists(self, conversation_id: str) -> bool:
        if not is_conversation_id(conversation_id):
            return False
        with self._transaction() as db:
            row = db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return row is not None

    def holds(self, conversation_id: str, token: str) -> bool:
        """Whether `token` is this conversation's own (compared in constant time)."""
        if not is_conversation_id(conversation_id):
            return False
        with self._transaction() as db:
            row = db.execute(
                "SELECT token_hash FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        stored = row["token_hash"] if row is not None else None
        return stored is not None and hmac.compare_digest(stored, token_hash(token))

    def get(self, conversation_id: str) -> Conversation:
        if not is_conversation_id(conversation_id):
            raise UnknownConversation(conversation_id)
        with self._transaction() as db:
            head = db.execute(
                "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if head is None:
                raise UnknownConversation(conversation_id)
            rows = db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
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
                db.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone()
                is None
            ):
                raise UnknownConversation(conversation_id)
            rows = db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY position DESC LIMIT ?",
                (conversation_id, limit),
            ).fetchall()
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
            known = db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if known is None:
                if not create:
                    raise UnknownConversation(conversation_id)
                title = _title(turns[0].text) if turns else ""
                db.execute(
                    "INSERT INTO conversations (id, title, created_at, updated_at, token_hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, title, stamp, stamp, token and token_hash(token)),
                )
            (position,) = db.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            db.executemany(
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
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (stamp, conversation_id)
            )

    def list(
        self, limit: int = 50, offset: int = 0, tokens: Sequence[str] | None = None
    ) -> list[ConversationSummary]:
        """Most recently active first; with `tokens`, only the conversations they open."""
        where, args = "", list[Any]()
        if tokens is not None:
            where = f"WHERE c.token_hash IN ({','.join('?' * len(tokens))}) "
            args = [token_hash(t) for t in tokens]
        with self._transaction() as db:
            rows = db.execute(
                "SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS n "
                f"FROM conversations c {where}"
                "ORDER BY c.updated_at DESC, c.id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
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
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            cursor = db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return cursor.rowcount > 0


def _title(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _turn(row: sqlite3.Row) -> Turn:
    return Turn(
        role=row["role"],
        text=row["text"],
        question=row["question"],
        citations=[Citation.from_dict(c) for c in json.loads(row["citations"])],
        refused=bool(row["refused"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )
