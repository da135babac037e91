"""Benchmarks (not tests): ingestion throughput, /ask latency, peak memory, re-ingest of an unchanged corpus,
server start with an existing index, and the plain LangChain recipe on the same corpora, written to
bench/RESULTS.md.

Corpora: 1 letter is the real sample; 100 and 1,000 are SYNTHETIC letters (bench/synthetic.py) generated into
the work folder, never committed. Each measured step runs in its own process, so peak RSS is its own.

    python -m bench.run --sizes 1 100 1000 --work /tmp/ungp-bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.load import QUESTIONS, run_load
from bench.synthetic import SAMPLE_PDF, letter_name, write_corpus

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
TEMPLATES = (
    "What does letter {ref} ask about grievance mechanisms?",
    "Which allegations are described in {ref}?",
    "What does the letter to {company} say about forced labour?",
    "Which Guiding Principles are cited in {ref}?",
    "When was {ref} sent?",
    "What does {ref} ask {company} about human rights due diligence?",
    "Has {company} been asked about remediation?",
    "What information does {ref} request about monitoring and evaluation?",
    "Which mandate holders signed {ref}?",
    "What does {ref} say about leverage over business partners?",
    "Is {company} asked about cooperation with civil society?",
    "What does the annex of {ref} recall about Guiding Principle 22?",
)


# -- workers (each runs in its own process) -------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] * 1000

    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": round(at(0.95), 1)}


def time_embed_documents(embedder: Any) -> list[float]:
    """Wrap `embedder.embed_documents` so that the seconds spent in it add up in the returned one-item list:
    the embedding time that ingest overhead is measured against (ours and the recipe alike)."""
    spent = [0.0]
    embed_documents = embedder.embed_documents

    def timed(texts: list[str]) -> Any:
        begun = time.perf_counter()
        try:
            return embed_documents(texts)
        finally:
            spent[0] += time.perf_counter() - begun

    object.__setattr__(embedder, "embed_documents", timed)  # also on pydantic models (LangChain's)
    return spent


def worker_ours_ingest(corpus: Path, index: Path, questions: list[str]) -> dict[str, Any]:
    """Our ingest (model loaded first, timed apart), then in-process search and ask latencies."""
    from assistant.config import Settings
    from assistant.service import Assistant

    started = time.perf_counter()
    assistant = Assistant(Settings(corpus_dir=corpus, index_dir=index))
    embedder = assistant.embedder
    _ = embedder.model
    load_seconds = time.perf_counter() - started
    embedding = time_embed_documents(embedder)
    report = assistant.ingest()
    snapshot = assistant.index.snapshot
    pages = sum(d.pages for d in snapshot.documents)
    result: dict[str, Any] = {
        "model_load_s": round(load_seconds, 2),
        "ingest_s": round(report.seconds, 2),
        "embed_s": round(embedding[0], 2),
        "documents": len(snapshot.documents),
        "pages": pages,
        "chunks": len(snapshot.chunks),
        "skipped": len(report.skipped),
    }
    assistant.warm_up()
    # search gets the lower-cased questions: the same tokens for this uncased model, but no cache hits
    for name, call in (("ask", assistant.ask), ("search", lambda q: assistant.search(q.lower(), k=5))):
        for question in questions[:3]:
            call(question)
        times = []
        for question in questions:
            begun = time.perf_counter()
            call(question)
            times.append(time.perf_counter() - begun)
        result[f"{name}_inprocess"] = percentiles(times)
    result["peak_rss_mb"] = round(peak_rss_mb(), 0)
    return result


def worker_ours_reingest(corpus: Path, index: Path) -> dict[str, Any]:
    """Re-ingest of an unchanged corpus: open the index, hash every file, index nothing."""
    begun = time.perf_counter()
    from assistant.config import Settings
    from assistant.service import Assistant

    imported = time.perf_counter()
    assistant = Assistant(Settings(corpus_dir=corpus, index_dir=index))
    report = assistant.ingest()
    done = time.perf_counter()
    assert report.chunks_indexed == 0, report
    return {
        "reingest_s": round(done - imported, 2),
        "reingest_with_imports_s": round(done - begun, 2),
        "unchanged": len(report.unchanged),
    }


def worker_langchain(corpus: Path, persist: Path, questions: list[str]) -> dict[str, Any]:
    """The plain LangChain recipe: PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + Chroma +
    HuggingFaceEmbeddings on the bundled model + similarity top-k."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.embeddings import model_path

    started = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=model_path("bundled"), model_kwargs={"device": "cpu"})
    embeddings.embed_query("warm up")
    load_seconds = time.perf_counter() - started
    embedding = time_embed_documents(embeddings)
    begun = time.perf_counter()
    pages = [page for path in sorted(corpus.glob("*.pdf")) for page in PyPDFLoader(str(path)).load()]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
    store = Chroma(collection_name="recipe", embedding_function=embeddings, persist_directory=str(persist))
    for start in range(0, len(chunks), 1000):
        store.add_documents(chunks[start : start + 1000])
    ingest_seconds = time.perf_counter() - begun
    for question in questions[:3]:
        store.similarity_search(question, k=5)
    times = []
    for question in questions:
        started_query = time.perf_counter()
        store.similarity_search(question, k=5)
        times.append(time.perf_counter() - started_query)
    return {
        "model_load_s": round(load_seconds, 2),
        "ingest_s": round(ingest_seconds, 2),
        "embed_s": round(embedding[0], 2),
        "pages": len(pages),
        "chunks": len(chunks),
        "search_inprocess": percentiles(times),
        "peak_rss_mb": round(peak_rss_mb(), 0),
    }


