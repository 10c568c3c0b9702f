-- name: candidates
-- Chunks with the annotator's answer (the latest it gave), not yet gold-labelled.
WITH teacher AS (
    SELECT a.*, row_number() OVER (PARTITION BY text_hash ORDER BY created_at DESC) AS rn
    FROM annotations a WHERE annotator = $annotator AND task = $task
)
SELECT c.id AS chunk_id, c.text, ar.canonical_url AS source_url, t.label AS teacher_label, t.probs,
       t.confidence, t.text_hash, t.annotator, coalesce(ar.title, '') AS title,
       coalesce(CAST(ar.published_date AS VARCHAR), '') AS date
FROM teacher t
JOIN chunks c ON c.text_hash = t.text_hash
JOIN articles ar ON ar.id = c.article_id
WHERE t.rn = 1
  AND NOT EXISTS (SELECT 1 FROM gold_labels g WHERE g.chunk_id = c.id AND g.task = $task)
QUALIFY row_number() OVER (PARTITION BY t.text_hash ORDER BY c.id) = 1;

-- name: calibration_chunks
-- The chunks of the articles drawn for calibration (`$with_model`: only those drawn on nights a
-- production student was offloading), not yet gold-labelled for the task, one chunk per text
-- hash: the pool `gold export --strategy random|audit` draws from. `probability` is the chance
-- the chunk's article was drawn (its latest draw of those counted). No model's answer is read:
-- the sheet is blind.
WITH draws AS (
    SELECT article_id, probability
    FROM calibration_draws
    WHERE NOT $with_model OR model_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY created_at DESC, flow_run_id DESC) = 1
)
SELECT c.id AS chunk_id, c.text, ar.canonical_url AS source_url, c.text_hash,
       coalesce(ar.title, '') AS title, coalesce(CAST(ar.published_date AS VARCHAR), '') AS date,
       d.probability
FROM draws d
JOIN chunks c ON c.article_id = d.article_id
JOIN articles ar ON ar.id = c.article_id
WHERE NOT EXISTS (SELECT 1 FROM gold_labels g WHERE g.text_hash = c.text_hash AND g.task = $task)
QUALIFY row_number() OVER (PARTITION BY c.text_hash ORDER BY c.id) = 1;

-- name: calibration_draws
-- How many articles were drawn for calibration, in all and on nights with a production student.
SELECT count(*), count(model_id) FROM calibration_draws;

-- name: disagreements
-- Texts on which two annotators (same task) gave different labels.
SELECT text_hash, count(DISTINCT label) AS labels, count(DISTINCT annotator) AS annotators
FROM annotations WHERE task = $task
GROUP BY text_hash HAVING count(DISTINCT label) > 1;

-- name: chunks_by_id
SELECT c.id, c.text_hash, c.text FROM chunks c WHERE c.id IN (SELECT unnest(?::VARCHAR[]));

-- name: chunks_by_hash
SELECT c.text_hash, min(c.id) FROM chunks c WHERE c.text_hash IN (SELECT unnest(?::VARCHAR[])) GROUP BY c.text_hash;

-- name: insert_label
INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, note, import_id, source_file, sampling, sampling_probability)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: current_pairs
-- Current labels of chunks that two annotators both labelled.
SELECT a.annotator, b.annotator, a.label, b.label
FROM gold_current a JOIN gold_current b
  ON a.chunk_id = b.chunk_id AND a.task = b.task AND a.annotator < b.annotator
WHERE a.task = ?;

-- name: counts_by_label
SELECT label, count(*) FROM gold_current WHERE task = ? GROUP BY label ORDER BY label;

-- name: insert_article
INSERT INTO articles (id, canonical_url, fetched_url, source, title, text, content_hash)
SELECT ?, ?, ?, ?, ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM articles WHERE canonical_url = ?);

-- name: insert_chunk
INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash)
SELECT ?, ?, 0, ?, 0, ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM chunks WHERE id = ?);

-- name: current_label
SELECT label, coalesce(note, '') FROM gold_current WHERE chunk_id = ? AND task = ? AND annotator = ?;

-- name: annotators
SELECT DISTINCT annotator FROM annotations WHERE task = ? ORDER BY annotator;
