"""Answers shown in Slack and the helpful / not helpful verdicts on them, in one SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from assistant.database import transaction
from assistant.errors import AnswerNotFound
from assistant.records import Answer, Feedback, ShownAnswer

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, resolved TEXT NOT NULL, answer TEXT NOT NULL,
    asker TEXT NOT NULL, channel TEXT NOT NULL, via TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_by_age ON answers(created);
CREATE TABLE IF NOT EXISTS feedback (
    answer TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE, user TEXT NOT NULL,
    helpful INTEGER NOT NULL, created REAL NOT NULL, PRIMARY KEY (answer, user));
"""
ANSWER_COLUMNS = "a.id, a.question, a.resolved, a.answer, a.asker, a.channel, a.via, a.created"


class FeedbackStore:
    """Shown answers and feedback in one SQLite file. Bounded: beyond `max_answers` the oldest answers
    that nobody rated are deleted; rated ones are kept, since they are what reviewers read."""

    def __init__(self, path: Path, max_answers: int = 5000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_answers = max_answers
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(SCHEMA)

    def keep(
        self, question: str, resolved: str, answer: Answer, asker: str, channel: str, via: str
    ) -> ShownAnswer:
        """Remember an answer about to be shown; its id goes into the message's buttons."""
        shown = ShownAnswer(uuid.uuid4().hex, question, resolved, answer, asker, channel, via, time.time())
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO answers(id, question, resolved, answer, asker, channel, via, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    shown.id,
                    question,
                    resolved,
                    json.dumps(answer.to_dict(), ensure_ascii=False),
                    asker,
                    channel,
                    via,
                    shown.created,
                ),
            )
            db.execute(
                "DELETE FROM answers WHERE id IN (SELECT id FROM answers WHERE id NOT IN "
                "(SELECT answer FROM feedback) ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (self.max_answers,),
            )
        return shown

    def shown(self, answer_id: str) -> ShownAnswer:
        """A kept answer by id."""
        with self._db() as db:
            row = db.execute(
                f"SELECT {ANSWER_COLUMNS} FROM answers a WHERE a.id = ?", (answer_id,)
            ).fetchone()
        if row is None:
            raise AnswerNotFound(
                f"no kept answer with id {answer_id!r} (old answers are removed to keep the store small); "
                "ask the question again"
            )
        return _shown(row)

    def rate(self, answer_id: str, user: str, helpful: bool) -> Feedback:
        """Record `user`'s verdict on an answer; a second click by the same person replaces the first."""
        shown = self.shown(answer_id)
        now = time.time()
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO feedback(answer, user, helpful, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(answer, user) DO UPDATE SET "
                "helpful = excluded.helpful, created = excluded.created",
                (answer_id, user, int(helpful), now),
            )
        return Feedback(shown, user, helpful, now)

    def feedback(self) -> list[Feedback]:
        """Every verdict, oldest first."""
        with self._db() as db:
            rows = db.execute(
                f"SELECT {ANSWER_COLUMNS}, f.user, f.helpful, f.created FROM feedback f "
                "JOIN answers a ON a.id = f.answer ORDER BY f.created, f.rowid"
            ).fetchall()
        return [Feedback(_shown(row[:8]), row[8], bool(row[9]), row[10]) for row in rows]

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path)


def _shown(row: tuple[Any, ...]) -> ShownAnswer:
    answer_id, question, resolved, answer, asker, channel, via, created = row
    return ShownAnswer(
        answer_id, question, resolved, Answer.from_dict(json.loads(answer)), asker, channel, via, created
    )
