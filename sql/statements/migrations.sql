-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    checksum   VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- name: applied
SELECT version, checksum FROM schema_migrations;

-- name: is_applied
SELECT 1 FROM schema_migrations WHERE version = ?;

-- name: record
INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?);
