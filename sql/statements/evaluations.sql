-- name: gold_chunks
-- Each gold-labelled chunk with its latest label (any annotator) and its article.
SELECT g.chunk_id, c.article_id, c.text, c.text_hash, g.label, g.sampling
FROM gold_current g JOIN chunks c ON c.id = g.chunk_id
WHERE g.task = ?
QUALIFY row_number() OVER (PARTITION BY g.chunk_id ORDER BY g.created_at DESC, g.id DESC) = 1
ORDER BY g.chunk_id;

-- name: held_out_answers
-- An annotator's answers on chunks of news articles (not the gold paragraphs written for
-- review) whose text no model trained or validated on, without the answers a cascade chose:
-- a tag run in which the student decided some chunks sent the teacher only those it was unsure
-- of, and an answer given after such a run tagged the chunk exists because it did. An answer
-- that predates its cascade tagging (`upscway run annotate` answers every pending chunk) was
-- not chosen by anyone. One row per text (its first article decides the split).
SELECT min(c.article_id), a.text_hash, any_value(c.text), any_value(a.probs), max(a.created_at)
FROM annotations a
JOIN chunks c ON c.text_hash = a.text_hash
JOIN articles ar ON ar.id = c.article_id
WHERE a.annotator = $annotator AND a.prompt_version = $version AND ar.source <> $gold_source
  AND a.text_hash NOT IN (SELECT c2.text_hash FROM training_examples t JOIN chunks c2 ON c2.id = t.chunk_id)
  AND NOT EXISTS (
      SELECT 1 FROM tags t
      WHERE t.text_hash = a.text_hash AND (t.created_at <= a.created_at OR t.flow_run_id = a.flow_run_id)
        AND t.flow_run_id IN (SELECT flow_run_id FROM tags WHERE decided_by = 'student'))
GROUP BY a.text_hash
ORDER BY a.text_hash;

-- name: calibration_answers
-- An annotator's answers on the chunks of articles drawn for calibration (the tag flow's nightly
-- draw: the teacher answered every chunk of them, whatever the student thought), without texts
-- a model trained on. One row per text (its first calibration article is its unit).
SELECT min(c.article_id), a.text_hash, any_value(c.text), any_value(a.probs), max(a.created_at)
FROM annotations a
JOIN chunks c ON c.text_hash = a.text_hash
WHERE a.annotator = $annotator AND a.prompt_version = $version
  AND c.article_id IN (SELECT article_id FROM calibration_draws)
  AND a.text_hash NOT IN (SELECT c2.text_hash FROM training_examples t JOIN chunks c2 ON c2.id = t.chunk_id)
GROUP BY a.text_hash
ORDER BY a.text_hash;

-- name: calibration_articles
SELECT DISTINCT article_id FROM calibration_draws;

-- name: certified_models
-- Every evaluation that carries a certificate: its model, when, and the ε and overall confidence
-- it was computed at (the order models were first tested at one (ε, δ) numbers the candidates).
SELECT model_id, created_at, cascade FROM evaluations WHERE cascade IS NOT NULL ORDER BY created_at, id;

-- name: insert
INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired, cascade, flow_run_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: latest_for_model
-- The newest evaluation of a model, against any teacher ($teacher NULL) or against that one.
SELECT id, n, metrics, teacher_metrics, paired, cascade FROM evaluations
WHERE model_id = $model AND ($teacher IS NULL OR teacher = $teacher)
ORDER BY created_at DESC LIMIT 1;

-- name: record_decision
INSERT INTO gate_decisions (model_id, evaluation_id, verdict, criteria, reasons, forced, force_reason, max_loss, risk_level,
                            certified_threshold, risk_upper_bound, certified_offload, certificate_loss, certificate_n, certificate_sentence)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
