-- Studies (issue 24): a grid of training arms, each trained with several seeds and scored on
-- the same gold chunks; and the lineage of a model derived from another (an INT8 student).

ALTER TABLE models ADD COLUMN parent_id VARCHAR;   -- the model this one was made from (quantized), else NULL

CREATE TABLE studies (
    id            VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,        -- the spec's name, e.g. kd-grid
    spec_file     VARCHAR NOT NULL,
    spec          JSON NOT NULL,           -- the validated spec as run (after --quick)
    quick         BOOLEAN NOT NULL,
    teacher       VARCHAR NOT NULL,        -- the annotator whose eval-gold answers the arms are compared with
    gold_chunks   INTEGER,
    status        VARCHAR NOT NULL,        -- running | completed | failed
    summary       JSON,                    -- per-arm aggregates, paired intervals, the claims' verdicts
    report_path   VARCHAR,
    flow_run_id   VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at   TIMESTAMPTZ
);

-- One row per arm and seed of a study. `arm_key` names what was trained (the arm's settings,
-- the seed and the training data): a later study with the same key reuses the trained student.
CREATE TABLE study_arms (
    study_id      VARCHAR NOT NULL,
    arm           VARCHAR NOT NULL,        -- e.g. temperature=5 (the axes the grid varies)
    seed          INTEGER NOT NULL,
    arm_key       VARCHAR NOT NULL,
    settings      JSON NOT NULL,           -- every axis's value for this arm
    trained       BOOLEAN NOT NULL,        -- false: reused from an earlier run
    accuracy      DOUBLE,
    macro_f1      DOUBLE,
    agreement     DOUBLE,                  -- top-1 agreement with the study's teacher on the gold chunks
    ece           DOUBLE,
    chunks_per_s  DOUBLE,
    parameters    BIGINT,
    size_mb       DOUBLE,
    metrics       JSON NOT NULL,           -- the above, per-label F1 and the training figures
    predictions   INTEGER[] NOT NULL,      -- label index per gold chunk, in the study's gold order
    model_path    VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (study_id, arm, seed)
);
