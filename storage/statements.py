"""Named SQL statements kept in `sql/statements/*.sql`, so no SQL hides in Python strings.

A file holds several statements, each introduced by a `-- name: <name>` line:

    -- name: insert_source
    INSERT INTO sources ...;
"""

from __future__ import annotations

import re
from functools import cache

from upscway.resources import SQL_DIR

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.M)


@cache
def statements(group: str) -> dict[str, str]:
    text = (SQL_DIR / "statements" / f"{group}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def sql(group: str, name: str) -> str:
    try:
        return statements(group)[name]
    except KeyError:
        raise KeyError(f"no statement {name!r} in sql/statements/{group}.sql") from None
