"""Conversations: turns kept in SQLite (bounded, surviving restarts) and follow-ups ("what about GP 20?",
"and the deadline?", "which question asks about that?") rewritten into standalone questions.

Resolution is deterministic and uses no model. A message leans on the previous turn when it opens like a
follow-up ("and ...", "what about ..."), refers back ("it", "about that", "this principle"), or names a
principle and nothing else; a fragment ("deadline?") does when the corpus cannot answer it on its own.

- A message that names new principles and nothing else is the previous question with those principles
  swapped in ("what about GP 20?" after "What does GP 22 require?").
- Otherwise the previous turn's topic is carried into the query: its most telling words (see `topic_of`),
  and its principles when the message adds no topic of its own. Principle numbers are not carried into a
  message with its own focus ("which question asks about that?"): retrieval would rank the principle's
  text above what the message asks for, so there the topic travels as words.
- "Which question asks about ...?" searches the letters' questions section.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

from assistant.database import transaction
from assistant.errors import ConversationNotFound
from assistant.index import Snapshot
from assistant.ingest.principles import PRINCIPLE_REFERENCE, find_principles
from assistant.records import Answer, Resolution, Turn
from assistant.terms import STOPWORDS, terms

TOPIC_WORDS = 8
FEEDBACK_PASSAGES = 3
CARRIED_WORDS = 4
CARRIED_WORDS_BESIDE_OWN = 4
FRAGMENT_TERMS = 2
CONVERSATION_ID = re.compile(r"^[0-9a-f]{32}$")

# Words that say how to answer, not what about: they do not make a message stand on its own.
GENERIC = frozenset(
    terms(
        "ask asks asked explain mean means more also else anything detail details elaborate example "
        "examples same case thing part point instead exactly please further specifically plus ok okay "
        "former latter regarding require requires required want need know furthermore moreover however "
        "therefore thus hence according including particular addition additionally whether allegedly "
        "reportedly may might must shall"
    )
)
OPENER = re.compile(
    r"^\W*(?:(?:and|also|but|so|then|plus|ok(?:ay)?)\b|(?:what|how)\s+about\b|what\s+of\b|as\s+for\b"
    r"|same\s+(?:for|with)\b)",
    re.IGNORECASE,
)
_BACK_NOUNS = (
    r"principles?|questions?|ones?|points?|issues?|topics?|parts?|requirements?|obligations?|provisions?"
    r"|passages?|answers?|paragraphs?|sections?|cases?|commentary|standards?|steps?|dut(?:y|ies)"
    r"|recommendations?"
)
ANAPHOR = re.compile(
    r"\b(?:it|its|itself|them|the\s+same|the\s+above|the\s+former|the\s+latter)\b"
    # a demonstrative standing for something said before: "about that?", "that principle", "this in ..."
    rf"|\b(?:that|this|these|those)\b(?=\s*(?:[?.!,;:)]|$)|\s+(?:{_BACK_NOUNS})\b"
    r"|\s+(?:in|on|for|to|with|of|from|under|by|at|and|or|but|also|too)\b)"
    # ... or as the subject of a question: "does that apply?", "is this required?"
    r"|\b(?:does|do|did|is|was|are|were|can|could|should|would|will)\s+(?:that|this|these|those)\b",
    re.IGNORECASE,
)
QUESTION_START = re.compile(
    r"^\W*(?:who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|should"
    r"|would|will|must|may|has|have|had|tell|list|give|show|explain|describe|summari[sz]e)\b",
    re.IGNORECASE,
)
ASKS_WHICH_QUESTION = re.compile(
    r"\b(?:which|what|any)\s+(?:of\s+the\s+)?questions?\b"
    r"|\bquestions?\s+(?:asks?|asked|covers?|deals?|mentions?)\b"
    r"|\b(?:does|did|do)\s+(?:the\s+letters?|it|they|the\s+experts?)\s+ask\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|\d{3,}")


# -- follow-up resolution ------------------------------------------------------------------------------
def resolve(message: str, previous: Turn | None) -> Resolution:
    """How to search for `message` given the turn before it (None at the start of a conversation)."""
    if previous is None:
        return Resolution(message)
    named = find_principles(message)
    own = own_terms(message)
    if named and not own and previous.principles:
        return Resolution(swap_principles(previous.resolved, named))
    if OPENER.search(message) or ANAPHOR.search(message) or not own:
        section = "questions" if ASKS_WHICH_QUESTION.search(message) else None
        return Resolution(with_topic(message, previous, carry_principles=not own), section=section)
    if len(own) <= FRAGMENT_TERMS and not named and not QUESTION_START.match(message):
        return Resolution(message, alternative=with_topic(message, previous, carry_principles=False))
    return Resolution(message)


def searchable(query: str) -> str:
    """`query` without the words that say how to answer ("asks", "explain", "more"): in a rewritten
    follow-up they would count as vocabulary the evidence must contain, which it need not."""
    return " ".join(w for w in query.split() if not (set(terms(w)) and set(terms(w)) <= GENERIC))


def own_terms(message: str) -> set[str]:
    """The stemmed words of `message` that give it a topic of its own (not principle numbers, not
    words about how to answer)."""
    return set(terms(PRINCIPLE_REFERENCE.sub(" ", message))) - GENERIC


def swap_principles(question: str, principles: tuple[int, ...]) -> str:
    """`question` asked about `principles` instead of the ones it names: the first reference is
    replaced, any others dropped."""
    label = _principle_label(principles)
    references = list(PRINCIPLE_REFERENCE.finditer(question))
    for position, match in reversed(list(enumerate(references))):
        replacement = label if position == 0 else ""
        question = question[: match.start()] + replacement + question[match.end() :]
    return " ".join(question.split())


def with_topic(message: str, previous: Turn, carry_principles: bool) -> str:
    """`message` followed by the previous turn's topic, e.g.
    "and the deadline? (about: grievance mechanisms, remediation)"."""
    context = []
    if carry_principles and previous.principles:
        context.append(_principle_label(previous.principles))
    own = own_terms(message)
    carried = [w for w in previous.topic if terms(w)[0] not in own]
    context.extend(carried[: CARRIED_WORDS_BESIDE_OWN if own else CARRIED_WORDS])
    if not context:
        return message
    return f"{message.strip()} (about: {', '.join(context)})"


def topic_of(resolved: str, answer: Answer, snapshot: Snapshot) -> tuple[str, ...]:
    """The key words a follow-up may lean on, most telling first. Words are scored like pseudo-relevance
    feedback: how much of the text about the topic uses them (the question and the quotes that answered
    it count fully, the top-ranked passages half), times how rare they are in the corpus; so words that
    the question, its answer and its best passages share come first. Words found in fewer than two
    passages are left out: they cannot lead to any passage but the one already shown."""
    texts = [(resolved, 1.0)]
    if answer.grounded:
        texts += [(c.quote, 1.0) for c in answer.citations]
        texts += [(p.chunk.text, 0.5) for p in answer.passages[:FEEDBACK_PASSAGES]]
    weight: dict[str, float] = {}
    spelling: dict[str, str] = {}
    for text, share in texts:
        for word in key_words(text):
            stem = terms(word)[0]
            if snapshot.document_frequency.get(stem, 0) >= 2:
                weight[stem] = weight.get(stem, 0.0) + share
                spelling.setdefault(stem, word)
    ranked = sorted(weight, key=lambda stem: -weight[stem] * snapshot.idf(stem))
    return tuple(spelling[stem] for stem in ranked[:TOPIC_WORDS])


def key_words(text: str) -> list[str]:
    """Content words of `text` in order of appearance, one per stem, as written (lower-cased)."""
    found: dict[str, str] = {}
    for word in _WORD.findall(PRINCIPLE_REFERENCE.sub(" ", text)):
        lower = word.lower().replace("’", "'")
        if lower in STOPWORDS:
            continue
        stems = terms(lower)
        if stems and stems[0] not in GENERIC and stems[0] not in found:
            found[stems[0]] = lower
    return list(found.values())


def _principle_label(principles: tuple[int, ...]) -> str:
    numbers = [str(n) for n in principles]
    if len(numbers) == 1:
        return f"Guiding Principle {numbers[0]}"
    return f"Guiding Principles {', '.join(numbers[:-1])} and {numbers[-1]}"


# -- storage -------------------------------------------------------------------------------------------
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_age ON conversations(updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, message TEXT NOT NULL, resolved TEXT NOT NULL, answer TEXT NOT NULL,
    topic TEXT NOT NULL, principles TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (conversation, position));
"""


