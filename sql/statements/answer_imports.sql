-- name: chunk_hashes
-- The text hash of each of these chunk ids that the store has.
SELECT id, text_hash FROM chunks WHERE id IN (SELECT unnest(?::VARCHAR[]));

-- name: stored_hashes
-- Which of these text hashes some stored chunk has.
SELECT DISTINCT text_hash FROM chunks WHERE text_hash IN (SELECT unnest(?::VARCHAR[]));

-- name: record
INSERT INTO answer_imports (import_id, file, annotator, task, prompt_version, models, lines, added, unchanged)
VALUES ($import_id, $file, $annotator, $task, $prompt_version, $models::VARCHAR[], $lines, $added, $unchanged);
