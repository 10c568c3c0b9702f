-- name: start_run
INSERT INTO flow_runs (id, flow, parameters, status, host, pid, process_started_at) VALUES (?, ?, ?, 'running', ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL,
    host = excluded.host, pid = excluded.pid, process_started_at = excluded.process_started_at;

-- name: finish_run
UPDATE flow_runs SET status = ?, summary = ?, finished_at = current_timestamp WHERE id = ?;

-- name: insert_failures
INSERT INTO failures (flow_run_id, stage, item, reason)
SELECT $run_id, unnest($stages::VARCHAR[]), unnest($items::VARCHAR[]), unnest($reasons::VARCHAR[]);

-- name: count_failures
SELECT count(*) FROM failures WHERE flow_run_id = ?;

-- name: running
SELECT id, flow, host, pid, process_started_at FROM flow_runs WHERE status = 'running';

-- name: mark_crashed
UPDATE flow_runs SET status = 'crashed', finished_at = current_timestamp,
    summary = json_object('status', 'crashed', 'error', $reason, 'noticed_at', strftime(current_timestamp, '%Y-%m-%d %H:%M:%S%z'))
WHERE id = $run_id AND status = 'running';
