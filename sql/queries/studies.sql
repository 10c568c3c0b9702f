-- Every study run, newest first: its spec, budget, teacher, gold chunks and report.
SELECT id, name, quick, status, teacher, gold_chunks,
       json_extract(spec, '$.budget.seeds')::INTEGER AS seeds, json_extract(spec, '$.budget.epochs')::DOUBLE AS epochs,
       json_extract(summary, '$.trained')::INTEGER AS trained, json_extract(summary, '$.reused')::INTEGER AS reused,
       report_path, created_at
FROM studies ORDER BY created_at DESC;
