-- One article's chunks in order, with their tags: give its URL or its id.
-- param: article  # the article's URL (as stored) or id
SELECT c.ordinal, c.id AS chunk_id, t.label, round(t.confidence, 3) AS confidence, t.decided_by,
       a.title, left(c.text, 160) AS text
FROM articles a
JOIN chunks c ON c.article_id = a.id
LEFT JOIN tags t ON t.chunk_id = c.id
WHERE a.canonical_url = $article OR a.id = $article
ORDER BY c.ordinal;
