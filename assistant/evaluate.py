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
from assistant.metrics import DEFINITIONS, Item, Outcome, collapse, quote_in, score_item, summarise
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

# (group, metric key, label) in report order; the label is what tables and the chart print.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("Retrieval", "recall@1", "evidence recall@1"),
    ("Retrieval", "recall@3", "evidence recall@3"),
    ("Retrieval", "recall@5", "evidence recall@5"),
    ("Retrieval", "mrr@5", "MRR@5"),
    ("Retrieval", "page_recall@5", "page recall@5"),
    ("Citations", "citation_validity", "citation validity"),
    ("Citations", "citation_support", "citation support"),
    ("Citations", "principle_accuracy", "principle accuracy"),
    ("Answers", "key_fact_coverage", "key-fact coverage"),
    ("Answers", "conciseness", "conciseness (<= 1200 chars)"),
    ("Answers", "refusal_accuracy", "refusal accuracy"),
    ("Answers", "false_refusal", "false-refusal rate (lower is better)"),
    ("Latency", "search_p50_ms", "search p50 (ms)"),
    ("Latency", "search_p95_ms", "search p95 (ms)"),
    ("Latency", "ask_p50_ms", "ask p50 (ms)"),
    ("Latency", "ask_p95_ms", "ask p95 (ms)"),
)
CHART_METRICS = (
    "recall@1",
    "recall@5",
    "mrr@5",
    "page_recall@5",
    "citation_validity",
    "citation_support",
    "principle_accuracy",
    "key_fact_coverage",
    "refusal_accuracy",
    "false_refusal",
)


class System(Protocol):
    """What the harness runs: ranked passages for a query, and an answer with citations."""

    def search(self, query: str, k: int | None = None) -> list[Passage]: ...

    def ask(self, question: str) -> Answer: ...


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
    embedding cached (the assistant keeps one), as a repeated search would."""
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


# -- reports -------------------------------------------------------------------------------------------
def format_value(metric: str, value: float | int | None) -> str:
    """Shares with three decimals, latencies in whole-ish milliseconds, 'n/a' where nothing qualified."""
    if value is None:
        return "n/a"
    if metric.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def table_rows(columns: Sequence[dict[str, float | int | None]]) -> list[tuple[str, str, list[str]]]:
    """(group, label, one formatted value per column) for every metric, in report order."""
    return [(group, label, [format_value(key, c[key]) for c in columns]) for group, key, label in ROWS]


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown_report(evaluation: Evaluation) -> str:
    """The side-by-side tables, the per-split tables, the gate and the assistant's failures."""
    names = [r.name for r in evaluation.runs]
    overall = [r.figures() for r in evaluation.runs]
    items = overall[0]["items"] if overall else 0
    out = [
        "# Evaluation report",
        "",
        f"Questions: `{evaluation.questions}` ({items} items: {overall[0]['answerable'] if overall else 0} "
        f"answerable, {overall[0]['unanswerable'] if overall else 0} unanswerable). "
        f"Generated {evaluation.created} by `ungp eval` in {evaluation.seconds:.0f} s.",
        "",
        "## Systems",
        "",
    ]
    out += [f"- **{r.name}**: {r.description} (set up in {r.setup_seconds:.1f} s)" for r in evaluation.runs]
    out += ["", "## Definitions", ""]
    out += [f"- **{name}**: {text}" for name, text in DEFINITIONS.items()]
    out += [
        "- Failures (per item, in `report.json`, failing items first): any invalid quote, over-long "
        "answer, wrong refusal, evidence missing from the top 5 or not ranked first, missing principle, "
        "unsupported citations or missing key facts.",
    ]
    rows = table_rows(overall)
    for group in dict.fromkeys(g for g, _, _ in rows):
        out += ["", f"## {group}", ""]
        out += _markdown_table(
            ["metric", *names], [[label, *values] for g, label, values in rows if g == group]
        )
    for split in evaluation.splits():
        columns = [r.figures(split) for r in evaluation.runs]
        out += ["", f"## Split '{split}', side by side ({columns[0]['items']} items)", ""]
        out += _markdown_table(
            ["metric", *names], [[label, *values] for _, label, values in table_rows(columns)]
        )
    assistant = evaluation.run("assistant")
    if assistant is not None:
        splits = evaluation.splits()
        columns = [assistant.figures()] + [assistant.figures(s) for s in splits]
        out += ["", "## The assistant per split", ""]
        out += _markdown_table(
            ["metric", "all", *splits], [[label, *values] for _, label, values in table_rows(columns)]
        )
        checks = gate_checks(evaluation)
        out += ["", "## CI gate (tests/test_evaluate.py)", ""]
        out += _markdown_table(
            ["metric", "assistant", "required", "ok"],
            [
                [c.label, format_value(c.label, c.value), c.target, "yes" if c.passed else "**no**"]
                for c in checks
            ],
        )
        failing = [o for o in assistant.outcomes if o.failures]
        out += ["", f"## The assistant's failures ({len(failing)} of {len(assistant.outcomes)} items)", ""]
        out += _markdown_table(
            ["id", "split", "kind", "failures"],
            [
                [o.item.id, o.item.split, o.item.kind, "; ".join(o.failures).replace("|", "/")]
                for o in _failures_first(assistant.outcomes)
                if o.failures
            ],
        )
    return "\n".join(out) + "\n"


