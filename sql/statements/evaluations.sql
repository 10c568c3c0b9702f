-- name: gold_chunks
-- Each gold-labelled chunk with its latest label (any annotator) and its article.
SELECT g.chunk_id, c.article_id, c.text, c.text_hash, g.label
FROM gold_current g JOIN chunks c ON c.id = g.chunk_id
WHERE g.task = ?
QUALIFY row_number() OVER (PARTITION BY g.chunk_id ORDER BY g.created_at DESC, g.id DESC) = 1
ORDER BY g.chunk_id;

-- name: insert
INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired, cascade, flow_run_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: latest_for_model
SELECT id, n, metrics, teacher_metrics, paired, cascade FROM evaluations WHERE model_id = ? ORDER BY created_at DESC LIMIT 1;

-- name: record_decision
INSERT INTO gate_decisions (model_id, evaluation_id, verdict, criteria, reasons, forced, force_reason)
VALUES (?, ?, ?, ?, ?, ?, ?);
