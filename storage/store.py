"""Connections to the one DuckDB file, opened briefly and retried while another process holds it.

DuckDB lets one process at a time open a file for writing (and a read-only process cannot open
it while a writer has it). So nothing here keeps a connection: every read and every write
transaction opens the file, does its work and closes it, and an open that meets another
process's lock is retried with backoff until `lock_timeout_s`, saying after a few seconds
which process holds the file. Within one process, writes are serialised by a lock, so a flow's
parallel tasks never conflict with each other.

An analyst's query holds the file too (read-only, which still keeps writers out); it is
bounded by `sql.timeout_s`, which the settings keep well below `storage.lock_timeout_s`, so a
writer that meets one waits it out instead of failing.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from upscway import progress
from upscway.errors import InputError
from upscway.storage import integrity

LOGGER = logging.getLogger(__name__)

SANDBOX = {"enable_external_access": False, "lock_configuration": True}
SAY_AFTER_S, SAY_EVERY_S = 3.0, 30.0

_WRITE_LOCKS: dict[Path, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


class StoreError(InputError):
    """The store cannot be opened: a damaged or unreadable file, or a path that is not one."""


class StoreBusyError(StoreError):
    """Another process held the database for longer than the configured timeout."""


class DiskFull(StoreError):
    """No space is left where the data directory is: the run stops at once, and the transaction
    that met it is rolled back (DuckDB keeps what was committed before)."""


class NotWritable(StoreError):
    """The data directory is on a read-only file system, or cannot be created or written."""


def mount_of(path: Path) -> Path:
    """The mount point of the file system that holds `path` (or would, once created)."""
    path = path.resolve()
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def is_disk_full(exc: BaseException) -> bool:
    """An OSError with ENOSPC, or DuckDB's report of one (it says so in its message)."""
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc)


def disk_full(path: Path) -> DiskFull:
    where = mount_of(path)
    try:
        free = f", {shutil.disk_usage(where).free / 2**20:.1f} MiB free"
    except OSError:
        free = ""
    return DiskFull(
        f"no space left on the device holding {path} (the file system mounted at {where}{free}): "
        "free space there, or move the data directory (--data-dir); what the run had stored before stays, nothing is half-written"
    )


def _not_writable(exc: BaseException) -> bool:
    text = str(exc)
    return (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)) or any(
        words in text for words in ("Read-only file system", "Permission denied")
    )


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def holder_of(exc: duckdb.Error) -> str:
    """Who holds the lock, from DuckDB's message ("… is held in <exe> (PID 123) …"): the PID and,
    when it is still running, its command line."""
    found = re.search(r"\(PID (\d+)\)", str(exc))
    if not found:
        return "another process"
    pid = int(found.group(1))
    try:
        import psutil

        command = " ".join(" ".join(psutil.Process(pid).cmdline()).split())  # one line, however the command was spelt
    except Exception:  # gone already, or not ours to inspect
        return f"process {pid}"
    return f"process {pid} ({command[:120]}{'…' if len(command) > 120 else ''})"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0].rstrip("!.")


def _process_lock(path: Path) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


class Store:
    """The database file at `path`; cheap to create, safe to share between threads."""

    def __init__(self, path: Path | str, lock_timeout_s: float = 120.0):
        self.path = Path(path).resolve()
        self.lock_timeout_s = lock_timeout_s

    def _open(self, read_only: bool, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        started = time.monotonic()
        deadline, say_at = started + self.lock_timeout_s, started + SAY_AFTER_S
        delay = 0.02
        while True:
            try:
                checked = self._refuse_if_cut_short()
                conn = duckdb.connect(str(self.path), read_only=read_only, config=config or {})
                if checked:
                    return conn
                conn.close()  # the process that was writing the file when it was checked has just let go: check it now
                continue
            except duckdb.Error as exc:
                if is_disk_full(exc):
                    raise disk_full(self.path) from None
                if not read_only and _not_writable(exc):
                    raise NotWritable(
                        f"the data directory {self.path.parent} cannot be written ({_first_line(exc)}): "
                        "point --data-dir at a writable folder"
                    ) from None
                if not _is_lock_conflict(exc):
                    raise StoreError(
                        f"cannot open the store {self.path}: {str(exc).splitlines()[0].rstrip('!.')}. "
                        "If the file is damaged, restore it from a backup or point --data-dir at another folder."
                    ) from None
                now = time.monotonic()
                if now >= deadline:
                    raise StoreBusyError(
                        f"the store {self.path} stayed locked by {holder_of(exc)} for {self.lock_timeout_s:.0f} s; "
                        "wait for that run to finish or raise storage.lock_timeout_s"
                    ) from None
                if now >= say_at:
                    line = f"waiting for the store {self.path.name}: {holder_of(exc)} holds it ({now - started:.0f} s of up to {self.lock_timeout_s:.0f} s)"
                    if not progress.note(line):
                        LOGGER.warning(line)
                    say_at = now + SAY_EVERY_S
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)

    def _refuse_if_cut_short(self) -> bool:
        """A StoreError when the file is shorter than its own layout says (see storage/integrity.py):
        DuckDB opens such a file and fails, or answers from what is left, only when a query
        reaches a missing block. False when it could not look: another process was writing the
        file. Call it before connecting, under the process lock (so this process has no
        connection to the file whose lock the check could drop)."""
        try:
            short = integrity.shortfall(self.path)
        except integrity.Busy:
            return False
        except OSError:
            return True  # no file yet (DuckDB creates it), or one DuckDB will say it cannot read
        if short is None:
            return True
        raise StoreError(
            f"the store {self.path} is damaged: it is {short.size} bytes long but its blocks need {short.needed} "
            "(the file was cut short, e.g. by an interrupted copy or restore); restore it from a backup, "
            "or point --data-dir at another folder"
        )

    def _not_a_folder(self) -> StoreError:
        return StoreError(
            f"the data directory {self.path.parent} is a file, not a folder: point --data-dir at a folder"
        )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short write transaction: committed when the block ends, rolled back on error. A
        full disk is a DiskFull naming the device, an unwritable folder a NotWritable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise self._not_a_folder() from None
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(self.path) from None
            raise NotWritable(
                f"the data directory {self.path.parent} cannot be created ({exc.strerror}): "
                "point --data-dir at a writable folder"
            ) from None
        with _process_lock(self.path):
            conn = self._open(read_only=False)
            try:
                conn.begin()
                yield conn
                conn.commit()
            except BaseException as exc:
                try:
                    conn.rollback()
                except duckdb.Error:  # a failed commit has rolled back already: no transaction is left
                    pass
                if is_disk_full(exc):
                    raise disk_full(self.path) from None
                raise
            finally:
                conn.close()

    @contextmanager
    def reader(
        self, sandboxed: bool = False, memory_limit_mb: int | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection (no statement through it can write); `sandboxed` also turns
        external access off and locks the configuration, with `memory_limit_mb` as DuckDB's
        memory limit (for SQL typed by a person).

        Inside a process that also writes, the read shares the write lock: DuckDB refuses a
        read-only and a read-write connection to one file in the same process.
        """
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise self._not_a_folder()
        if not self.path.exists():
            raise FileNotFoundError(f"no database at {self.path}: run a flow (e.g. `upscway run ingest`) first")
        with _process_lock(self.path):
            limits = {"memory_limit": f"{memory_limit_mb}MB"} if memory_limit_mb else {}
            conn = self._open(read_only=True, config={**SANDBOX, **limits} if sandboxed else limits or None)
            try:
                yield conn
            finally:
                conn.close()
