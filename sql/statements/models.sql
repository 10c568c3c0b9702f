-- name: register
INSERT INTO models (id, chain, stage, kind, base_model, path, teacher, task, prompt_version, config, status, flow_run_id, parent_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'training', ?, ?);

-- name: finish
UPDATE models SET status = ?, metrics = ? WHERE id = ?;

-- name: add_metrics
-- Merge figures into a model's metrics (the certificate's reference scores, at promotion).
UPDATE models SET metrics = json_merge_patch(coalesce(metrics, '{}'), ?::JSON) WHERE id = ?;

-- name: record_examples
INSERT INTO training_examples (model_id, chunk_id, split)
SELECT $model_id, unnest($chunk_ids::VARCHAR[]), unnest($splits::VARCHAR[]);

-- name: copy_examples
-- A derived model (an INT8 student) was trained on exactly its parent's chunks.
INSERT INTO training_examples (model_id, chunk_id, split)
SELECT ?, chunk_id, split FROM training_examples WHERE model_id = ?;

-- name: derived
SELECT id, path FROM models WHERE parent_id = ?;

-- name: database_file
-- The file this connection has open: the data directory is its folder (model paths are stored relative to it).
SELECT path FROM duckdb_databases() WHERE database_name = current_database();

-- name: latest_of_stage
SELECT id, path, kind FROM models
WHERE chain = ? AND stage = ? AND status = 'candidate'
ORDER BY created_at DESC LIMIT 1;

-- name: get
SELECT id, chain, stage, kind, base_model, path, teacher, task, prompt_version, config, metrics, status, alias, created_at, parent_id
FROM models WHERE id = ?;

-- name: list
SELECT id, status, alias, strftime(created_at, '%Y-%m-%d') AS created FROM models ORDER BY created_at DESC;

-- name: unfinished
-- A model of this stage whose training was interrupted: its run resumes from its checkpoints.
SELECT id, path FROM models
WHERE chain = ? AND stage = ? AND teacher = ? AND status = 'training'
ORDER BY created_at DESC LIMIT 1;

-- name: holder
SELECT id FROM models WHERE alias = ?;

-- name: clear_alias
UPDATE models SET alias = NULL WHERE alias = ?;

-- name: set_alias
UPDATE models SET alias = ? WHERE id = ?;

-- name: record_move
INSERT INTO alias_moves (alias, model_id, previous_id, action, reason, confidence_threshold) VALUES (?, ?, ?, ?, ?, ?);

-- name: last_promotion
SELECT model_id, previous_id FROM alias_moves WHERE alias = ? AND action = 'promote' ORDER BY id DESC LIMIT 1;

-- name: ids_starting
SELECT id FROM models WHERE starts_with(id, ?) ORDER BY id LIMIT 11;

-- name: validated_threshold
SELECT confidence_threshold FROM alias_moves
WHERE alias = ? AND model_id = ? AND action = 'promote' AND confidence_threshold IS NOT NULL
ORDER BY id DESC LIMIT 1;

-- name: in_training
-- Models of a chain (of one stage and teacher, when given) still marked `training`, newest
-- first, with the run that trains them and that run's status and process.
SELECT m.id, m.stage, r.id, r.status, r.host, r.pid, r.process_started_at
FROM models m LEFT JOIN flow_runs r ON r.id = m.flow_run_id
WHERE m.chain = $chain AND m.status = 'training'
  AND ($stage IS NULL OR m.stage = $stage) AND ($teacher IS NULL OR m.teacher = $teacher)
ORDER BY m.created_at DESC;

-- name: take_over
-- A run resumes a model whose training run died: the model is that run's now.
UPDATE models SET flow_run_id = ? WHERE id = ?;
