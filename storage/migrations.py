"""Forward-only schema migrations from `sql/migrations/NNN_name.sql`, recorded in
`schema_migrations` with a checksum, so an applied file that was edited afterwards is caught
instead of silently diverging from the databases built before the edit."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from upscway.resources import SQL_DIR
from upscway.storage.statements import sql
from upscway.storage.store import Store

LOGGER = logging.getLogger(__name__)
_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def discover(directory: Path = SQL_DIR / "migrations") -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}")
    return found


def pending(conn: duckdb.DuckDBPyConnection, directory: Path = SQL_DIR / "migrations") -> list[int]:
    """The migrations this code has that the store (read through `conn`) has not applied yet."""
    try:
        recorded = {version for version, _ in conn.execute(sql("migrations", "applied")).fetchall()}
    except duckdb.CatalogException:  # a file no migration ever ran on
        recorded = set()
    return [m.version for m in discover(directory) if m.version not in recorded]


def migrate(store: Store, directory: Path = SQL_DIR / "migrations") -> list[int]:
    """Apply pending migrations in order, each in its own transaction; return the versions applied."""
    migrations = discover(directory)
    applied_now = []
    with store.transaction() as conn:
        conn.execute(sql("migrations", "create_schema_migrations"))
        recorded = dict(conn.execute(sql("migrations", "applied")).fetchall())
    for migration in migrations:
        if migration.version in recorded:
            if recorded[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.path.name} changed after it was applied to {store.path}; "
                    "migrations are forward-only: add a new file instead"
                )
            continue
        with store.transaction() as conn:
            # Another process may have applied it between our read and this transaction.
            if conn.execute(sql("migrations", "is_applied"), [migration.version]).fetchone():
                continue
            conn.execute(migration.text)
            conn.execute(sql("migrations", "record"), [migration.version, migration.name, migration.checksum])
        LOGGER.info("applied migration %s to %s", migration.path.name, store.path)
        applied_now.append(migration.version)
    unknown = sorted(set(recorded) - {m.version for m in migrations})
    if unknown:
        raise MigrationError(f"{store.path} has migrations this code does not know ({unknown}): upgrade upscway")
    return applied_now
