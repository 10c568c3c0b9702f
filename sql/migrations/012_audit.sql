-- The certified cascade in production (issue 23): each night's audit, its live bound, and the
-- fallbacks that stop offloading when the certificate no longer holds.

-- One row per chunk audited: the student decided it, and the teacher answered it as well (drawn
-- uniformly among the night's decided chunks with `probability`); the tag stays the student's.
CREATE TABLE audits (
    flow_run_id    VARCHAR NOT NULL,          -- the tag run
    model_id       VARCHAR NOT NULL,
    chunk_id       VARCHAR NOT NULL,
    text_hash      VARCHAR NOT NULL,
    probability    DOUBLE NOT NULL,
    student_label  VARCHAR NOT NULL,
    teacher_label  VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- One row per tag run with a production student: what it decided and audited, the live
-- consistency loss (estimate and bounds at the night's spent level alpha), and whether the
-- night fell back to the teacher.
CREATE TABLE cascade_nights (
    flow_run_id     VARCHAR NOT NULL,
    model_id        VARCHAR NOT NULL,
    night           INTEGER NOT NULL,         -- nights since the model was promoted, this one included
    chunks          INTEGER NOT NULL,
    decided         INTEGER NOT NULL,         -- by the student, before any fallback
    audited         INTEGER NOT NULL,
    disagreements   INTEGER NOT NULL,
    audit_rate      DOUBLE NOT NULL,
    alpha           DOUBLE NOT NULL,
    live_estimate   DOUBLE,
    live_lower      DOUBLE NOT NULL,
    live_upper      DOUBLE NOT NULL,
    max_loss        DOUBLE NOT NULL,          -- ε
    fallback        BOOLEAN NOT NULL,         -- the teacher decided every chunk tonight
    teacher_requests INTEGER NOT NULL,
    audit_requests  INTEGER NOT NULL,
    requests_saved  INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- A fallback: the cascade stopped offloading for `model_id` (what, when, the figures). It holds
-- until a new model is promoted (re-certified) or it is cleared by hand with a reason.
CREATE SEQUENCE fallbacks_id_seq;
CREATE TABLE fallbacks (
    id              BIGINT PRIMARY KEY DEFAULT nextval('fallbacks_id_seq'),
    model_id        VARCHAR NOT NULL,
    flow_run_id     VARCHAR,
    reason          VARCHAR NOT NULL,
    figures         JSON NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    cleared_at      TIMESTAMPTZ,
    cleared_reason  VARCHAR
);
