"""The harness behind `ungp eval`: runs the gold questions through each system (the assistant in-process or
over HTTP, the LangChain recipe, BM25), scores them with `assistant.metrics`, and writes the reports.

A system is anything with `search(query, k) -> [Passage]` and `ask(question) -> Answer`; the `Assistant`
facade is one as it stands, the baselines and `ServedAssistant` speak the same records. The harness
reports; the CI gate on its figures is `tests/test_evaluate.py`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from assistant.baselines import BM25Baseline, LangChainRecipe, recipe_chunks
from assistant.config import PROJECT_ROOT, Settings
from assistant.errors import DocumentNotFound, DocumentRejected, EvaluationError
from assistant.ingest.pipeline import parse_document
from assistant.metrics import Item, Outcome, collapse, quote_in, score_item, summarise
from assistant.records import Answer, Chunk, Citation, Passage
from assistant.service import Assistant

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
DEFAULT_OUT = PROJECT_ROOT / "eval" / "results"
SYSTEMS = ("assistant", "langchain", "bm25")
SPLITS = ("tune", "test")
SEARCH_K = 5
Progress = Callable[[str, int, int], None]

# The CI gate (issue 3): metric -> (comparison, threshold). `tests/test_evaluate.py` holds its own copy.
GATE: dict[str, tuple[str, float]] = {
    "recall@5": (">=", 0.95),
    "mrr@5": (">=", 0.85),
    "citation_validity": (">=", 1.0),
    "principle_accuracy": (">=", 0.95),
    "key_fact_coverage": (">=", 0.85),
    "refusal_accuracy": (">=", 0.85),
    "false_refusal": ("<=", 0.05),
}
MUST_BEAT_LANGCHAIN = ("recall@1", "mrr@5")


class System(Protocol):
    """What the harness runs: ranked passages for a query, and an answer with citations."""

    def search(self, query: str, k: int | None = None) -> list[Passage]: ...

    def ask(self, question: str) -> Answer: ...


def shown_path(path: Path) -> str:
    """A path as the report names it: relative to the project when it lies inside, so reports made on
    different machines compare."""
    resolved = path.resolve()
    return (
        resolved.relative_to(PROJECT_ROOT).as_posix() if resolved.is_relative_to(PROJECT_ROOT) else str(path)
    )


# -- the gold questions --------------------------------------------------------------------------------
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "question": str,
    "answerable": bool,
    "evidence": list,
    "pages": list,
    "principles": list,
    "must_include": list,
}


def load_questions(path: Path) -> list[Item]:
    """The items of a JSONL gold file; a bad line is named with the field that is wrong."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvaluationError(f"cannot read the questions file {path}: {exc.strerror or exc}") from exc
    items: list[Item] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{where} is not valid JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(raw, dict):
            raise EvaluationError(f"{where} is not a JSON object")
        for name, kind in REQUIRED.items():
            if not isinstance(raw.get(name), kind):
                raise EvaluationError(f"{where}: field {name!r} is missing or not a {kind.__name__}")  # type: ignore[union-attr]
        items.append(
            Item(
                id=raw["id"],
                question=raw["question"],
                answerable=raw["answerable"],
                evidence=tuple(raw["evidence"]),
                pages=tuple(raw["pages"]),
                principles=tuple(raw["principles"]),
                must_include=tuple(raw["must_include"]),
                kind=str(raw.get("kind", "")),
                split=str(raw.get("split", "")),
            )
        )
    if not items:
        raise EvaluationError(f"the questions file {path} holds no questions")
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise EvaluationError(f"{path.name}: duplicate question id(s) {', '.join(duplicates)}")
    return items


