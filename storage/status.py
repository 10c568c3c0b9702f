"""The store's status reports (`sql/statements/status.sql`), for `upscway status`."""

from __future__ import annotations

import duckdb

from upscway.storage import migrations
from upscway.storage.statements import statements
from upscway.storage.store import Store

Report = tuple[str, list[str], list[tuple]]


def status_reports(store: Store) -> list[Report]:
    """(title, columns, rows) of each status report. A store that an older version wrote
    (migrations pending) is read as it is, without writing to it: a report over tables it does
    not have yet is left out, and a first table says so."""
    reports = []
    with store.reader() as conn:
        behind = migrations.pending(conn)
        if behind:
            reports.append(
                (
                    "store",
                    ["migrations pending"],
                    [(f"{', '.join(map(str, behind))}: the next `upscway run …` applies them",)],
                )
            )
        for name, query in statements("status").items():
            try:
                cursor = conn.execute(query)
            except (duckdb.CatalogException, duckdb.BinderException):
                if behind:
                    continue
                raise
            reports.append((name.replace("_", " "), [d[0] for d in cursor.description], cursor.fetchall()))
    return reports