def new_conversation_id() -> str:
    """A fresh, unguessable conversation id (32 hex digits)."""
    return uuid.uuid4().hex


class ConversationStore:
    """Conversations in one SQLite file. Bounded: a conversation keeps its last `max_turns` turns, and
    beyond `max_conversations` the least recently used ones are deleted."""

    def __init__(self, path: Path, max_turns: int = 50, max_conversations: int = 1000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_turns = max_turns
        self.max_conversations = max_conversations
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(SCHEMA)

    def turns(self, conversation_id: str) -> tuple[Turn, ...]:
        """The stored turns of a conversation, oldest first."""
        with self._db() as db:
            if (
                not _is_id(conversation_id)
                or not db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            ):
                raise ConversationNotFound(
                    f"no conversation with id {conversation_id!r} (it may have been removed to keep the "
                    "store small); leave conversation_id out to start a new one"
                )
            rows = db.execute(
                "SELECT message, resolved, answer, topic, principles FROM turns WHERE conversation = ? "
                "ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return tuple(
            Turn(
                message=message,
                resolved=resolved,
                answer=_answer_from_json(answer),
                topic=tuple(json.loads(topic)),
                principles=tuple(json.loads(principles)),
            )
            for message, resolved, answer, topic, principles in rows
        )

    def append(self, conversation_id: str, turn: Turn) -> None:
        """Add a turn (creating the conversation if new), then trim to the bounds."""
        if not _is_id(conversation_id):
            raise ConversationNotFound(f"{conversation_id!r} is not a conversation id (32 hex digits)")
        now = time.time()
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO conversations(id, created, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated",
                (conversation_id, now, now),
            )
            (last,) = db.execute(
                "SELECT COALESCE(MAX(position), -1) FROM turns WHERE conversation = ?", (conversation_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO turns(conversation, position, message, resolved, answer, topic, principles, "
                "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    last + 1,
                    turn.message,
                    turn.resolved,
                    _answer_to_json(turn.answer),
                    json.dumps(list(turn.topic)),
                    json.dumps(list(turn.principles)),
                    now,
                ),
            )
            db.execute(
                "DELETE FROM turns WHERE conversation = ? AND position <= ?",
                (conversation_id, last + 1 - self.max_turns),
            )
            db.execute(
                "DELETE FROM conversations WHERE id IN (SELECT id FROM conversations "
                "ORDER BY updated DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (self.max_conversations,),
            )

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation and its turns."""
        with self._lock, self._db() as db:
            removed = db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount
        if not removed:
            raise ConversationNotFound(f"no conversation with id {conversation_id!r}")

    def count(self) -> int:
        """How many conversations are stored."""
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0])

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path)


def _is_id(conversation_id: str) -> bool:
    return bool(CONVERSATION_ID.match(conversation_id))


def _answer_to_json(answer: Answer) -> str:
    return json.dumps(answer.to_dict(), ensure_ascii=False)


def _answer_from_json(text: str) -> Answer:
    return Answer.from_dict(json.loads(text))
