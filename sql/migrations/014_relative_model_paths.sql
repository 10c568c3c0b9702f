-- Model folders relative to the data directory (the folder of this database file), so a data
-- directory copied, moved or restored from a backup uses its own weights. Rows that name a
-- folder outside it (a copy made before this migration) are resolved when read (storage/layout.py).
UPDATE models
SET path = substr(path, length(data_dir) + 2)
FROM (
    SELECT regexp_replace(path, '/[^/]*$', '') AS data_dir
    FROM duckdb_databases() WHERE database_name = current_database()
) AS here
WHERE starts_with(models.path, here.data_dir || '/');
