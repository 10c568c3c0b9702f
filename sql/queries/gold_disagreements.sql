-- Gold chunks on which two annotators (e.g. the teacher and a student) disagree, with the gold label.
-- param: a
-- param: b
WITH gold AS (
    SELECT chunk_id, text_hash, label AS gold FROM gold_current
    QUALIFY row_number() OVER (PARTITION BY chunk_id ORDER BY created_at DESC, id DESC) = 1
),
first AS (SELECT text_hash, label, confidence FROM annotations WHERE annotator = $a),
second AS (SELECT text_hash, label, confidence FROM annotations WHERE annotator = $b),
final AS (
    SELECT g.chunk_id, g.gold, f.label AS a_label, round(f.confidence, 3) AS a_confidence,
           s.label AS b_label, round(s.confidence, 3) AS b_confidence
    FROM gold g JOIN first f USING (text_hash) JOIN second s USING (text_hash)
    WHERE f.label <> s.label
)
SELECT * FROM final ORDER BY chunk_id;
