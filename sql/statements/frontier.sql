-- name: discover
-- New URLs become pending; a URL already in the frontier keeps its state.
INSERT INTO frontier (url, source, local_path, discovered_by, state)
SELECT unnest($urls::VARCHAR[]), unnest($sources::VARCHAR[]), unnest($local_paths::VARCHAR[]),
       unnest($discovered_by::VARCHAR[]), 'pending'
ON CONFLICT (url) DO NOTHING;

-- name: claim_due
-- What a run fetches, oldest discovery first: pending URLs and retrying ones whose time has
-- come, that no other live run has claimed; claimed for this run in the same statement.
UPDATE frontier SET claimed_by = $run_id
WHERE url IN (
    SELECT url FROM frontier
    WHERE (state = 'pending' OR (state = 'retrying' AND next_attempt_at <= current_timestamp))
      AND ($sources IS NULL OR list_contains($sources::VARCHAR[], source))
      AND (claimed_by IS NULL OR claimed_by = $run_id
           OR claimed_by NOT IN (SELECT id FROM flow_runs WHERE status = 'running'))
    ORDER BY discovered_at, url
    LIMIT $limit)
RETURNING url, source, local_path, discovered_at;

-- name: claim_unfinished
-- Of the given URLs, those neither stored nor an alias nor claimed by another live run (what a
-- backfill asked for and lacks), claimed for this run.
UPDATE frontier SET claimed_by = $run_id
WHERE url IN (SELECT unnest($urls::VARCHAR[])) AND state NOT IN ('stored', 'alias')
  AND (claimed_by IS NULL OR claimed_by = $run_id OR claimed_by NOT IN (SELECT id FROM flow_runs WHERE status = 'running'))
RETURNING url;

-- name: settle
-- Pages now stored: as an article, or as an alias of one (a copy of a stored text).
UPDATE frontier SET
    state = CASE WHEN EXISTS (SELECT 1 FROM articles a WHERE a.canonical_url = frontier.url) THEN 'stored' ELSE 'alias' END,
    attempts = attempts + 1, next_attempt_at = NULL, reason = NULL, claimed_by = NULL, updated_at = current_timestamp
WHERE url IN (SELECT unnest(?::VARCHAR[]));

-- name: fail
-- A failed attempt: permanent failures are final; transient ones are retried with exponential
-- backoff (base * 2^(attempts-1)) until max_attempts, then given up.
UPDATE frontier SET
    attempts = attempts + 1,
    reason = f.reason,
    state = CASE WHEN NOT f.transient THEN 'failed'
                 WHEN attempts + 1 >= $max_attempts THEN 'given_up'
                 ELSE 'retrying' END,
    next_attempt_at = CASE WHEN f.transient AND attempts + 1 < $max_attempts
                           THEN current_timestamp + to_seconds($base_s * pow(2, attempts)) END,
    claimed_by = NULL,
    updated_at = current_timestamp
FROM (SELECT unnest($urls::VARCHAR[]) AS url, unnest($reasons::VARCHAR[]) AS reason,
             unnest($transient::BOOLEAN[]) AS transient) AS f
WHERE frontier.url = f.url;

-- name: known
SELECT url FROM frontier WHERE url IN (SELECT unnest(?::VARCHAR[]));
