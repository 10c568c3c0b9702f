-- Silver labels: one row per (chunk text hash, annotator, prompt version), written by the
-- annotate flow. Keyed by text hash so identical text in two chunks is annotated once.
CREATE TABLE annotations (
    text_hash       VARCHAR NOT NULL,
    annotator       VARCHAR NOT NULL,      -- e.g. openai:Qwen/Qwen2.5-72B-Instruct, embedding:all-MiniLM-L6-v2@T0.05
    task            VARCHAR NOT NULL,      -- task definition name (deployments/tasks/<name>.yaml)
    prompt_version  VARCHAR NOT NULL,      -- hash of the task definition
    label           VARCHAR NOT NULL,
    label_index     INTEGER NOT NULL,
    probs           DOUBLE[] NOT NULL,     -- over the task's labels, in order (raw, temperature 1)
    confidence      DOUBLE NOT NULL,
    off_label_mass  DOUBLE,
    rationale       VARCHAR,
    tokens_in       INTEGER,
    tokens_out      INTEGER,
    cost            DOUBLE,
    latency_ms      DOUBLE,
    flow_run_id     VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Each chunk with the annotations of its text.
CREATE VIEW chunk_annotations AS
SELECT c.id AS chunk_id, c.article_id, a.*
FROM chunks c JOIN annotations a ON a.text_hash = c.text_hash;
