-- Models and their training and latest evaluation metrics.
WITH latest AS (
    SELECT * FROM evaluations QUALIFY row_number() OVER (PARTITION BY model_id ORDER BY created_at DESC) = 1
)
SELECT m.id, m.chain, m.stage, m.kind, m.status, m.alias, m.teacher, m.parent_id,
       json_extract(m.metrics, '$.train_examples')::INTEGER AS train_examples,
       round(json_extract(m.metrics, '$.validation_agreement_with_teacher')::DOUBLE, 3) AS validation_agreement,
       round(json_extract(l.metrics, '$.accuracy')::DOUBLE, 3) AS gold_accuracy,
       round(json_extract(l.teacher_metrics, '$.accuracy')::DOUBLE, 3) AS teacher_gold_accuracy,
       l.n AS gold_chunks, m.created_at
FROM models m LEFT JOIN latest l ON l.model_id = m.id
ORDER BY m.created_at DESC;
