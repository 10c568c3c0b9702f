-- name: upsert_source
INSERT INTO sources (name, language) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET language = excluded.language;

-- name: feed_state
SELECT etag, last_modified FROM feeds WHERE url = ?;

-- name: upsert_feed
INSERT INTO feeds (url, source, etag, last_modified, last_status, entries, last_fetched_at)
VALUES (?, ?, ?, ?, ?, ?, current_timestamp)
ON CONFLICT (url) DO UPDATE SET
    source = excluded.source,
    etag = coalesce(excluded.etag, feeds.etag),
    last_modified = coalesce(excluded.last_modified, feeds.last_modified),
    last_status = excluded.last_status,
    entries = excluded.entries,
    last_fetched_at = excluded.last_fetched_at;

-- name: known_urls
-- Of the given canonical URLs, those already stored as an article or as a duplicate's alias.
SELECT canonical_url FROM articles WHERE canonical_url IN (SELECT unnest(?::VARCHAR[]))
UNION
SELECT url FROM article_aliases WHERE url IN (SELECT unnest(?::VARCHAR[]));

-- name: articles_by_hash
SELECT content_hash, id FROM articles WHERE content_hash IN (SELECT unnest(?::VARCHAR[]));

-- name: insert_staged_articles
INSERT INTO articles (id, canonical_url, fetched_url, source, title, author, site_name,
                      published_date, language, text, content_hash, flow_run_id)
SELECT id, canonical_url, fetched_url, source, title, author, site_name,
       published_date, language, text, content_hash, $run_id
FROM read_json($path, format = 'newline_delimited', columns = {
    'id': 'VARCHAR', 'canonical_url': 'VARCHAR', 'fetched_url': 'VARCHAR', 'source': 'VARCHAR',
    'title': 'VARCHAR', 'author': 'VARCHAR', 'site_name': 'VARCHAR', 'published_date': 'DATE',
    'language': 'VARCHAR', 'text': 'VARCHAR', 'content_hash': 'VARCHAR'})
WHERE id IN (SELECT unnest($ids::VARCHAR[]));

-- name: insert_staged_chunks
INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash)
SELECT article_id || '-' || ordinal, article_id, ordinal, text, char_start, char_end, token_count, text_hash
FROM read_json($path, format = 'newline_delimited', columns = {
    'article_id': 'VARCHAR', 'ordinal': 'INTEGER', 'text': 'VARCHAR', 'char_start': 'INTEGER',
    'char_end': 'INTEGER', 'token_count': 'INTEGER', 'text_hash': 'VARCHAR'})
WHERE article_id IN (SELECT unnest($ids::VARCHAR[]));

-- name: insert_aliases
INSERT INTO article_aliases (url, article_id)
SELECT unnest($urls::VARCHAR[]), unnest($article_ids::VARCHAR[]);

-- name: count_chunks_of
SELECT count(*) FROM chunks WHERE article_id IN (SELECT unnest(?::VARCHAR[]));
