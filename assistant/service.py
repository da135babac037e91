"""The `Assistant` facade: ingest, search, ask, chat, documents, letters, outlines and feedback. The only
thing entry points call."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.answer import compose
from assistant.chat import ConversationStore, new_conversation_id, resolve, searchable, topic_of
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import (
    BadFilter,
    BadQuestion,
    ConversationNotFound,
    DocumentNotFound,
    DocumentRejected,
    DocumentTooLarge,
    LetterNotFound,
    NotALetter,
)
from assistant.feedback import FeedbackStore
from assistant.index import Index
from assistant.ingest.letters import normalise_reference
from assistant.ingest.pipeline import (
    SUFFIXES,
    Limits,
    ParsedDocument,
    file_hash,
    parse_changed,
    parse_document,
    plan_ingest,
)
from assistant.ingest.principles import find_principles
from assistant.ingest.sentences import split_sentences
from assistant.ingest.uploads import upload_name
from assistant.llm import LLMAnswerer
from assistant.outline import build_outline
from assistant.records import (
    SECTIONS,
    Answer,
    ChatReply,
    Chunk,
    DocumentInfo,
    Feedback,
    IngestReport,
    Letter,
    Outline,
    Passage,
    ShownAnswer,
    Skipped,
    Turn,
    name_words,
)
from assistant.retrieve import NO_FILTERS, Filters, retrieve, sentence_texts

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
OUTLINE_DEPTH = 8  # annex passages retrieved per question before the outline keeps the relevant ones
PIECE_CHARS = 40
WARM_SENTENCES = 20_000  # sentences embedded in the background after start-up (~30 MB of vectors)


class Assistant:
    """Holds the loaded model and index; safe to share between threads (writes are serialised)."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, index: Index | None = None
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index = index
        self._conversations: ConversationStore | None = None
        self._feedback: FeedbackStore | None = None
        self._llm: LLMAnswerer | None = None
        self._load_lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        # reference -> (the index snapshot it was built on, outline): valid until the index changes
        self._outlines: dict[str, tuple[object, Outline]] = {}

    # -- loaded parts --------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            with self._load_lock:
                if self._embedder is None:
                    self._embedder = Embedder(
                        self.settings.model,
                        self.settings.query_embeddings,
                        self.settings.index_dir / "models",
                    )
        return self._embedder

    @property
    def index(self) -> Index:
        """The index under `settings.index_dir`, opened on first use."""
        if self._index is None:
            with self._load_lock:
                if self._index is None:
                    self._index = Index(
                        self.settings.index_dir, self.settings.chroma_host, self.settings.chroma_port
                    )
        return self._index

    def close(self) -> None:
        """Release the index (its files and connections); the next use opens it again."""
        with self._load_lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    @property
    def conversations(self) -> ConversationStore:
        """The conversation store (`<index_dir>/conversations.sqlite3`), opened on first use."""
        if self._conversations is None:
            with self._load_lock:
                if self._conversations is None:
                    self._conversations = ConversationStore(
                        self.settings.index_dir / "conversations.sqlite3",
                        max_turns=self.settings.chat_max_turns,
                        max_conversations=self.settings.chat_max_conversations,
                    )
        return self._conversations

    @property
    def feedback_store(self) -> FeedbackStore:
        """Answers shown in Slack and feedback on them (`<index_dir>/feedback.sqlite3`), opened on
        first use."""
        if self._feedback is None:
            with self._load_lock:
                if self._feedback is None:
                    self._feedback = FeedbackStore(
                        self.settings.index_dir / "feedback.sqlite3", self.settings.slack_answers_kept
                    )
        return self._feedback

    @property
    def llm(self) -> LLMAnswerer | None:
        """The LLM answerer when `settings.llm` names one, else None (extractive answers only)."""
        if self._llm is None and self.settings.llm != "none":
            with self._load_lock:
                if self._llm is None:
                    self._llm = LLMAnswerer(self.settings)
        return self._llm

    def warm_up(self) -> None:
        """Load model and index now, so the first question is not the slow one."""
        self.embedder.warm_up()
        _ = self.index.snapshot

    def warm_sentences(self, limit: int = WARM_SENTENCES, batch: int = 64) -> int:
        """Embed the corpus's sentences ahead of the questions that need them (answers are built from
        sentence vectors, computed on first use): meant for a background thread after start-up. Stops at
        `limit` sentences; returns how many it embedded."""
        texts = list(dict.fromkeys(t for chunk in self.index.snapshot.chunks for t in sentence_texts(chunk)))
        texts = texts[:limit]
        for start in range(0, len(texts), batch):
            self.embedder.embed_cached(texts[start : start + batch])
        return len(texts)

    # -- ingest --------------------------------------------------------------------------------------
    def is_stale(self, corpus_dir: Path | None = None) -> bool:
        """True when the corpus folder holds files the index has not seen (or no longer holds some)."""
        plan = plan_ingest(corpus_dir or self.settings.corpus_dir, self.index.document_hashes())
        return bool(plan.changed or plan.removed)

    def ingest(
        self, corpus_dir: Path | None = None, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Bring the index in step with the corpus folder: new and changed files are (re)indexed,
        deleted ones removed, unchanged ones skipped by content hash; unreadable files are reported."""
        started = time.perf_counter()
        folder = corpus_dir or self.settings.corpus_dir
        with self._ingest_lock, self.index.batch():
            self.index.sync()
            known = self.index.document_hashes()
            plan = plan_ingest(folder, known, rebuild=rebuild)
            added: list[str] = []
            updated: list[str] = []
            skipped: list[Skipped] = []
            chunk_count = 0
            for item in parse_changed(plan, progress, self.limits):
                if isinstance(item, Skipped):
                    log.warning("skipped %s: %s", item.name, item.reason)
                    skipped.append(item)
                    continue
                self._store(item)
                chunk_count += len(item.chunks)
                (updated if item.info.name in known else added).append(item.info.name)
            for name in plan.removed:
                self.index.remove_document(name)
            if rebuild:
                for name in set(known) - {n for _, n, _ in plan.changed}:
                    self.index.remove_document(name)
        return IngestReport(
            added=tuple(added),
            updated=tuple(updated),
            removed=tuple(plan.removed),
            unchanged=tuple(plan.unchanged),
            skipped=tuple(skipped),
            chunks_indexed=chunk_count,
            seconds=time.perf_counter() - started,
        )

    @property
    def limits(self) -> Limits:
        """The largest document ingest and upload accept."""
        return Limits(
            max_pages=self.settings.max_document_pages,
            max_bytes=int(self.settings.max_document_mb * 1_000_000),
        )

    def sync(self) -> int:
        """Pick up documents other replicas wrote to a shared Chroma server (no-op for a local index)."""
        return self.index.sync()

    def _store(self, document: ParsedDocument) -> None:
        self.index.replace_document(
            document.info, document.chunks, self._vectors(document.chunks), document.letter
        )

    def _vectors(self, chunks: list[Chunk]) -> np.ndarray:
        return self.embedder.embed_documents([c.embedding_text() for c in chunks])

    def add_document(self, filename: str, content: bytes) -> tuple[DocumentInfo, bool]:
        """Save an uploaded file into the corpus folder and index just that file; returns its entry and
        whether it replaced a document of the same name. The type is read from the content, the name is
        made safe, and a file that cannot be indexed is refused before anything is saved."""
        max_bytes = self.limits.max_bytes or 0
        if len(content) > max_bytes:
            raise DocumentTooLarge(
                filename or "upload",
                f"the file is larger than the limit of {self.settings.max_document_mb:g} MB "
                "(UNGP_MAX_DOCUMENT_MB)",
            )
        name = upload_name(filename, content)
        corpus = self.settings.corpus_dir
        corpus.mkdir(parents=True, exist_ok=True)
        # A hidden name: a folder ingest running meanwhile never picks up a half-written upload.
        pending = corpus / f".upload-{uuid.uuid4().hex}{Path(name).suffix}"
        with self._ingest_lock:
            try:
                pending.write_bytes(content)
                try:
                    document = parse_document(pending, name, file_hash(pending), self.limits)
                except DocumentRejected as exc:
                    raise DocumentRejected(name, exc.reason) from exc
                replaced = name in self.index.document_hashes()
                os.replace(pending, corpus / name)
            finally:
                pending.unlink(missing_ok=True)
            self._store(document)
        log.info("added %s (%d chunks, replaced: %s)", name, len(document.chunks), replaced)
        return document.info, replaced

    def remove_document(self, name: str) -> None:
        """Forget one document in every index and delete its file from the corpus folder (first, so an
        interrupted removal is finished by the next ingest instead of bringing the document back)."""
        corpus = self.settings.corpus_dir.resolve()
        path = (corpus / name).resolve()
        if not path.is_relative_to(corpus) or path == corpus:
            raise DocumentNotFound(f"no document named {name!r} is indexed")
        with self._ingest_lock:
            had_file = path.is_file()
            if had_file:
                path.unlink()
            if not self.index.remove_document(name) and not had_file:
                raise DocumentNotFound(f"no document named {name!r} is indexed")
        log.info("removed %s", name)

    # -- questions -----------------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, filters: Filters = NO_FILTERS) -> list[Passage]:
        """The passages that best match `query`, best first."""
        query = self._checked(query)
        return retrieve(query, self.index, self.embedder, k or self.settings.k, self.checked_filters(filters))

    def ask(self, question: str, filters: Filters = NO_FILTERS) -> Answer:
        """A grounded, cited answer to `question`, or a plain refusal when the corpus does not say."""
        return self._answer(self._checked(question), self.checked_filters(filters))

    def _answer(self, question: str, filters: Filters = NO_FILTERS, search: str | None = None) -> Answer:
        """The extractive answer, or the LLM's when one is configured, the evidence is strong enough to
        answer at all, and its answer passes the citation check. `search`, when given, is what retrieval
        and the evidence check use instead of the question (the LLM still reads the question)."""
        query = search or question
        snapshot = self.index.snapshot  # one snapshot for retrieval and answer: no torn reads mid-ingest
        passages = retrieve(
            query, self.index, self.embedder, max(self.settings.k, 5), filters, snapshot=snapshot
        )
        extractive = compose(
            query,
            passages,
            snapshot,
            self.embedder,
            max_chars=self.settings.max_answer_chars,
            min_support=self.settings.min_support,
        )
        if self.llm is None or not extractive.grounded:
            return extractive
        return self.llm.answer(question, passages, extractive)

    # -- conversations -------------------------------------------------------------------------------
    def chat(
        self,
        message: str,
        conversation_id: str | None = None,
        filters: Filters = NO_FILTERS,
        *,
        create: bool = False,
    ) -> ChatReply:
        """Answer `message` within a conversation (a new one when `conversation_id` is None): a follow-up
        is first rewritten into a standalone question from the previous turn, then answered like `ask`.
        With `create`, an unknown `conversation_id` starts a conversation under that id: for entry points
        that name conversations themselves (a Slack thread)."""
        message = self._checked(message)
        filters = self.checked_filters(filters)
        history = self._history(conversation_id, create)
        conversation_id = conversation_id or new_conversation_id()
        resolution = resolve(message, history[-1] if history else None)
        resolved, answer = resolution.query, None
        search = None if resolved == message else searchable(resolved)
        if resolution.section:
            # "which question asks about that?" is answered from the letters' questions (or refused,
            # naming the closest of them); from anywhere only when no document has such a section
            answer = self._answer(resolved, replace(filters, section=resolution.section), search)
        if answer is None or not answer.passages:
            answer = self._answer(resolved, filters, search=search)
        if resolution.alternative and not answer.grounded:
            # a fragment ("deadline?") that the corpus cannot answer on its own: read it as a follow-up
            alternative = self._answer(
                resolution.alternative, filters, search=searchable(resolution.alternative)
            )
            if alternative.grounded:
                resolved, answer = resolution.alternative, alternative
        topic = topic_of(resolved, answer, self.index.snapshot)
        turn = Turn(message, resolved, answer, topic, find_principles(resolved))
        self.conversations.append(conversation_id, turn)
        return ChatReply(conversation_id, message, resolved, answer)

    def _history(self, conversation_id: str | None, create: bool) -> tuple[Turn, ...]:
        if not conversation_id:
            return ()
        try:
            return self.conversations.turns(conversation_id)
        except ConversationNotFound:
            if create:
                return ()
            raise

    def chat_stream(
        self, message: str, conversation_id: str | None = None, filters: Filters = NO_FILTERS
    ) -> Iterator[str | ChatReply]:
        """`chat` as a stream: pieces of the answer text, then the whole reply. The message, the
        conversation and the filters are checked now, so that bad input fails before a stream starts."""
        message = self._checked(message)
        filters = self.checked_filters(filters)
        if conversation_id:
            self.conversations.turns(conversation_id)
        return self._stream(message, conversation_id, filters)

    def _stream(
        self, message: str, conversation_id: str | None, filters: Filters
    ) -> Iterator[str | ChatReply]:
        reply = self.chat(message, conversation_id, filters)
        yield from pieces(reply.answer.answer)
        yield reply

    def conversation(self, conversation_id: str) -> tuple[Turn, ...]:
        """The stored turns of a conversation, oldest first."""
        return self.conversations.turns(conversation_id)

    def forget_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and its turns."""
        self.conversations.delete(conversation_id)

    def checked_filters(self, filters: Filters) -> Filters:
        """`filters` ready to use: a reference typed any accepted way ("al-oth-170-2021") made canonical;
        a reference no indexed letter has, an unknown section, an addressee with no words in it or dates
        in the wrong order refused with the reason."""
        if filters.section is not None and filters.section not in SECTIONS:
            raise BadFilter(f"section {filters.section!r} does not exist; use one of {', '.join(SECTIONS)}")
        if filters.addressee is not None and not name_words(filters.addressee):
            raise BadFilter("the addressee filter has no letters or digits; give a company or person name")
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise BadFilter(
                f"date_from {filters.date_from.isoformat()} is after date_to {filters.date_to.isoformat()}"
            )
        if filters.reference is not None:
            if normalise_reference(filters.reference) is None:
                raise BadFilter(
                    f"{filters.reference!r} is not a letter reference; "
                    "write it like 'AL OTH 170/2021' or 'AL-OTH-170-2021'"
                )
            filters = replace(filters, reference=self.letter(filters.reference).reference)
        return filters

    def checked_question(self, text: str) -> str:
        """`text` stripped, or `BadQuestion` when it is empty or too long: for entry points that must
        refuse at once and answer later (Slack's slash command acknowledges within three seconds)."""
        return self._checked(text)

    def _checked(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise BadQuestion(
                "the question is empty; ask something about the letters or the Guiding Principles"
            )
        if len(text) > self.settings.max_question_chars:
            limit = self.settings.max_question_chars
            raise BadQuestion(f"the question is {len(text)} characters long; the limit is {limit}")
        return text

    # -- answers shown and feedback -------------------------------------------------------------------------
    def keep_answer(
        self, question: str, answer: Answer, asker: str, channel: str, via: str, resolved: str | None = None
    ) -> ShownAnswer:
        """Remember an answer about to be shown (`via` "mention", "dm" or "slash"), so that its quotes can
        be revealed later and feedback on it recorded with the question."""
        return self.feedback_store.keep(question, resolved or question, answer, asker, channel, via)

    def shown_answer(self, answer_id: str) -> ShownAnswer:
        """A kept answer by the id its message carries."""
        return self.feedback_store.shown(answer_id)

    def rate_answer(self, answer_id: str, user: str, helpful: bool) -> Feedback:
        """Record that `user` found an answer helpful or not (their latest click counts)."""
        return self.feedback_store.rate(answer_id, user, helpful)

    def feedback(self) -> list[Feedback]:
        """Every recorded verdict with its question and answer, oldest first."""
        return self.feedback_store.feedback()

    # -- documents -----------------------------------------------------------------------------------
    def documents(self) -> tuple[DocumentInfo, ...]:
        """Every indexed document with pages and chunk counts."""
        return self.index.documents()

    def document_path(self, name: str) -> Path:
        """The file behind an indexed document, checked to lie inside the corpus folder."""
        if name not in {d.name for d in self.documents()}:
            raise DocumentNotFound(f"no document named {name!r} is indexed")
        corpus = self.settings.corpus_dir.resolve()
        path = (corpus / name).resolve()
        if not path.is_relative_to(corpus) or not path.is_file():
            raise DocumentNotFound(f"the file for {name!r} is no longer in the corpus folder")
        return path

    def document_text(self, name: str) -> str:
        """The cleaned text of a document as indexed (its chunks in order)."""
        chunks = [c for c in self.index.snapshot.chunks if c.document == name]
        if not chunks:
            raise DocumentNotFound(f"no document named {name!r} is indexed")
        return "\n".join(c.text for c in chunks)

    # -- letters -------------------------------------------------------------------------------------
    def letters(self, filters: Filters = NO_FILTERS) -> list[Letter]:
        """The indexed letters that pass `filters`, newest first."""
        filters = self.checked_filters(filters)
        found = [letter for letter in self.index.letters().values() if filters.accepts_letter(letter)]
        return sorted(found, key=lambda letter: (letter.date or "", letter.reference), reverse=True)

    def letter(self, reference: str) -> Letter:
        """The indexed letter with `reference`, typed as printed ("AL OTH 170/2021") or as a slug
        ("AL-OTH-170-2021"), in any case."""
        canonical = normalise_reference(reference)
        if canonical is None:
            raise LetterNotFound(
                f"{reference!r} is not a letter reference; "
                "write it like 'AL OTH 170/2021' or 'AL-OTH-170-2021'"
            )
        found = [letter for letter in self.index.letters().values() if letter.reference == canonical]
        if not found:
            raise LetterNotFound(
                f"no indexed letter has the reference {canonical!r}; `ungp letters` lists them"
            )
        # Two documents may carry one reference (a letter and a copy): the one that asks more wins.
        return min(found, key=lambda letter: (-len(letter.questions), letter.document))

    def outline(self, target: str | Path) -> Outline:
        """A response outline for a letter given by reference, or by file (a file not yet indexed is
        read and indexed on the side, in a temporary index, so the corpus is left as it is)."""
        path = Path(target)
        if path.suffix.lower() in SUFFIXES:
            if not path.is_file():
                raise DocumentNotFound(f"{path} is not a file (give a letter file or a reference)")
            return self._outline_of_file(path)
        letter = self.letter(str(target))
        snapshot = self.index.snapshot
        cached = self._outlines.get(letter.reference)
        if cached is None or cached[0] is not snapshot:
            cached = (snapshot, self._outline(letter, self.index))
            self._outlines[letter.reference] = cached
        return cached[1]

    def _outline(self, letter: Letter, index: Index) -> Outline:
        annex = Filters(document=letter.document, section="annex")
        support = {q.number: self._closest_passages(q.text, index, annex) for q in letter.questions}
        return build_outline(letter, support)

    def _closest_passages(self, text: str, index: Index, filters: Filters) -> list[Passage]:
        """Passages for a long, many-sided text (a letter's question): each sentence is looked up on its
        own, and a passage is as strong as its best match with any sentence, counting the wording it
        shares (BM25, relative to the best passage for that sentence) as much as its meaning (cosine).
        Quoted legal wording is what ties a question to a principle, and the small embedding model
        alone misses it."""
        best: dict[str, Passage] = {}
        for sentence in split_sentences(text):
            passages = retrieve(sentence, index, self.embedder, OUTLINE_DEPTH, filters)
            top_lexical = max((p.lexical for p in passages), default=0.0) or 1.0
            for passage in passages:
                strength = passage.lexical / top_lexical + passage.dense
                known = best.get(passage.chunk.id)
                if known is None or strength > known.score:
                    best[passage.chunk.id] = replace(passage, score=strength)
        ranked = sorted(best.values(), key=lambda p: -p.score)
        return [replace(p, rank=rank) for rank, p in enumerate(ranked)]

    def _outline_of_file(self, path: Path) -> Outline:
        sha = file_hash(path)
        indexed = {d.sha256: d.name for d in self.documents()}
        letters = self.index.letters()
        if sha in indexed and indexed[sha] in letters:
            return self._outline(letters[indexed[sha]], self.index)
        parsed = parse_document(path, path.name, sha)
        if parsed.letter is None:
            raise NotALetter(
                f"{path.name} is not a Special Procedures letter (no reference such as 'AL OTH 170/2021' "
                "on a line of its own on its first page)"
            )
        with tempfile.TemporaryDirectory(prefix="ungp-outline-") as folder:
            side = Index(Path(folder))
            side.replace_document(parsed.info, parsed.chunks, self._vectors(parsed.chunks), parsed.letter)
            return self._outline(parsed.letter, side)


def pieces(text: str, size: int = PIECE_CHARS) -> Iterator[str]:
    """`text` in pieces of whole words of about `size` characters (joined, they give `text` back)."""
    piece = ""
    for word in re.findall(r"\s*\S+\s*|\s+", text):
        if piece and len(piece) + len(word) > size:
            yield piece
            piece = ""
        piece += word
    if piece:
        yield piece
