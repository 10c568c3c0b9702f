-- Teacher answers computed elsewhere (a batch GPU box) and imported from a JSONL file with
-- `upscway annotate import`: one row per import. Its answers are in `annotations` with
-- `flow_run_id` = `import_id`; a rerun of the same file adds none (`unchanged`).
CREATE TABLE answer_imports (
    import_id       VARCHAR PRIMARY KEY,   -- 'import:' and 12 hex digits
    file            VARCHAR NOT NULL,      -- the file as given
    annotator       VARCHAR NOT NULL,      -- what the answers are stored under (teacher.annotator names it)
    task            VARCHAR NOT NULL,
    prompt_version  VARCHAR NOT NULL,
    models          VARCHAR[] NOT NULL,    -- what answered, as the lines say (distinct, sorted)
    lines           INTEGER NOT NULL,      -- non-blank lines of the file
    added           INTEGER NOT NULL,      -- answers stored by this import
    unchanged       INTEGER NOT NULL,      -- answers already stored under the annotator and prompt version
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
