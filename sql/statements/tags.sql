-- name: untagged
-- With $served (a list of languages), only chunks of articles in one of them or of unknown
-- language (NULL or empty: stored before languages were identified). The article is NULL for a
-- paragraph written for review (not news: never drawn for calibration).
SELECT c.id, c.text_hash, nullif(a.language, ''), CASE WHEN a.source = $gold_source THEN NULL ELSE c.article_id END
FROM chunks c JOIN articles a ON a.id = c.article_id
WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.chunk_id = c.id AND t.task = $task)
  AND ($since IS NULL OR coalesce(a.published_date, CAST(a.created_at AS DATE)) >= CAST($since AS DATE))
  AND ($served IS NULL OR coalesce(a.language, '') = '' OR list_contains($served::VARCHAR[], a.language))
ORDER BY c.created_at, c.id
LIMIT coalesce($limit, 9223372036854775807);

-- name: untagged_elsewhere
-- Untagged chunks of articles in a language not in $served, counted by language.
SELECT a.language, count(*)
FROM chunks c JOIN articles a ON a.id = c.article_id
WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.chunk_id = c.id AND t.task = $task)
  AND ($since IS NULL OR coalesce(a.published_date, CAST(a.created_at AS DATE)) >= CAST($since AS DATE))
  AND coalesce(a.language, '') <> '' AND NOT list_contains($served::VARCHAR[], a.language)
GROUP BY a.language ORDER BY a.language;

-- name: insert
INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator, flow_run_id)
SELECT unnest($chunk_ids::VARCHAR[]), unnest($hashes::VARCHAR[]), $task, unnest($labels::VARCHAR[]),
       unnest($probs::DOUBLE[][]), unnest($confidences::DOUBLE[]), unnest($decided_by::VARCHAR[]),
       unnest($annotators::VARCHAR[]), $run_id;

-- name: mean_cost
SELECT coalesce(avg(cost), 0) FROM annotations WHERE annotator = ?;
