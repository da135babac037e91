"""The evaluation as people read it: side-by-side tables (Markdown and the CLI's), every figure and
per-item outcome as JSON (failing items first), and a bar chart of the main metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from assistant.errors import EvaluationError
from assistant.evaluate import Evaluation, gate_checks
from assistant.metrics import DEFINITIONS, Outcome

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
ANSWER_SHOWN = 300  # characters of each answer kept in report.json
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


def console_report(evaluation: Evaluation) -> list[RenderableType]:
    """What `ungp eval` prints: the side-by-side table, the assistant per split, the gate."""
    first = evaluation.runs[0].figures()
    table = Table(
        "metric",
        *(run.name for run in evaluation.runs),
        title=f"{first['items']} questions ({first['answerable']} answerable), "
        f"evaluated in {evaluation.seconds:.0f} s",
    )
    group = None
    for row_group, label, values in table_rows([run.figures() for run in evaluation.runs]):
        if group is not None and row_group != group:
            table.add_section()
        group = row_group
        table.add_row(label, *values)
    printed: list[RenderableType] = [table]
    assistant = evaluation.run("assistant")
    splits = evaluation.splits()
    if assistant is not None and splits:
        per_split = Table("metric", "all", *splits, title="The assistant per split")
        columns = [assistant.figures()] + [assistant.figures(s) for s in splits]
        for _, label, values in table_rows(columns):
            per_split.add_row(label, *values)
        printed.append(per_split)
    for check in gate_checks(evaluation):
        mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
        value = format_value(check.label, check.value)
        printed.append(f"gate {mark} {check.label} = {value} (required {escape(check.target)})")
    return printed


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], numbers: bool = True) -> list[str]:
    """A Markdown table; figures (every column but the first) right-aligned when `numbers`."""
    align = ["---"] + ["---:" if numbers else "---"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def failure_patterns(outcomes: Sequence[Outcome]) -> list[tuple[str, list[str]]]:
    """Failures grouped by kind (the words before any figure), most frequent first, with the item ids."""
    groups: dict[str, list[str]] = {}
    for outcome in outcomes:
        for failure in outcome.failures:
            kind = re.split(r" (?=[\d\[(])", failure, maxsplit=1)[0]
            groups.setdefault(kind, []).append(outcome.item.id)
    return sorted(groups.items(), key=lambda group: -len(group[1]))


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
            ["failure", "items", "ids"],
            [[kind, str(len(ids)), ", ".join(ids)] for kind, ids in failure_patterns(assistant.outcomes)],
            numbers=False,
        )
        out += [""]
        out += _markdown_table(
            ["id", "split", "kind", "failures"],
            [
                [o.item.id, o.item.split, o.item.kind, "; ".join(o.failures).replace("|", "/")]
                for o in _failures_first(assistant.outcomes)
                if o.failures
            ],
            numbers=False,
        )
    return "\n".join(out) + "\n"


def _failures_first(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (not o.failures, -len(o.failures), o.item.id))


def outcome_record(outcome: Outcome) -> dict[str, object]:
    """One item's outcome as JSON (the answer cut to 300 characters)."""
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
        "support": round(outcome.support, 4),
        "answer_chars": outcome.answer_chars,
        "answer": outcome.answer
        if len(outcome.answer) <= ANSWER_SHOWN
        else outcome.answer[: ANSWER_SHOWN - 1] + "…",
        "search_ms": round(outcome.search_ms, 2),
        "ask_ms": round(outcome.ask_ms, 2),
    }


def json_report(evaluation: Evaluation) -> dict[str, Any]:
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


def json_text(report: dict[str, Any]) -> str:
    """Indented JSON with one line per item outcome: readable, diffable, and a few hundred KB at most."""
    outcomes: dict[str, str] = {}
    shallow = {**report, "systems": {}}
    for name, system in report["systems"].items():
        marker = f"@@outcomes of {name}@@"
        outcomes[marker] = (
            "[\n" + ",\n".join(json.dumps(o, ensure_ascii=False) for o in system["outcomes"]) + "\n]"
        )
        shallow["systems"][name] = {**system, "outcomes": marker}
    text = json.dumps(shallow, indent=1, ensure_ascii=False)
    for marker, lines in outcomes.items():
        text = text.replace(json.dumps(marker), lines)
    return text + "\n"


def write_reports(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """report.md, report.json and report.png in `out_dir` (created if needed)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvaluationError(f"cannot create the report folder {out_dir}: {exc.strerror or exc}") from exc
    markdown, data, chart = out_dir / "report.md", out_dir / "report.json", out_dir / "report.png"
    markdown.write_text(markdown_report(evaluation), encoding="utf-8")
    data.write_text(json_text(json_report(evaluation)), encoding="utf-8")
    plot_report(evaluation, chart)
    return [markdown, data, chart]
