-- Every annotator with stored answers (the teacher, students as model:<id>), how many and when.
SELECT annotator, count(*) AS chunks, count(DISTINCT prompt_version) AS prompt_versions,
       strftime(min(created_at), '%Y-%m-%d %H:%M') AS first, strftime(max(created_at), '%Y-%m-%d %H:%M') AS last
FROM annotations GROUP BY annotator ORDER BY chunks DESC, annotator;
