-- Human-verified labels. Every import appends: an earlier label for the same chunk and
-- annotator stays as history, and `gold_current` shows the latest one.
CREATE SEQUENCE gold_labels_id_seq;
CREATE TABLE gold_labels (
    id          BIGINT PRIMARY KEY DEFAULT nextval('gold_labels_id_seq'),
    chunk_id    VARCHAR NOT NULL,
    text_hash   VARCHAR NOT NULL,
    task        VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    annotator   VARCHAR NOT NULL,
    note        VARCHAR,
    import_id   VARCHAR NOT NULL,     -- one id per `upscway gold import`
    source_file VARCHAR,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE VIEW gold_current AS
SELECT * FROM gold_labels
QUALIFY row_number() OVER (PARTITION BY chunk_id, task, annotator ORDER BY id DESC) = 1;
