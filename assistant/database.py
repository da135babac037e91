"""SQLite transactions opened the way every store here wants them (index, conversations, feedback)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A fresh connection for one transaction (committed on success, rolled back on error), closed after.
    WAL lets readers run while a writer writes; foreign keys make deletes cascade; the 30 s timeout lets
    writers from several threads or processes queue instead of failing."""
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        with connection:
            yield connection
    finally:
        connection.close()