# -- orchestration ------------------------------------------------------------------------------------------
def run_worker(*args: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.run", "worker", *args],
        cwd=ROOT,
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNGP_")}
    return {**env, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "UNGP_LOG_FORMAT": "text"}


def corpus_of(size: int, work: Path) -> Path:
    """The corpus folder for `size` letters: the real sample for 1, synthetic letters otherwise."""
    folder = work / f"corpus-{size}"
    if size == 1:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_PDF, folder / SAMPLE_PDF.name)
        return folder
    pool = work / "synthetic"
    write_corpus(pool, size)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, size + 1):
        target = folder / letter_name(number)
        if not target.exists():
            os.link(pool / letter_name(number), target)
    return folder


def questions_for(size: int, count: int = 60) -> list[str]:
    """Unique questions (no cache hits): generic ones plus templates over the corpus's letters."""
    from bench.synthetic import letter_text

    rng = random.Random(size)
    letters = [("AL OTH 170/2021", "ZTE Corporation")] if size == 1 else []
    for number in rng.sample(range(1, size + 1), min(size, 40)) if size > 1 else []:
        reference, _, company = letter_text(number)
        letters.append((reference, company))
    found = list(QUESTIONS)
    for template in TEMPLATES:
        for reference, company in letters:
            found.append(template.format(ref=reference, company=company))
    unique = list(dict.fromkeys(found))
    rng.shuffle(unique)
    return unique[:count]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_server(corpus: Path, index: Path, questions: list[str], load_seconds: float) -> dict[str, Any]:
    """Start `ungp serve` on an existing index: time to ready, sequential /ask latency, a short load run,
    and the server's peak RSS."""
    port = free_port()
    command = [sys.executable, "-m", "assistant.cli", "--corpus", str(corpus), "--index-dir", str(index)]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError("the server exited")
            time.sleep(0.05)
        ready = time.perf_counter() - started
        times = []
        with httpx.Client(base_url=url, timeout=120) as http:
            for question in questions[:3]:
                http.post("/ask", json={"question": question})
            for question in questions:
                begun = time.perf_counter()
                response = http.post("/ask", json={"question": question})
                times.append(time.perf_counter() - begun)
                response.raise_for_status()
        import asyncio

        load = asyncio.run(run_load(url, clients=10, seconds=load_seconds)).summary()
        rss = vm_hwm_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return {
        "ready_s": round(ready, 2),
        "ask_http": percentiles(times),
        "load": load,
        "peak_rss_mb": round(rss),
    }


