-- Paired evaluations of a model and its teacher on the same gold chunks, and gate decisions.
CREATE TABLE evaluations (
    id               VARCHAR PRIMARY KEY,
    model_id         VARCHAR NOT NULL,
    teacher          VARCHAR NOT NULL,       -- annotator id scored on the same chunks
    gold_split       VARCHAR NOT NULL,
    n                INTEGER NOT NULL,
    metrics          JSON NOT NULL,          -- the candidate's
    teacher_metrics  JSON NOT NULL,
    paired           JSON NOT NULL,          -- agreement, gap, McNemar, intervals
    flow_run_id      VARCHAR,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE gate_decisions_id_seq;
CREATE TABLE gate_decisions (
    id              BIGINT PRIMARY KEY DEFAULT nextval('gate_decisions_id_seq'),
    model_id        VARCHAR NOT NULL,
    evaluation_id   VARCHAR NOT NULL,
    verdict         VARCHAR NOT NULL,        -- promote | reject | insufficient-data
    criteria        JSON NOT NULL,           -- [{name, value, threshold, comparison, passed}]
    reasons         JSON NOT NULL,
    forced          BOOLEAN NOT NULL DEFAULT false,
    force_reason    VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Every move of an alias (e.g. production), so a rollback restores the previous model.
CREATE SEQUENCE alias_moves_id_seq;
CREATE TABLE alias_moves (
    id           BIGINT PRIMARY KEY DEFAULT nextval('alias_moves_id_seq'),
    alias        VARCHAR NOT NULL,
    model_id     VARCHAR,                 -- NULL: the alias was cleared
    previous_id  VARCHAR,
    action       VARCHAR NOT NULL,        -- promote | rollback
    reason       VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
