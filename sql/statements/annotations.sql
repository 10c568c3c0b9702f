-- name: pending
-- Distinct chunk texts without an answer from this annotator for this prompt version.
WITH candidates AS (
    SELECT c.text_hash, min(c.id) AS chunk_id, min(a.published_date) AS published, min(c.created_at) AS created
    FROM chunks c JOIN articles a ON a.id = c.article_id
    WHERE ($source IS NULL OR a.source = $source)
      AND ($since IS NULL OR coalesce(a.published_date, CAST(a.created_at AS DATE)) >= CAST($since AS DATE))
    GROUP BY c.text_hash
)
SELECT k.text_hash, k.chunk_id
FROM candidates k
WHERE NOT EXISTS (
        SELECT 1 FROM annotations n
        WHERE n.text_hash = k.text_hash AND n.annotator = $annotator AND n.prompt_version = $version)
  AND (NOT $only_unlabeled OR NOT EXISTS (
        SELECT 1 FROM annotations n WHERE n.text_hash = k.text_hash AND n.prompt_version = $version))
ORDER BY k.created, k.chunk_id
LIMIT coalesce($limit, 9223372036854775807);

-- name: texts
SELECT text_hash, any_value(text) FROM chunks WHERE text_hash IN (SELECT unnest(?::VARCHAR[])) GROUP BY text_hash;

-- name: insert
-- Never a second row for the same key, even if two runs raced for a chunk.
INSERT INTO annotations (text_hash, annotator, task, prompt_version, label, label_index, probs, confidence,
                         off_label_mass, rationale, tokens_in, tokens_out, cost, latency_ms, flow_run_id)
SELECT * FROM (
    SELECT unnest($text_hash::VARCHAR[]) AS text_hash, $annotator, $task, $version,
           unnest($label::VARCHAR[]), unnest($label_index::INTEGER[]), unnest($probs::DOUBLE[][]),
           unnest($confidence::DOUBLE[]), unnest($off_label::DOUBLE[]), unnest($rationale::VARCHAR[]),
           unnest($tokens_in::INTEGER[]), unnest($tokens_out::INTEGER[]), unnest($cost::DOUBLE[]),
           unnest($latency_ms::DOUBLE[]), $run_id
) s
WHERE NOT EXISTS (
    SELECT 1 FROM annotations n
    WHERE n.text_hash = s.text_hash AND n.annotator = $annotator AND n.prompt_version = $version)
RETURNING text_hash;

-- name: run_summary
SELECT label, count(*) AS chunks, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out, sum(cost) AS cost
FROM annotations WHERE flow_run_id = ? GROUP BY label ORDER BY label;

-- name: training_rows
-- Every chunk with this teacher's answer (joined by text hash), its article, and the
-- latest gold label any person gave it (NULL when none); with $served (a list of languages),
-- only chunks of articles in one of them or of unknown language.
SELECT c.id AS chunk_id, c.article_id, c.text, n.probs, g.label AS gold
FROM chunks c
LEFT JOIN articles a ON a.id = c.article_id
JOIN annotations n ON n.text_hash = c.text_hash AND n.annotator = $annotator AND n.prompt_version = $version
LEFT JOIN (
    SELECT chunk_id, label FROM gold_current WHERE task = $task
    QUALIFY row_number() OVER (PARTITION BY chunk_id ORDER BY created_at DESC, id DESC) = 1
) g ON g.chunk_id = c.id
WHERE ($served IS NULL OR coalesce(a.language, '') = '' OR list_contains($served::VARCHAR[], a.language))
  -- a text of an article drawn for calibration is never trained on (new students are certified on it)
  AND c.text_hash NOT IN (SELECT c2.text_hash FROM calibration_draws d JOIN chunks c2 ON c2.article_id = d.article_id)
ORDER BY c.id;

-- name: new_since_training
-- Answers of a chain's teacher stored after the chain's newest model was registered (all, if none).
SELECT count(*) FROM annotations n
WHERE n.annotator = $annotator AND n.prompt_version = $version
  AND n.created_at > coalesce((SELECT max(m.created_at) FROM models m WHERE m.chain = $chain), TIMESTAMPTZ '1970-01-01 00:00:00+00');

-- name: teacher_probs
SELECT text_hash, probs FROM annotations
WHERE annotator = ? AND prompt_version = ? AND text_hash IN (SELECT unnest(?::VARCHAR[]));

-- name: mean_latency
-- What answering took an annotator, per chunk, on average over these texts (its speed).
SELECT avg(latency_ms) FROM annotations
WHERE annotator = ? AND prompt_version = ? AND text_hash IN (SELECT unnest(?::VARCHAR[])) AND latency_ms > 0;
