-- Share of each label among this week's annotations vs the four weeks before.
-- param: annotator =  # only this annotator's answers (empty: all)
WITH answers AS (
    SELECT label, CASE WHEN created_at >= current_date - 7 THEN 'this_week' ELSE 'before' END AS period
    FROM annotations
    WHERE ($annotator = '' OR annotator = $annotator) AND created_at >= current_date - 35
),
shares AS (
    SELECT label,
           count(*) FILTER (WHERE period = 'this_week') / nullif(sum(count(*) FILTER (WHERE period = 'this_week')) OVER (), 0) AS this_week,
           count(*) FILTER (WHERE period = 'before') / nullif(sum(count(*) FILTER (WHERE period = 'before')) OVER (), 0) AS last_four_weeks
    FROM answers GROUP BY label
)
SELECT label, round(this_week, 3) AS this_week, round(last_four_weeks, 3) AS last_four_weeks,
       round(this_week - last_four_weeks, 3) AS change
FROM shares ORDER BY label;
