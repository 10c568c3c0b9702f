-- The durable frontier: every URL discovered (feed, sitemap, URL list, saved page) and where
-- it stands, so nothing discovered is lost to a crash, a transient error or a `--limit`.
-- Runs record their process, so a later run can tell a crashed run from a live one.

CREATE TABLE frontier (
    url              VARCHAR PRIMARY KEY,      -- canonical URL
    source           VARCHAR NOT NULL,
    local_path       VARCHAR,                  -- a saved copy to read instead of fetching (backfills)
    discovered_by    VARCHAR,                  -- the feed, sitemap or file that listed it
    state            VARCHAR NOT NULL,         -- pending | stored | alias | retrying | failed | given_up
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ,              -- when a retrying URL is due again
    reason           VARCHAR,                  -- why it failed, last time
    discovered_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

INSERT INTO frontier (url, source, state, attempts, discovered_at, updated_at)
SELECT canonical_url, source, 'stored', 1, created_at, created_at FROM articles
ON CONFLICT DO NOTHING;

INSERT INTO frontier (url, source, state, attempts, discovered_at, updated_at)
SELECT l.url, a.source, 'alias', 1, l.created_at, l.created_at
FROM article_aliases l JOIN articles a ON a.id = l.article_id
ON CONFLICT DO NOTHING;

ALTER TABLE flow_runs ADD COLUMN host VARCHAR;
ALTER TABLE flow_runs ADD COLUMN pid INTEGER;
ALTER TABLE flow_runs ADD COLUMN process_started_at DOUBLE;   -- the process's start time (epoch s): a reused pid is not the run
