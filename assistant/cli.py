"""The `ungp` command line: ingest, search, ask, letters, outline, serve, slack, feedback. Each command's
docstring is its --help."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant import evaluate, reports
from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.outline import render_markdown
from assistant.records import Answer, Feedback, IngestReport
from assistant.retrieve import Filters
from assistant.service import Assistant

console = Console()
err_console = Console(stderr=True)


def _assistant(ctx: click.Context) -> Assistant:
    return ctx.obj  # type: ignore[no-any-return]


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Turn the assistant's typed errors into one readable sentence and exit code 1."""
    try:
        yield
    except AssistantError as exc:
        err_console.print(f"[red]Error:[/red] {escape(str(exc))}")
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="UNGP_CORPUS_DIR",
    help="Folder of letters (*.pdf, *.txt, *.md). Default: ./corpus",
)
@click.option(
    "--index-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="UNGP_INDEX_DIR",
    help="Where indexes are built. Default: ./indexes",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
def cli(ctx: click.Context, corpus_dir: Path | None, index_dir: Path | None, verbose: bool) -> None:
    """Grounded, cited answers about the UN Guiding Principles on Business and Human Rights, from UN
    Special Procedures letters.

    \b
    Example:
      ungp ingest && ungp ask "What does Guiding Principle 22 require?"
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("bm25s").setLevel(logging.INFO if verbose else logging.WARNING)  # it sets DEBUG
    if ctx.obj is not None:  # an Assistant handed in by the caller (tests, embedding) is used as is
        return
    overrides: dict[str, Any] = {}
    if corpus_dir:
        overrides["corpus_dir"] = corpus_dir
    if index_dir:
        overrides["index_dir"] = index_dir
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise click.UsageError(settings_problems(exc)) from exc
    ctx.obj = Assistant(settings)


def settings_problems(exc: ValidationError) -> str:
    """Invalid settings as one line each, named by their environment variable."""
    lines = []
    for error in exc.errors():
        where = "".join(f"UNGP_{str(part).upper()}: " for part in error["loc"][:1])
        lines.append(f"{where}{str(error['msg']).removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(lines)


def run_ingest(assistant: Assistant, rebuild: bool = False, quiet: bool = False) -> IngestReport:
    """Ingest with a progress bar; shared by `ingest` and `serve`."""
    with Progress(
        TextColumn("[bold]Indexing[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(name: str, done: int, total: int) -> None:
            bar.update(task, description=name, completed=done, total=total)

        report = assistant.ingest(rebuild=rebuild, progress=progress)
    _print_report(report)
    return report


def _print_report(report: IngestReport) -> None:
    err_console.print(
        f"Indexed {len(report.added)} new and {len(report.updated)} changed document(s) "
        f"({report.chunks_indexed} chunks), removed {len(report.removed)}, "
        f"{len(report.unchanged)} unchanged, in {report.seconds:.1f} s."
    )
    if report.skipped:
        table = Table("skipped file", "reason", title="Files not indexed", title_style="yellow")
        for item in report.skipped:
            table.add_row(escape(item.name), escape(item.reason))
        err_console.print(table)


@cli.command()
@click.option("--rebuild", is_flag=True, help="Re-index every file, even unchanged ones.")
@click.option(
    "--strict", is_flag=True, help="Exit with status 1 when any file was skipped (for scripts and CI)."
)
@click.pass_context
def ingest(ctx: click.Context, rebuild: bool, strict: bool) -> None:
    """Index the corpus folder. Unchanged files are skipped (content hash); changed files are re-indexed;
    deleted files are removed; unreadable files (damaged, encrypted, scanned without text, empty, not a
    PDF, over UNGP_MAX_DOCUMENT_PAGES or UNGP_MAX_DOCUMENT_MB) are listed with the reason and skipped,
    and everything else is indexed.

    \b
    Example:
      ungp --corpus ~/letters ingest --strict
    """
    with _friendly_errors():
        report = run_ingest(_assistant(ctx), rebuild=rebuild)
    if strict and report.skipped:
        err_console.print(f"[red]Error:[/red] {len(report.skipped)} file(s) skipped (--strict).")
        sys.exit(1)


def _filters(options: dict[str, Any]) -> Filters:
    """The filter options of a command (see `_filter_options`) as `Filters`."""
    day_from, day_to = options.pop("date_from"), options.pop("date_to")
    return Filters(
        reference=options.pop("reference"),
        section=options.pop("section"),
        principle=options.pop("principle"),
        addressee=options.pop("addressee"),
        date_from=day_from.date() if day_from else None,
        date_to=day_to.date() if day_to else None,
    )


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--reference, --addressee, --date-from, --date-to, --principle, --section (as on /search)."""
    day = click.DateTime(formats=["%Y-%m-%d"])
    command = click.option("--date-to", type=day, help="Only letters dated on or before (YYYY-MM-DD).")(
        command
    )
    command = click.option("--date-from", type=day, help="Only letters dated on or after (YYYY-MM-DD).")(
        command
    )
    command = click.option("--addressee", help="Only letters to this company or person, e.g. 'ZTE'.")(command)
    command = click.option(
        "--principle", type=click.IntRange(1, 31), help="Only passages citing this principle."
    )(command)
    command = click.option(
        "--section", type=click.Choice(["body", "questions", "annex"]), help="Only this section."
    )(command)
    return click.option("--reference", help="Only this letter, e.g. 'AL OTH 170/2021'.")(command)


@cli.command()
@click.argument("query")
@click.option("-k", type=click.IntRange(1, 50), default=5, show_default=True, help="How many passages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_filter_options
@click.pass_context
def search(ctx: click.Context, query: str, k: int, as_json: bool, **filters: Any) -> None:
    """Show the passages that best match QUERY, best first.

    \b
    Example:
      ungp search "tracking effectiveness" -k 3 --addressee ZTE --section annex
    """
    with _friendly_errors():
        passages = _assistant(ctx).search(query, k, _filters(filters))
    if as_json:
        click.echo(
            json.dumps(
                [{**asdict(p.chunk), "score": p.score} for p in passages], indent=2, ensure_ascii=False
            )
        )
        return
    for rank, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        principles = f" · GP {', '.join(map(str, chunk.principles))}" if chunk.principles else ""
        console.print(
            f"[bold]{rank}. {escape(chunk.reference or chunk.document)}[/bold] p. {chunk.page} · "
            f"{chunk.section}{principles} · score {passage.score:.3f}"
        )
        console.print(f"   {escape(' '.join(chunk.text.split()))}\n")


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (the /ask shape).")
@_filter_options
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool, **filters: Any) -> None:
    """Answer QUESTION from the corpus, with numbered citations and verbatim quotes.

    \b
    Example:
      ungp ask "By when will the letter be made public?" --reference AL-OTH-170-2021
    """
    with _friendly_errors():
        answer = _assistant(ctx).ask(question, _filters(filters))
    if as_json:
        click.echo(json.dumps(answer_dict(answer), indent=2, ensure_ascii=False))
        return
    print_answer(answer)


def answer_dict(answer: Answer) -> dict[str, Any]:
    """The /ask JSON shape of an answer."""
    return {
        "answer": answer.answer,
        "grounded": answer.grounded,
        "citations": [
            {
                "id": c.id,
                "document": c.document,
                "reference": c.reference,
                "page": c.page,
                "principles": list(c.principles),
                "quote": c.quote,
                "section": c.section,
            }
            for c in answer.citations
        ],
        "support": round(answer.support, 4),
        "mode": answer.mode,
        "note": answer.note,
    }


def print_answer(answer: Answer) -> None:
    """An answer for people: the text, then its sources."""
    if not answer.grounded:
        console.print("[yellow]Not supported by the corpus.[/yellow]")
    console.print(escape(answer.answer))
    if answer.citations:
        console.print("\n[bold]Sources[/bold]")
    for c in answer.citations:
        principles = f", GP {', '.join(map(str, c.principles))}" if c.principles else ""
        console.print(f" [{c.id}] {escape(c.reference or '')} {escape(c.document)}, p. {c.page}{principles}")
        console.print(f"     [dim]“{escape(' '.join(c.quote.split()))}”[/dim]")


def _system_names(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in evaluate.SYSTEMS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown system(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(evaluate.SYSTEMS)}, separated by commas"
        )
    return names


@cli.command("eval")
@click.option(
    "--questions",
    type=click.Path(path_type=Path, dir_okay=False),
    default=evaluate.DEFAULT_QUESTIONS,
    show_default="eval/questions.jsonl",
    help="Gold questions, one JSON object a line.",
)
@click.option(
    "--against",
    metavar="URL",
    help="Evaluate the assistant served at URL (its /search and /ask) instead of in-process.",
)
@click.option(
    "--systems",
    default=",".join(evaluate.SYSTEMS),
    show_default=True,
    callback=_system_names,
    help="Systems to compare, separated by commas.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=evaluate.DEFAULT_OUT,
    show_default="eval/results",
    help="Folder for report.md, report.json and report.png.",
)
@click.pass_context
def eval_command(
    ctx: click.Context, questions: Path, against: str | None, systems: list[str], out_dir: Path
) -> None:
    """Score the assistant and the baselines (the plain LangChain recipe, BM25) on the gold questions,
    print them side by side and write report.md, report.json and report.png. Reports only: it exits 0
    whatever the figures (the CI gate is tests/test_evaluate.py). The baselines read the --corpus folder.

    \b
    Example:
      ungp eval --systems assistant,langchain --against http://127.0.0.1:8000
    """
    assistant = _assistant(ctx)
    with _friendly_errors():
        items = evaluate.load_questions(questions)
        if "assistant" in systems and not against and assistant.is_stale():
            run_ingest(assistant)
        with err_console.status("Setting up the systems") as status:
            contenders = evaluate.build_contenders(
                systems, assistant.settings, None if against else assistant, against, status.update
            )
        try:
            texts = evaluate.document_texts_for(contenders, assistant.settings)
            with Progress(
                TextColumn("[bold]Evaluating[/bold] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("", total=len(items) * len(contenders))

                def progress(name: str, done: int, total: int) -> None:
                    bar.update(task, description=name, completed=done, total=total)

                evaluation = evaluate.run_evaluation(
                    items, contenders, texts, evaluate.shown_path(questions), progress
                )
        finally:
            evaluate.close_contenders(contenders)
        paths = reports.write_reports(evaluation, out_dir)
    for renderable in reports.console_report(evaluation):
        console.print(renderable)
    err_console.print("Reports: " + ", ".join(escape(str(p)) for p in paths))


@cli.command()
@click.pass_context
def documents(ctx: click.Context) -> None:
    """List the indexed documents.

    \b
    Example:
      ungp documents
    """
    table = Table("document", "reference", "date", "addressee", "pages", "chunks")
    with _friendly_errors():
        for d in _assistant(ctx).documents():
            table.add_row(
                escape(d.name),
                d.reference or "",
                d.date or "",
                escape(d.addressee or ""),
                str(d.pages),
                str(d.chunks),
            )
    console.print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the /letters shape, all fields).")
@click.option("--addressee", help="Only letters to this company or person, e.g. 'ZTE'.")
@click.option(
    "--date-from", type=click.DateTime(formats=["%Y-%m-%d"]), help="Dated on or after (YYYY-MM-DD)."
)
@click.option("--date-to", type=click.DateTime(formats=["%Y-%m-%d"]), help="Dated on or before (YYYY-MM-DD).")
@click.pass_context
def letters(
    ctx: click.Context,
    as_json: bool,
    addressee: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> None:
    """List the indexed Special Procedures letters, newest first: reference, date, addressee, number of
    questions and the date the letter and any response are made public.

    \b
    Example:
      ungp letters --addressee ZTE
    """
    filters = Filters(
        addressee=addressee,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    with _friendly_errors():
        found = _assistant(ctx).letters(filters)
    if as_json:
        click.echo(json.dumps([letter.to_dict() for letter in found], indent=2, ensure_ascii=False))
        return
    table = Table()
    for column in ("reference", "date", "addressee", "questions", "made public", "document"):
        table.add_column(column, no_wrap=column in ("reference", "date", "made public"))
    for letter in found:
        recipient = ", ".join(p for p in (letter.person, letter.company or letter.addressee) if p)
        table.add_row(
            letter.reference,
            letter.date or "",
            escape(recipient),
            str(len(letter.questions)),
            letter.publication_date or "",
            escape(letter.document),
        )
    console.print(table)


@cli.command()
@click.argument("target", metavar="REFERENCE|FILE")
@click.option(
    "--format",
    "output",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown to paste into a draft, or JSON (the /letters/{reference}/outline shape).",
)
@click.pass_context
def outline(ctx: click.Context, target: str, output: str) -> None:
    """Print a response outline for a letter: each numbered question with the Guiding Principles it
    engages and the annex passages that support the link (cited with page and exact words), the
    deadlines, and the facts alleged. Give the letter's reference (as printed or as a slug) or a letter
    file; a file that is not indexed is read on the side and the index is left as it is.

    \b
    Examples:
      ungp outline "AL OTH 170/2021"
      ungp outline AL-OTH-170-2021 --format json
      ungp outline ~/Downloads/letter.pdf > outline.md
    """
    with _friendly_errors():
        result = _assistant(ctx).outline(target)
    if output == "json":
        from assistant.api import outline_out

        click.echo(json.dumps(outline_out(result).model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        click.echo(render_markdown(result), nl=False)


@cli.command()
@click.option("--host", envvar="UNGP_HOST", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", envvar="UNGP_PORT", type=int, default=8000, show_default=True, help="Port to listen on."
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the chat page (at /) and the HTTP API (docs at /docs, metrics at /metrics), indexing the
    corpus first if the index is missing or stale. Logs are JSON lines with a request id
    (UNGP_LOG_FORMAT=text for plain lines); UNGP_API_KEY, UNGP_ADMIN_KEY and UNGP_RATE_LIMIT protect it.

    \b
    Example:
      UNGP_API_KEY=s3cret ungp serve --port 8080
    """
    import uvicorn

    from assistant.api import create_app
    from assistant.telemetry import configure_logging

    assistant = _assistant(ctx)
    with _friendly_errors():
        if assistant.is_stale():
            run_ingest(assistant)
    configure_logging(assistant.settings.log_format)
    err_console.print(
        f"Serving on http://{host}:{port}: chat page at http://{host}:{port}/, API docs at /docs"
    )
    err_console.print(
        "Slack: on, answering at /slack/events"
        if assistant.settings.slack_http
        else "Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET for HTTP mode, or run `ungp slack`)"
    )
    uvicorn.run(create_app(assistant), host=host, port=port, log_config=None, access_log=False)


@cli.command()
@click.pass_context
def slack(ctx: click.Context) -> None:
    """Answer Slack in Socket Mode: the app connects out to Slack, so no public URL is needed. Needs
    SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-..., with connections:write); indexes the
    corpus first if the index is missing or stale. Runs until interrupted.

    \b
    Example:
      SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... ungp slack
    """
    from assistant.slack import run_socket_mode

    assistant = _assistant(ctx)
    settings = assistant.settings
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_APP_TOKEN", settings.slack_app_token),
        )
        if value is None
    ]
    if missing:
        err_console.print(
            f"[red]Error:[/red] Socket Mode needs {' and '.join(missing)}; the README's Slack section says "
            "where to find them"
        )
        sys.exit(1)
    with _friendly_errors():
        if assistant.is_stale():
            run_ingest(assistant)
    err_console.print("Connecting to Slack in Socket Mode...")

    def connected() -> None:
        err_console.print("Connected: answering mentions, direct messages and /ungp (Ctrl+C to stop)")

    with _friendly_errors(), contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_socket_mode(assistant, connected))


FEEDBACK_COLUMNS = (
    "time",
    "user",
    "verdict",
    "question",
    "resolved_question",
    "answer",
    "grounded",
    "sources",
    "asked_via",
    "channel",
    "asker",
    "answer_id",
)


def feedback_row(entry: Feedback) -> dict[str, str]:
    """One verdict as the flat row of `ungp feedback --format csv`."""
    shown = entry.shown
    sources = "; ".join(f"[{c.id}] {c.reference or c.document} p. {c.page}" for c in shown.answer.citations)
    return {
        "time": datetime.fromtimestamp(entry.created, UTC).isoformat(timespec="seconds"),
        "user": entry.user,
        "verdict": "helpful" if entry.helpful else "not helpful",
        "question": shown.question,
        "resolved_question": shown.resolved,
        "answer": shown.answer.answer,
        "grounded": str(shown.answer.grounded).lower(),
        "sources": sources,
        "asked_via": shown.via,
        "channel": shown.channel,
        "asker": shown.asker,
        "answer_id": shown.id,
    }


@cli.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    help="How to print: a table (default on screen), CSV (default with --output) or JSON.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to FILE instead of the terminal.",
)
@click.pass_context
def feedback(ctx: click.Context, output_format: str | None, output: Path | None) -> None:
    """List the Helpful / Not helpful clicks on answers given in Slack, oldest first, each with the
    question, the answer and who clicked; export them as CSV for review.

    \b
    Examples:
      ungp feedback
      ungp feedback --output feedback.csv
    """
    output_format = output_format or ("csv" if output else "table")
    with _friendly_errors():
        rows = [feedback_row(entry) for entry in _assistant(ctx).feedback()]
    if output_format == "table":
        table = Table("time", "user", "verdict", "question", "answer", title=f"{len(rows)} verdict(s)")
        for row in rows:
            answer = row["answer"] if len(row["answer"]) <= 160 else row["answer"][:159] + "…"
            table.add_row(row["time"], row["user"], row["verdict"], escape(row["question"]), escape(answer))
        text = _rendered(table, output is None)
    elif output_format == "json":
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FEEDBACK_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err_console.print(
            f"[red]Error:[/red] cannot write {escape(str(output))}: {escape(exc.strerror or str(exc))}"
        )
        sys.exit(1)
    err_console.print(f"Wrote {len(rows)} verdict(s) to {escape(str(output))}")


def _rendered(table: Table, terminal: bool) -> str:
    """A rich table as text: as wide as the terminal on screen, unwrapped in a file."""
    buffer = io.StringIO()
    Console(file=buffer, width=console.width if terminal else 240, force_terminal=False).print(table)
    return buffer.getvalue()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ungp")


if __name__ == "__main__":
    main()
