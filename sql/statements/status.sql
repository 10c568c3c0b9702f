-- name: counts
SELECT
    (SELECT count(*) FROM sources)         AS sources,
    (SELECT count(*) FROM articles)        AS articles,
    (SELECT count(*) FROM chunks)          AS chunks,
    (SELECT count(*) FROM article_aliases) AS duplicate_urls,
    (SELECT count(*) FROM failures)        AS failures;

-- name: frontier
-- Every discovered URL by state: pending (not fetched yet), retrying (a transient failure; due
-- again at next_retry), given up (too many transient failures), failed (a permanent failure).
SELECT count(*) FILTER (WHERE state = 'pending')  AS pending,
       count(*) FILTER (WHERE state = 'retrying') AS retrying,
       count(*) FILTER (WHERE state = 'given_up') AS given_up,
       count(*) FILTER (WHERE state = 'failed')   AS failed,
       count(*) FILTER (WHERE state IN ('stored', 'alias')) AS stored,
       strftime(min(next_attempt_at) FILTER (WHERE state = 'retrying'), '%Y-%m-%d %H:%M') AS next_retry
FROM frontier;

-- name: production
SELECT coalesce(m.id, '(none yet: the teacher tags everything)') AS production_model, m.chain, m.stage,
       (SELECT d.verdict FROM gate_decisions d WHERE d.model_id = m.id ORDER BY d.id DESC LIMIT 1) AS its_last_gate_verdict,
       (SELECT strftime(v.created_at, '%Y-%m-%d %H:%M') FROM alias_moves v
        WHERE v.alias = 'production' ORDER BY v.id DESC LIMIT 1) AS since
FROM (SELECT 1) AS one LEFT JOIN models m ON m.alias = 'production';

-- name: last_gate_decision
-- (its reasons and certificate sentence: `upscway query gate_history`, and the report)
SELECT d.model_id AS model, d.verdict || CASE WHEN d.forced THEN ' (forced)' ELSE '' END AS verdict,
       strftime(d.created_at, '%Y-%m-%d %H:%M') AS decided, d.max_loss AS epsilon,
       coalesce(CAST(d.certified_threshold AS VARCHAR), 'none') AS certified_at, round(d.certified_offload, 3) AS offload
FROM gate_decisions d ORDER BY d.id DESC LIMIT 1;

-- name: tags_by_decider
SELECT decided_by, count(*) AS chunks, round(avg(confidence), 3) AS mean_confidence
FROM tags GROUP BY ALL ORDER BY decided_by;

-- name: articles_by_source
SELECT source, count(*) AS articles, strftime(max(created_at), '%Y-%m-%d %H:%M') AS last_stored
FROM articles GROUP BY source ORDER BY articles DESC;

-- name: recent_runs
SELECT r.flow, r.status, strftime(r.started_at, '%Y-%m-%d %H:%M:%S') AS started,
       round(epoch(r.finished_at) - epoch(r.started_at), 1) AS seconds,
       (SELECT count(*) FROM failures f WHERE f.flow_run_id = r.id) AS failures
FROM flow_runs r ORDER BY r.started_at DESC LIMIT 8;

-- name: recent_failures
SELECT stage, item, reason FROM failures ORDER BY created_at DESC, id DESC LIMIT 10;

-- name: silver_by_label
SELECT annotator, prompt_version, label, count(*) AS chunks
FROM annotations GROUP BY ALL ORDER BY annotator, prompt_version, label;

-- name: gold_by_label
SELECT task, label, count(*) AS chunks, count(DISTINCT annotator) AS annotators
FROM gold_current GROUP BY ALL ORDER BY task, label;

-- name: cascade_live_bound
-- The production cascade's last audited night: the live consistency loss's bounds against ε,
-- and the fallback that holds it, if any (every night: `upscway query cascade_nights`).
SELECT n.model_id AS model, n.night, n.decided || ' of ' || n.chunks AS decided,
       round(n.live_lower, 3) || '–' || round(n.live_upper, 3) AS live_loss, n.max_loss AS epsilon,
       coalesce((SELECT 'since ' || strftime(f.created_at, '%Y-%m-%d %H:%M') || ': ' || f.reason FROM fallbacks f
                 WHERE f.model_id = n.model_id AND f.cleared_at IS NULL ORDER BY f.id DESC LIMIT 1), 'none') AS fallback
FROM cascade_nights n ORDER BY n.created_at DESC LIMIT 1;
