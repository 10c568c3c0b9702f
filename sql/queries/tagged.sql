-- Tagged chunks, newest articles first: the label, who decided it, and the article's title, URL, date and source.
-- param: since =  # only articles published (or stored) on or after this date, YYYY-MM-DD (empty: all)
-- param: source =  # only this source (empty: all news sources; `gold` shows the reviewed paragraphs imported on their own)
-- param: label =  # only this label, e.g. GS2 (empty: all)
-- param: limit = 100  # at most this many rows
SELECT t.chunk_id, t.label, round(t.confidence, 3) AS confidence, t.decided_by,
       a.title, a.canonical_url AS url, coalesce(a.published_date, CAST(a.created_at AS DATE)) AS date, a.source
FROM tags t
JOIN chunks c ON c.id = t.chunk_id
JOIN articles a ON a.id = c.article_id
WHERE ($since = '' OR coalesce(a.published_date, CAST(a.created_at AS DATE)) >= CAST(nullif($since, '') AS DATE))
  AND (a.source = $source OR ($source = '' AND a.source <> 'gold'))
  AND ($label = '' OR upper(t.label) = upper($label))
ORDER BY date DESC, a.canonical_url, c.ordinal
LIMIT CAST($limit AS INTEGER);
