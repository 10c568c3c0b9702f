-- The model registry and what trained each model.
CREATE TABLE models (
    id              VARCHAR PRIMARY KEY,     -- e.g. demo-minilm-l3-20261123T1812
    chain           VARCHAR,
    stage           VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,        -- encoder | causal-lm
    base_model      VARCHAR NOT NULL,
    path            VARCHAR NOT NULL,        -- data/models/<id>/
    teacher         VARCHAR NOT NULL,        -- annotator id of the labels it learned from
    task            VARCHAR NOT NULL,
    prompt_version  VARCHAR NOT NULL,
    config          JSON,
    metrics         JSON,
    status          VARCHAR NOT NULL,        -- training | candidate | failed
    alias           VARCHAR,                 -- e.g. production (issue 5)
    flow_run_id     VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE training_examples (
    model_id    VARCHAR NOT NULL,
    chunk_id    VARCHAR NOT NULL,
    split       VARCHAR NOT NULL             -- train | validation
);
