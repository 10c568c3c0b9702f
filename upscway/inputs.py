"""Files and values that people and Prefect runs hand the pipeline, refused whole when malformed.

Every file a parameter names (a feeds file, a study spec, a URL list, a gold sheet, a saved
page) is read through `read_bounded`: only a regular file, and at most a bounded number of
bytes of it. A folder, a device (`/dev/zero`), a pipe or a socket is refused by its kind before
a byte is read, so it is a usage error naming the file rather than a process that fills the
machine's memory or waits forever. Where a run may find such files: `flows/parameters.py`.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from upscway.errors import InputError

MAX_INPUT_BYTES = 64 * 2**20  # a feeds file, a spec, a URL list or a gold sheet is far smaller
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def read_bounded(path: Path | str, what: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; anything else (missing,
    a folder, a device, a pipe, a larger file, one that grows past the limit while read) is an
    InputError naming `what` and the path. The kind is checked on the opened descriptor, so a
    path swapped after a check cannot slip through; a pipe opens without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{what} {path} is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise InputError(f"{what} {path} is not a regular file (a device, pipe or socket is never read)")
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(f"{what} {path} is larger than {limit:,} bytes, the most an input file may hold")
    return data


def read_text(path: Path | str, what: str, encoding: str = "utf-8", limit: int = MAX_INPUT_BYTES) -> str:
    """`read_bounded`, decoded; text that is not in `encoding` is an InputError naming the file."""
    try:
        return read_bounded(path, what, limit).decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not {encoding} text (byte {exc.start})") from None


def parse_day(value: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD parameter as a date (None when not given); anything else is an InputError
    naming the flag and the value, before any query sees it."""
    if value is None:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


class BackfillInput(BaseModel):
    """What a backfill reads: exactly one of a source's sitemaps between two days (`source` and
    `since`, `until` default today), a file of URLs, or a folder of saved pages; `source` also
    names the source that pages of the other two are filed under, and `feeds` the feeds file
    that defines the sources (default: the profile's). Paths as given: a run resolves them
    (and, in a deployment run, confines them: flows/parameters.py) before reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    since: str | None = None
    until: str | None = None
    urls: str | None = None
    html_dir: str | None = None
    feeds: str | None = None

    def check(self) -> None:
        """InputError unless exactly one input is given, with what it needs."""
        given = [
            flag
            for flag, value in (("--since", self.since), ("--urls", self.urls), ("--html-dir", self.html_dir))
            if value
        ]
        if len(given) != 1:
            raise InputError(
                "backfill needs exactly one of --source/--since, --urls or --html-dir"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.since and not self.source:
            raise InputError("--since reads a source's sitemaps: name it with --source")
        first, last = parse_day(self.since, "--since"), parse_day(self.until, "--until")
        if first and last and last < first:
            raise InputError(f"--until {self.until} is before --since {self.since}")
