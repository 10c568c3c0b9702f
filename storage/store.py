"""Connections to the one DuckDB file, opened briefly and retried while another process holds it.

DuckDB lets one process at a time open a file for writing (and a read-only process cannot open
it while a writer has it). So nothing here keeps a connection: every read and every write
transaction opens the file, does its work and closes it, and an open that meets another
process's lock is retried with backoff until `lock_timeout_s`. Within one process, writes are
serialised by a lock, so a flow's parallel tasks never conflict with each other.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from upscway.errors import InputError

LOGGER = logging.getLogger(__name__)

SANDBOX = {"enable_external_access": False, "lock_configuration": True}

_WRITE_LOCKS: dict[Path, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


class StoreError(InputError):
    """The store cannot be opened: a damaged or unreadable file, or a path that is not one."""


class StoreBusyError(StoreError):
    """Another process held the database for longer than the configured timeout."""


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def _process_lock(path: Path) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


class Store:
    """The database file at `path`; cheap to create, safe to share between threads."""

    def __init__(self, path: Path | str, lock_timeout_s: float = 120.0):
        self.path = Path(path).resolve()
        self.lock_timeout_s = lock_timeout_s

    def _open(self, read_only: bool, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only, config=config or {})
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise StoreError(
                        f"cannot open the store {self.path}: {str(exc).splitlines()[0].rstrip('!.')}. "
                        "If the file is damaged, restore it from a backup or point --data-dir at another folder."
                    ) from None
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"the store {self.path} stayed locked by another process for {self.lock_timeout_s:.0f} s; "
                        "wait for that run to finish or raise storage.lock_timeout_s"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)

    def _not_a_folder(self) -> StoreError:
        return StoreError(f"the data directory {self.path.parent} is a file, not a folder: point --data-dir at a folder")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short write transaction: committed when the block ends, rolled back on error."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise self._not_a_folder() from None
        with _process_lock(self.path):
            conn = self._open(read_only=False)
            try:
                conn.begin()
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()

    @contextmanager
    def reader(self, sandboxed: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection (no statement through it can write); `sandboxed` also turns
        external access off and locks the configuration (for SQL typed by a person).

        Inside a process that also writes, the read shares the write lock: DuckDB refuses a
        read-only and a read-write connection to one file in the same process.
        """
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise self._not_a_folder()
        if not self.path.exists():
            raise FileNotFoundError(f"no database at {self.path}: run a flow (e.g. `upscway run ingest`) first")
        with _process_lock(self.path):
            conn = self._open(read_only=True, config=SANDBOX if sandboxed else None)
            try:
                yield conn
            finally:
                conn.close()
