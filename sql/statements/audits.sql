-- name: insert_audits
INSERT INTO audits (flow_run_id, model_id, chunk_id, text_hash, probability, student_label, teacher_label)
SELECT $run_id, $model_id, unnest($chunk_ids::VARCHAR[]), unnest($hashes::VARCHAR[]), $probability,
       unnest($student_labels::VARCHAR[]), unnest($teacher_labels::VARCHAR[]);

-- name: insert_night
INSERT INTO cascade_nights (flow_run_id, model_id, night, chunks, decided, audited, disagreements, audit_rate, alpha,
                            live_estimate, live_lower, live_upper, max_loss, fallback, teacher_requests, audit_requests,
                            requests_saved, calibration_articles, calibration_requests, detector, withheld)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_calibration_draws
INSERT INTO calibration_draws (flow_run_id, article_id, probability, model_id)
SELECT $run_id, unnest($articles::VARCHAR[]), $probability, $model_id;

-- name: nights_since_promotion
-- The model's audited nights since it last became production (a rollback back to it counts as a
-- new start: its certificate is judged afresh), and the live detector's log value after the
-- latest of them (NULL: none, or stored before the detector).
SELECT count(*), arg_max(detector, created_at) FROM cascade_nights n
WHERE n.model_id = $model_id
  AND n.created_at > coalesce((SELECT max(created_at) FROM alias_moves WHERE alias = 'production' AND model_id = $model_id),
                              TIMESTAMPTZ '1970-01-01');

-- name: active_fallback
SELECT id, reason, figures, strftime(created_at, '%Y-%m-%d %H:%M') FROM fallbacks
WHERE model_id = ? AND cleared_at IS NULL ORDER BY id DESC LIMIT 1;

-- name: record_fallback
INSERT INTO fallbacks (model_id, flow_run_id, reason, figures) VALUES (?, ?, ?, ?);

-- name: clear_fallbacks
UPDATE fallbacks SET cleared_at = current_timestamp, cleared_reason = ? WHERE model_id = ? AND cleared_at IS NULL
RETURNING id;

-- name: recent_nights
SELECT strftime(created_at, '%Y-%m-%d %H:%M') AS at, model_id, night, chunks, decided, audited, disagreements,
       live_estimate, live_lower, live_upper, max_loss, fallback, detector, coalesce(withheld, false) AS withheld
FROM cascade_nights ORDER BY created_at DESC LIMIT ?;

-- name: production_fallback_since
-- When the production model's active fallback began: the start of the run that detected it, so
-- the teacher's answers of that night (news of the break) count (no row: none holds).
SELECT min(coalesce(r.started_at, f.created_at)) FROM fallbacks f JOIN models m ON m.id = f.model_id
LEFT JOIN flow_runs r ON r.id = f.flow_run_id
WHERE m.alias = 'production' AND f.cleared_at IS NULL;