# -- the assistant over HTTP ---------------------------------------------------------------------------
class ServedAssistant:
    """A running `ungp serve`, reached through `/search` and `/ask`, in the assistant's own records."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def _post(self, route: str, body: dict[str, object]) -> Any:
        try:
            response = self._client.post(route, json=body)
        except httpx.HTTPError as exc:
            raise EvaluationError(
                f"cannot reach the assistant at {self.url} ({exc}); is `ungp serve` running there?"
            ) from exc
        if response.status_code != 200:
            raise EvaluationError(f"{self.url}{route} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        results = self._post("/search", {"query": query, "k": k or SEARCH_K})["results"]
        return [
            Passage(
                chunk=Chunk(
                    id=r["chunk_id"],
                    document=r["document"],
                    text=r["text"],
                    page=r["page"],
                    pages=tuple(r["pages"]),
                    section=r["section"],
                    principles=tuple(r["principles"]),
                    reference=r["reference"],
                ),
                score=r["score"],
                rank=rank,
            )
            for rank, r in enumerate(results)
        ]

    def ask(self, question: str) -> Answer:
        body = self._post("/ask", {"question": question})
        citations = tuple(
            Citation(
                id=c["id"],
                document=c["document"],
                reference=c["reference"],
                page=c["page"],
                principles=tuple(c["principles"]),
                quote=c["quote"],
                section=c["section"],
            )
            for c in body["citations"]
        )
        return Answer(
            answer=body["answer"],
            grounded=body["grounded"],
            citations=citations,
            support=body["support"],
            mode=body["mode"],
        )

    def document_texts(self, name: str) -> list[str]:
        """The served file of a document, read the two ways a quote may be checked against."""
        try:
            response = self._client.get(f"/documents/{name}/file")
        except httpx.HTTPError:
            return []
        if response.status_code != 200:
            return []
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(name).name
            path.write_bytes(response.content)
            return file_texts(path, name)

    def close(self) -> None:
        self._client.close()


# -- what a citation quote is checked against ----------------------------------------------------------
def file_texts(path: Path, name: str) -> list[str]:
    """A document's raw text (pypdf, page by page, as the recipe and the gold set read it) and its cleaned
    text (the chunks our ingest makes of it, in order)."""
    texts: list[str] = []
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        with contextlib.suppress(PyPdfError, OSError, ValueError):  # damaged: nothing quotable in it
            texts.append("\n".join(page.extract_text() or "" for page in PdfReader(path).pages))
    else:
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
    with contextlib.suppress(DocumentRejected):
        texts.append("\n".join(c.text for c in parse_document(path, name, "").chunks))
    return texts


class DocumentTexts:
    """Per document, the texts in which a citation quote counts as verbatim, from the first sources that
    know the document (collapsed once, then cached)."""

    def __init__(self, sources: Sequence[Callable[[str], list[str]]]) -> None:
        self._sources = sources
        self._cache: dict[str, list[str]] = {}

    def texts(self, name: str) -> list[str]:
        if name not in self._cache:
            found: list[str] = []
            for source in self._sources:
                found += source(name)
            self._cache[name] = [collapse(t) for t in found]
        return self._cache[name]

    def quote_is_valid(self, document: str, quote: str) -> bool:
        return any(quote_in(text, quote) for text in self.texts(document))


def corpus_source(corpus_dir: Path) -> Callable[[str], list[str]]:
    """Texts of a document read from the corpus folder (never outside it)."""
    root = corpus_dir.resolve()

    def texts(name: str) -> list[str]:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return []
        return file_texts(path, name)

    return texts


def indexed_source(assistant: Assistant) -> Callable[[str], list[str]]:
    """The cleaned text the in-process assistant indexed."""

    def texts(name: str) -> list[str]:
        try:
            return [assistant.document_text(name)]
        except DocumentNotFound:
            return []

    return texts


# -- a run ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SystemRun:
    """One system's outcomes on every item, and how long it took to set up."""

    name: str
    description: str
    outcomes: tuple[Outcome, ...]
    setup_seconds: float

    def figures(self, split: str | None = None) -> dict[str, float | int | None]:
        """Every metric over all items, or over one split."""
        return summarise([o for o in self.outcomes if split is None or o.item.split == split])


@dataclass(frozen=True)
class Evaluation:
    """A whole run: which questions, each system's outcomes, and the wall-clock time."""

    questions: str
    runs: tuple[SystemRun, ...]
    seconds: float
    created: str

    def run(self, name: str) -> SystemRun | None:
        return next((r for r in self.runs if r.name == name), None)

    def splits(self) -> list[str]:
        present = {o.item.split for r in self.runs for o in r.outcomes}
        return [s for s in SPLITS if s in present]


@dataclass(frozen=True)
class Contender:
    """A system ready to run, with what it is and what setting it up cost."""

    name: str
    system: System
    description: str
    setup_seconds: float = 0.0


