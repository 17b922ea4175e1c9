"""One run at a time per store: DuckDB allows a single writing process per file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class StoreLocked(Exception):
    """Another run holds the store; the message is the one line the CLI prints."""


@contextmanager
def store_lock(db_path: Path) -> Iterator[None]:
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise StoreLocked(f"store {db_path} is locked by another run ({lock_path})") from None
    try:
        yield
    finally:
        lock.release()