def run(sizes: list[int], work: Path, load_seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "sizes": {},
    }
    for size in sizes:
        corpus = corpus_of(size, work)
        index = work / f"index-{size}"
        shutil.rmtree(index, ignore_errors=True)
        questions = questions_for(size)
        qfile = work / f"questions-{size}.json"
        qfile.write_text(json.dumps(questions))
        print(f"[{size}] our ingest ...", flush=True)
        ours = run_worker("ours-ingest", str(corpus), str(index), str(qfile))
        print(f"[{size}] {ours}", flush=True)
        ours.update(run_worker("ours-reingest", str(corpus), str(index)))
        print(f"[{size}] server ...", flush=True)
        ours["server"] = measure_server(corpus, index, questions, load_seconds)
        print(f"[{size}] {ours['server']}", flush=True)
        persist = work / f"langchain-{size}"
        shutil.rmtree(persist, ignore_errors=True)
        print(f"[{size}] LangChain recipe ...", flush=True)
        recipe = run_worker("langchain", str(corpus), str(persist), str(qfile))
        print(f"[{size}] {recipe}", flush=True)
        results["sizes"][str(size)] = {"ours": ours, "langchain": recipe, "questions": len(questions)}
        (work / "results.json").write_text(json.dumps(results, indent=2))
    results["load_average_at_end"] = os.getloadavg()
    (work / "results.json").write_text(json.dumps(results, indent=2))
    return results


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(results: dict[str, Any]) -> str:
    """bench/RESULTS.md from the measured results."""
    sizes = results["sizes"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `python -m bench.run bench --sizes 1 100 1000` (see `bench/run.py`). "
        "The 1-letter corpus is the real sample letter; **the 100- and 1,000-letter corpora are "
        "SYNTHETIC**: the sample letter's "
        "paragraphs re-typeset by `bench/synthetic.py` with varied references, dates and companies "
        "(generated into a temporary folder, not committed). Questions are unique per run (no cache hits): "
        "generic questions plus templates over the letters' references and companies.",
        "",
        f"Machine: {results['machine']}; run started {results['started']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in results['load_average_at_start'])}, at end "
        f"{', '.join(f'{x:.1f}' for x in results.get('load_average_at_end', [0, 0, 0]))} (other work shared "
        "the 2 cores: figures are conservative).",
        "",
        "## ungp-assistant",
        "",
        "| letters | pages | chunks | ingest s | pages/s | embedding s | overhead beyond embedding | "
        "re-ingest unchanged s | server ready s | /ask HTTP p50 / p95 ms | ask in-process p50 / p95 ms | "
        "search in-process p50 / p95 ms | 10 clients: req/s, p95 ms | peak RSS ingest / server MB |",
        "|" + "---|" * 14,
    ]
    for size, row in sizes.items():
        ours, server = row["ours"], row["ours"]["server"]
        overhead = (ours["ingest_s"] - ours["embed_s"]) / ours["embed_s"] if ours["embed_s"] else 0
        lines.append(
            f"| {int(size):,} | {ours['pages']:,} | {ours['chunks']:,} | {ours['ingest_s']} | "
            f"{ours['pages'] / ours['ingest_s']:.1f} | {ours['embed_s']} | {overhead:.0%} | "
            f"{ours['reingest_s']} | {server['ready_s']} | {server['ask_http']['p50_ms']} / "
            f"{server['ask_http']['p95_ms']} | {ours['ask_inprocess']['p50_ms']} / "
            f"{ours['ask_inprocess']['p95_ms']} | {ours['search_inprocess']['p50_ms']} / "
            f"{ours['search_inprocess']['p95_ms']} | {server['load']['throughput_rps']}, "
            f"{server['load']['p95_ms']} ({server['load']['errors']} errors) | "
            f"{ours['peak_rss_mb']:.0f} / {server['peak_rss_mb']} |"
        )
    lines += [
        "",
        "Ingest time excludes loading the model (about "
        f"{statistics.median(r['ours']['model_load_s'] for r in sizes.values()):.0f} s, once per process). "
        "Re-ingest is `Assistant.ingest()` on an unchanged corpus in a fresh process (open the index, hash "
        "every file, index nothing), imports excluded. Server ready: from starting `ungp serve` on the "
        "existing index to the first 200 from /health (includes the stale check, opening the index, the "
        "ONNX question model).",
        "",
        "## The plain LangChain recipe on the same corpora",
        "",
        "PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + Chroma + HuggingFaceEmbeddings (bundled "
        "model) + similarity top-5, measured in the same run. Ratios are ours / recipe (below 1: ours is "
        "faster or smaller; pages/s above 1: ours ingests faster).",
        "",
        "| letters | recipe chunks | recipe ingest s | recipe pages/s | recipe search p50 / p95 ms | "
        "recipe peak RSS MB | ingest time ratio | pages/s ratio | search p50 ratio (in-process) | "
        "ask HTTP p50 / recipe search p50 | peak RSS ratio (ingest) |",
        "|" + "---|" * 11,
    ]
    for size, row in sizes.items():
        ours, recipe = row["ours"], row.get("langchain")
        if recipe is None:
            lines.append(f"| {int(size):,} | not measured in this run |" + " |" * 9)
            continue
        recipe_rate = recipe["pages"] / recipe["ingest_s"]
        lines.append(
            f"| {int(size):,} | {recipe['chunks']:,} | {recipe['ingest_s']} | {recipe_rate:.1f} | "
            f"{recipe['search_inprocess']['p50_ms']} / {recipe['search_inprocess']['p95_ms']} | "
            f"{recipe['peak_rss_mb']:.0f} | {_ratio(ours['ingest_s'], recipe['ingest_s'])} | "
            f"{_ratio(ours['pages'] / ours['ingest_s'], recipe_rate)} | "
            f"{_ratio(ours['search_inprocess']['p50_ms'], recipe['search_inprocess']['p50_ms'])} | "
            f"{_ratio(ours['server']['ask_http']['p50_ms'], recipe['search_inprocess']['p50_ms'])} | "
            f"{_ratio(ours['peak_rss_mb'], recipe['peak_rss_mb'])} |"
        )
    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    if "1" in sizes:
        p50 = sizes["1"]["ours"]["server"]["ask_http"]["p50_ms"]
        lines.append(f"| /ask p50 <= 50 ms at 1 letter | {p50} ms | {_met(p50 <= 50)} |")
    largest = max(sizes, key=int)
    big = sizes[largest]["ours"]
    p50 = big["server"]["ask_http"]["p50_ms"]
    lines.append(f"| /ask p50 <= 150 ms at {int(largest):,} letters | {p50} ms | {_met(p50 <= 150)} |")
    overhead = (big["ingest_s"] - big["embed_s"]) / big["embed_s"]
    lines.append(
        f"| ingestion overhead beyond embedding <= 50% ({int(largest):,} letters) | {overhead:.0%} | "
        f"{_met(overhead <= 0.5)} |"
    )
    lines.append(
        f"| re-ingest of an unchanged {int(largest):,}-letter corpus <= 2 s | {big['reingest_s']} s | "
        f"{_met(big['reingest_s'] <= 2)} |"
    )
    ready = big["server"]["ready_s"]
    lines.append(f"| server ready with an existing index <= 10 s | {ready} s | {_met(ready <= 10)} |")
    peak = max(max(r["ours"]["peak_rss_mb"], r["ours"]["server"]["peak_rss_mb"]) for r in sizes.values())
    lines.append(f"| peak RSS <= 1.5 GB (ingest and server) | {peak:.0f} MB | {_met(peak <= 1536)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="Run the benchmarks.")
    bench.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    bench.add_argument("--work", type=Path, default=Path("/tmp/ungp-bench"))
    bench.add_argument("--load-seconds", type=float, default=10.0)
    bench.add_argument("--render-only", action="store_true", help="Rewrite RESULTS.md from results.json.")
    worker = sub.add_parser("worker", help="One measured step (used by `bench`).")
    worker.add_argument("kind", choices=("ours-ingest", "ours-reingest", "langchain"))
    worker.add_argument("paths", nargs="+")
    args = parser.parse_args()
    if args.command == "bench":
        args.work.mkdir(parents=True, exist_ok=True)
        if args.render_only:
            results = json.loads((args.work / "results.json").read_text())
        else:
            results = run(args.sizes, args.work, args.load_seconds)
        RESULTS.write_text(render(results))
        print(f"wrote {RESULTS}")
        return
    paths = [Path(p) for p in args.paths]
    if args.kind == "ours-ingest":
        result = worker_ours_ingest(paths[0], paths[1], json.loads(paths[2].read_text()))
    elif args.kind == "ours-reingest":
        result = worker_ours_reingest(paths[0], paths[1])
    else:
        result = worker_langchain(paths[0], paths[1], json.loads(paths[2].read_text()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
