-- name: untagged
SELECT c.id, c.text_hash
FROM chunks c JOIN articles a ON a.id = c.article_id
WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.chunk_id = c.id AND t.task = $task)
  AND ($since IS NULL OR coalesce(a.published_date, CAST(a.created_at AS DATE)) >= CAST($since AS DATE))
ORDER BY c.created_at, c.id
LIMIT coalesce($limit, 9223372036854775807);

-- name: insert
INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator, flow_run_id)
SELECT unnest($chunk_ids::VARCHAR[]), unnest($hashes::VARCHAR[]), $task, unnest($labels::VARCHAR[]),
       unnest($probs::DOUBLE[][]), unnest($confidences::DOUBLE[]), unnest($decided_by::VARCHAR[]),
       unnest($annotators::VARCHAR[]), $run_id;

-- name: mean_cost
SELECT coalesce(avg(cost), 0) FROM annotations WHERE annotator = ?;
