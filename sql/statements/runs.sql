-- name: start_run
INSERT INTO flow_runs (id, flow, parameters, status) VALUES (?, ?, ?, 'running')
ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL;

-- name: finish_run
UPDATE flow_runs SET status = ?, summary = ?, finished_at = current_timestamp WHERE id = ?;

-- name: insert_failures
INSERT INTO failures (flow_run_id, stage, item, reason)
SELECT $run_id, unnest($stages::VARCHAR[]), unnest($items::VARCHAR[]), unnest($reasons::VARCHAR[]);

-- name: count_failures
SELECT count(*) FROM failures WHERE flow_run_id = ?;
