-- The final label of each chunk in production, and who decided it (the cascade's output).
CREATE TABLE tags (
    chunk_id     VARCHAR NOT NULL,
    text_hash    VARCHAR NOT NULL,
    task         VARCHAR NOT NULL,
    label        VARCHAR NOT NULL,
    probs        DOUBLE[] NOT NULL,
    confidence   DOUBLE NOT NULL,
    decided_by   VARCHAR NOT NULL,        -- student | teacher
    annotator    VARCHAR NOT NULL,        -- model:<id> or the teacher's annotator id
    flow_run_id  VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