def _failures_first(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (not o.failures, -len(o.failures), o.item.id))


def outcome_record(outcome: Outcome) -> dict[str, object]:
    """One item's outcome as JSON (the answer cut to 500 characters)."""
    item = outcome.item
    return {
        "id": item.id,
        "split": item.split,
        "kind": item.kind,
        "answerable": item.answerable,
        "question": item.question,
        "failures": list(outcome.failures),
        "recall@1": outcome.recall[1],
        "recall@3": outcome.recall[3],
        "recall@5": outcome.recall[5],
        "first_hit_rank": outcome.first_hit,
        "page_recall@5": outcome.page_recall,
        "top_pages": list(outcome.top_pages),
        "citations": outcome.quotes,
        "invalid_citations": list(outcome.invalid_citations),
        "citation_support": outcome.supported,
        "principles_ok": outcome.principles_ok,
        "key_fact_coverage": outcome.key_facts,
        "grounded": outcome.grounded,
        "answer_chars": outcome.answer_chars,
        "answer": outcome.answer if len(outcome.answer) <= 500 else outcome.answer[:499] + "…",
        "search_ms": round(outcome.search_ms, 2),
        "ask_ms": round(outcome.ask_ms, 2),
    }


def json_report(evaluation: Evaluation) -> dict[str, object]:
    """Every figure (overall and per split) and every per-item outcome, failing items first."""
    splits = evaluation.splits()
    return {
        "questions": evaluation.questions,
        "created": evaluation.created,
        "seconds": round(evaluation.seconds, 2),
        "definitions": DEFINITIONS,
        "gate": [c.__dict__ for c in gate_checks(evaluation)],
        "systems": {
            run.name: {
                "description": run.description,
                "setup_seconds": round(run.setup_seconds, 2),
                "overall": run.figures(),
                "splits": {s: run.figures(s) for s in splits},
                "outcomes": [outcome_record(o) for o in _failures_first(run.outcomes)],
            }
            for run in evaluation.runs
        },
    }


def plot_report(evaluation: Evaluation, path: Path) -> None:
    """A grouped bar chart of the main metrics, one colour per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {key: label for _, key, label in ROWS}
    metrics = list(CHART_METRICS)
    figure, axes = plt.subplots(figsize=(13, 6), dpi=110)
    width = 0.8 / max(1, len(evaluation.runs))
    for position, run in enumerate(evaluation.runs):
        figures = run.figures()
        values = [float(figures[m] or 0.0) for m in metrics]
        offsets = [i + (position - (len(evaluation.runs) - 1) / 2) * width for i in range(len(metrics))]
        bars = axes.bar(offsets, values, width, label=run.name)
        axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    axes.set_xticks(range(len(metrics)))
    axes.set_xticklabels(
        [labels[m].replace(" (lower is better)", "\n(lower is better)") for m in metrics],
        rotation=30,
        ha="right",
        fontsize=9,
    )
    axes.set_ylim(0, 1.12)
    axes.set_ylabel("share (0-1)")
    count = evaluation.runs[0].figures()["items"] if evaluation.runs else 0
    axes.set_title(f"ungp eval: {count} gold questions, systems side by side")
    axes.legend(loc="upper right", ncols=len(evaluation.runs))
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_reports(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """report.md, report.json and report.png in `out_dir` (created if needed)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvaluationError(f"cannot create the report folder {out_dir}: {exc.strerror or exc}") from exc
    markdown, data, chart = out_dir / "report.md", out_dir / "report.json", out_dir / "report.png"
    markdown.write_text(markdown_report(evaluation), encoding="utf-8")
    data.write_text(
        json.dumps(json_report(evaluation), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    plot_report(evaluation, chart)
    return [markdown, data, chart]
