-- A study's arms, seed by seed: gold accuracy, macro F1, agreement with the study's teacher, ECE,
-- speed and size, and whether the arm trained or was reused. Default: the newest study.
-- param: study = latest  # a study id (`SELECT id FROM studies`), or latest
SELECT s.name AS spec, a.arm, a.seed, round(a.accuracy, 4) AS accuracy, round(a.macro_f1, 4) AS macro_f1,
       round(a.agreement, 4) AS agreement, round(a.ece, 4) AS ece, round(a.chunks_per_s, 1) AS chunks_per_s,
       a.parameters, a.size_mb, a.trained, a.arm_key, a.study_id
FROM study_arms a JOIN studies s ON s.id = a.study_id
WHERE a.study_id = CASE WHEN $study = 'latest' THEN (SELECT id FROM studies ORDER BY created_at DESC LIMIT 1) ELSE $study END
ORDER BY a.arm, a.seed;
