"""Ingest through the service: incremental by content hash, bad files reported and skipped, index intact."""

from __future__ import annotations

import shutil

from conftest import SAMPLE_NAME, SAMPLE_PDF, make_assistant


def test_reingest_of_an_unchanged_corpus_indexes_nothing(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder)
    first = assistant.ingest()
    assert first.added == (SAMPLE_NAME,) and first.chunks_indexed > 20
    again = assistant.ingest()
    assert again.added == again.updated == again.removed == ()
    assert again.unchanged == (SAMPLE_NAME,) and again.chunks_indexed == 0
    assert not assistant.is_stale()


def test_changed_and_deleted_files_are_replaced_and_removed(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder)
    assistant.ingest()
    corpus = assistant.settings.corpus_dir
    (corpus / "note.md").write_text(
        "# Note\n\nGuiding Principle 22 is about remediation.\n", encoding="utf-8"
    )
    assert assistant.is_stale()
    report = assistant.ingest()
    assert report.added == ("note.md",)
    (corpus / "note.md").write_text(
        "# Note\n\nA changed note about grievance mechanisms.\n", encoding="utf-8"
    )
    report = assistant.ingest()
    assert report.updated == ("note.md",) and report.unchanged == (SAMPLE_NAME,)
    texts = [c.text for c in assistant.index.snapshot.chunks if c.document == "note.md"]
    assert texts == ["Note\nA changed note about grievance mechanisms."]
    (corpus / "note.md").unlink()
    report = assistant.ingest()
    assert report.removed == ("note.md",)
    assert {d.name for d in assistant.documents()} == {SAMPLE_NAME}
    assert all(c.document == SAMPLE_NAME for c in assistant.index.snapshot.chunks)
    # the vectors went too: nothing from the note can be found any more
    assert all(p.chunk.document == SAMPLE_NAME for p in assistant.search("grievance note", k=50))


def test_unreadable_files_are_reported_and_the_rest_indexed(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder)
    corpus = assistant.settings.corpus_dir
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (corpus / "empty.pdf").write_bytes(b"")
    (corpus / "fake.pdf").write_text("just text, named like a PDF", encoding="utf-8")
    report = assistant.ingest()
    assert report.added == (SAMPLE_NAME,)
    reasons = {s.name: s.reason for s in report.skipped}
    assert reasons["empty.pdf"] == "the file is empty (0 bytes)"
    assert reasons["fake.pdf"] == "not a PDF (the file does not start with a %PDF header)"
    assert reasons["broken.pdf"].startswith(("the PDF is damaged", "the PDF has no pages"))
    assert [d.name for d in assistant.documents()] == [SAMPLE_NAME]


def test_a_broken_replacement_keeps_the_indexed_version(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder)
    assistant.ingest()
    before = assistant.index.snapshot.chunks
    (assistant.settings.corpus_dir / SAMPLE_NAME).write_bytes(b"%PDF-1.4 truncated")
    report = assistant.ingest()
    assert [s.name for s in report.skipped] == [SAMPLE_NAME]
    assert assistant.index.snapshot.chunks == before


def test_rebuild_reindexes_everything(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder)
    assistant.ingest()
    report = assistant.ingest(rebuild=True)
    assert report.updated == (SAMPLE_NAME,)
    assert len(assistant.index.snapshot.chunks) == report.chunks_indexed


def test_index_reopens_from_disk(tmp_path, embedder):
    assistant = make_assistant(tmp_path, embedder)
    assistant.ingest()
    reopened = make_assistant(tmp_path, embedder, files=[])
    assert [d.name for d in reopened.documents()] == [SAMPLE_NAME]
    assert reopened.search("Guiding Principle 15", k=1)[0].chunk.principles == (15,)


def test_an_index_chunked_by_an_older_ingest_is_read_again(tmp_path, embedder, monkeypatch):
    from assistant import records

    make_assistant(tmp_path, embedder).ingest()
    monkeypatch.setattr(records, "CHUNKING_VERSION", records.CHUNKING_VERSION + "-next")
    upgraded = make_assistant(tmp_path, embedder, files=[])
    assert upgraded.is_stale()
    assert upgraded.search("Guiding Principle 15", k=1)[0].chunk.principles == (15,)  # usable meanwhile
    report = upgraded.ingest()
    assert report.updated == (SAMPLE_NAME,) and not upgraded.is_stale()
    assert not make_assistant(tmp_path, embedder, files=[]).is_stale()


def test_text_and_markdown_files_are_indexed(tmp_path, embedder):
    shutil.copy(SAMPLE_PDF, tmp_path / "x.pdf")
    assistant = make_assistant(tmp_path, embedder, files=[])
    (assistant.settings.corpus_dir / "guide.txt").write_text(
        "Para one.\n\nPara two about GP 13.", encoding="utf-8"
    )
    report = assistant.ingest()
    assert report.added == ("guide.txt",)
    chunk = assistant.search("GP 13", k=1)[0].chunk
    assert chunk.document == "guide.txt" and chunk.principles == (13,) and chunk.reference is None


def test_warm_sentences_embeds_every_sentence_answers_use(tmp_path, embedder):
    from assistant.retrieve import sentence_texts

    assistant = make_assistant(tmp_path, embedder)
    assistant.ingest()
    wanted = {t for chunk in assistant.index.snapshot.chunks for t in sentence_texts(chunk)}
    assert assistant.warm_sentences() == len(wanted) > 50
    assert wanted <= set(embedder._cache)
    assert assistant.warm_sentences(limit=3) == 3
