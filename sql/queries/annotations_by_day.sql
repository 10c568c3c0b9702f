-- Annotations by label per day and source.
-- param: annotator =  # only this annotator's answers (empty: all)
-- param: days = 30  # how many days back
WITH answers AS (
    SELECT CAST(n.created_at AS DATE) AS day, a.source, n.label, n.annotator
    FROM annotations n
    JOIN chunks c ON c.text_hash = n.text_hash
    JOIN articles a ON a.id = c.article_id
    WHERE ($annotator = '' OR n.annotator = $annotator)
      AND n.created_at >= current_date - CAST($days AS INTEGER)
),
final AS (
    SELECT day, source, label, count(*) AS chunks FROM answers GROUP BY ALL
)
SELECT * FROM final ORDER BY day DESC, source, label;
