-- Gold chunks on which two annotators (e.g. the teacher and a student) disagree, with the gold label.
-- param: annotator_a  # one annotator (`upscway query annotators` lists them), e.g. the teacher
-- param: annotator_b  # the other, e.g. a student (model:<id>)
WITH gold AS (
    SELECT chunk_id, text_hash, label AS gold FROM gold_current
    QUALIFY row_number() OVER (PARTITION BY chunk_id ORDER BY created_at DESC, id DESC) = 1
),
first AS (SELECT text_hash, label, confidence FROM annotations WHERE annotator = $annotator_a),
second AS (SELECT text_hash, label, confidence FROM annotations WHERE annotator = $annotator_b),
final AS (
    SELECT g.chunk_id, g.gold, f.label AS a_label, round(f.confidence, 3) AS a_confidence,
           s.label AS b_label, round(s.confidence, 3) AS b_confidence
    FROM gold g JOIN first f USING (text_hash) JOIN second s USING (text_hash)
    WHERE f.label <> s.label
)
SELECT * FROM final ORDER BY chunk_id;
