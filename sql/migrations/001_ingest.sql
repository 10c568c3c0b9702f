-- Sources, feeds, articles and their chunks; flow runs and what failed in them.

CREATE TABLE sources (
    name        VARCHAR PRIMARY KEY,
    language    VARCHAR NOT NULL DEFAULT 'en',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- Conditional-GET state, one row per feed URL.
CREATE TABLE feeds (
    url             VARCHAR PRIMARY KEY,
    source          VARCHAR NOT NULL,
    etag            VARCHAR,
    last_modified   VARCHAR,
    last_status     INTEGER,
    entries         INTEGER,
    last_fetched_at TIMESTAMPTZ
);

CREATE TABLE articles (
    id              VARCHAR NOT NULL,         -- first 16 hex digits of sha256(canonical_url)
    canonical_url   VARCHAR NOT NULL,
    fetched_url     VARCHAR NOT NULL,         -- where the page was actually read (after redirects)
    source          VARCHAR NOT NULL,
    title           VARCHAR,
    author          VARCHAR,
    site_name       VARCHAR,
    published_date  DATE,
    language        VARCHAR,
    text            VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,         -- sha256 of the whitespace-normalised text
    flow_run_id     VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- URLs whose content duplicated an article stored under another URL (syndicated copies):
-- kept so they are skipped next time without a fetch.
CREATE TABLE article_aliases (
    url         VARCHAR NOT NULL,
    article_id  VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE chunks (
    id           VARCHAR NOT NULL,            -- '<article id>-<ordinal>'
    article_id   VARCHAR NOT NULL,
    ordinal      INTEGER NOT NULL,
    text         VARCHAR NOT NULL,
    char_start   INTEGER NOT NULL,            -- text = articles.text[char_start:char_end] (0-based, end exclusive)
    char_end     INTEGER NOT NULL,
    token_count  INTEGER NOT NULL,
    text_hash    VARCHAR NOT NULL,            -- sha256 of text: the annotation cache key
    created_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE flow_runs (
    id                   VARCHAR PRIMARY KEY,
    flow                 VARCHAR NOT NULL,
    parameters           JSON,
    status               VARCHAR NOT NULL,    -- running | completed | completed_with_failures | failed
    summary              JSON,
    started_at           TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at          TIMESTAMPTZ
);

CREATE SEQUENCE failures_id_seq;
CREATE TABLE failures (
    id           BIGINT PRIMARY KEY DEFAULT nextval('failures_id_seq'),
    flow_run_id  VARCHAR NOT NULL,
    stage        VARCHAR NOT NULL,            -- feed | page | extract | sitemap | ...
    item         VARCHAR NOT NULL,            -- the URL, feed or file that failed
    reason       VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
