-- name: start
INSERT INTO studies (id, name, spec_file, spec, quick, teacher, gold_chunks, status, flow_run_id)
VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?);

-- name: record_arm
INSERT INTO study_arms (study_id, arm, seed, arm_key, settings, trained, accuracy, macro_f1, agreement, ece,
                        chunks_per_s, parameters, size_mb, metrics, predictions, model_path)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: finish
UPDATE studies SET status = ?, summary = ?, report_path = ?, finished_at = current_timestamp WHERE id = ?;

-- name: arms
SELECT arm, seed, arm_key, settings, trained, metrics, predictions, model_path
FROM study_arms WHERE study_id = ? ORDER BY arm, seed;