def build_contenders(
    names: Sequence[str],
    settings: Settings,
    assistant: Assistant | None = None,
    against: str | None = None,
    status: Callable[[str], None] | None = None,
) -> list[Contender]:
    """The systems to compare, in the order asked: the assistant (in-process, or served at `against`),
    the LangChain recipe and BM25 over the same recipe chunks of `settings.corpus_dir`."""
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise EvaluationError(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    say = status or (lambda message: None)
    contenders: list[Contender] = []
    chunks = None
    for name in names:
        started = time.perf_counter()
        if name == "assistant":
            if against:
                system: System = ServedAssistant(against)
                description = f"ungp-assistant served at {against} (/search, /ask)"
            else:
                service = assistant or Assistant(settings)
                say("Loading the assistant")
                service.warm_up()
                system, description = (
                    service,
                    "ungp-assistant in-process (hybrid retrieval, extractive answer)",
                )
        else:
            if chunks is None:
                say("Splitting the corpus the tutorial way")
                chunks = recipe_chunks(settings.corpus_dir)
                if not chunks:
                    raise EvaluationError(f"the corpus folder {settings.corpus_dir} holds no documents")
            if name == "langchain":
                say("Embedding the recipe chunks into Chroma")
                system = LangChainRecipe(settings.corpus_dir, settings.model, chunks=chunks)
                description = LangChainRecipe.description
            else:
                system = BM25Baseline(settings.corpus_dir, chunks=chunks)
                description = BM25Baseline.description
        contenders.append(Contender(name, system, description, time.perf_counter() - started))
    return contenders


def document_texts_for(
    contenders: Sequence[Contender], settings: Settings, assistant: Assistant | None = None
) -> DocumentTexts:
    """Where this run checks citation quotes: what the assistant indexed or serves, and the corpus."""
    sources: list[Callable[[str], list[str]]] = []
    for contender in contenders:
        if isinstance(contender.system, ServedAssistant):
            sources.append(contender.system.document_texts)
        elif isinstance(contender.system, Assistant):
            sources.append(indexed_source(contender.system))
    if assistant is not None and not any(isinstance(c.system, Assistant) for c in contenders):
        sources.append(indexed_source(assistant))
    sources.append(corpus_source(settings.corpus_dir))
    return DocumentTexts(sources)


def run_evaluation(
    items: Sequence[Item],
    contenders: Sequence[Contender],
    texts: DocumentTexts,
    questions: str = "",
    progress: Progress | None = None,
) -> Evaluation:
    """Ask every system every item (one ask, then one search at k=5) and score the outcomes. The ask
    goes first so that its latency is what a user waits for; the search after it may find the question's
    embedding cached (the assistant and the LangChain recipe keep one), as a repeated search would."""
    started = time.perf_counter()
    runs: list[SystemRun] = []
    total = len(items) * len(contenders)
    done = 0
    for contender in contenders:
        outcomes: list[Outcome] = []
        for item in items:
            t0 = time.perf_counter()
            answer = contender.system.ask(item.question)
            t1 = time.perf_counter()
            passages = contender.system.search(item.question, SEARCH_K)
            t2 = time.perf_counter()
            outcomes.append(
                score_item(item, passages, answer, texts.quote_is_valid, (t2 - t1) * 1000, (t1 - t0) * 1000)
            )
            done += 1
            if progress:
                progress(contender.name, done, total)
        runs.append(
            SystemRun(contender.name, contender.description, tuple(outcomes), contender.setup_seconds)
        )
    return Evaluation(
        questions=questions,
        runs=tuple(runs),
        seconds=time.perf_counter() - started,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def close_contenders(contenders: Sequence[Contender]) -> None:
    """Release what the baselines and HTTP clients hold."""
    for contender in contenders:
        close = getattr(contender.system, "close", None)
        if close is not None and not isinstance(contender.system, Assistant):
            close()


# -- the gate ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One line of the gate: a figure against its threshold."""

    label: str
    value: float | None
    target: str
    passed: bool


def gate_checks(evaluation: Evaluation) -> list[Check]:
    """The assistant's figures against the CI gate (empty when the assistant was not run)."""
    run = evaluation.run("assistant")
    if run is None:
        return []
    figures = run.figures()
    checks = []
    for metric, (op, threshold) in GATE.items():
        value = figures[metric]
        passed = value is not None and (value >= threshold if op == ">=" else value <= threshold)
        checks.append(Check(metric, value, f"{op} {threshold:g}", passed))
    baseline = evaluation.run("langchain")
    if baseline is not None:
        theirs = baseline.figures()
        for metric in MUST_BEAT_LANGCHAIN:
            ours, other = figures[metric], theirs[metric]
            passed = ours is not None and other is not None and ours > other
            target = f"> langchain ({other:.3f})" if other is not None else "> langchain"
            checks.append(Check(metric, ours, target, passed))
    return checks
