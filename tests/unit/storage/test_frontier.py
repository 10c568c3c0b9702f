"""The frontier's states: discovered URLs stay until stored or failed for good."""

from upscway.records import Failure
from upscway.storage import frontier
from upscway.storage.frontier import Discovered, RetryPolicy


def _state(store, url):
    with store.reader() as conn:
        return conn.execute(
            "SELECT state, attempts, reason, next_attempt_at IS NOT NULL FROM frontier WHERE url = ?", [url]
        ).fetchone()


def test_discovery_keeps_a_known_urls_state_and_due_is_oldest_first(store):
    with store.transaction() as conn:
        frontier.discover(conn, [Discovered("https://a/1", "s"), Discovered("https://a/2", "s")], "feed")
        frontier.fail(conn, [Failure("page", "https://a/1", "HTTP 404")], RetryPolicy(3, 0))
        frontier.discover(conn, [Discovered("https://a/1", "s"), Discovered("https://a/3", "t")], "feed")
        assert [d.url for d in frontier.claim_due(conn, "r", None, None)] == ["https://a/2", "https://a/3"]
        assert [d.url for d in frontier.claim_due(conn, "r", ["t"], None)] == ["https://a/3"]
        assert [d.url for d in frontier.claim_due(conn, "r", None, 1)] == ["https://a/2"]
        assert conn.execute("SELECT state, count(*) FROM frontier GROUP BY ALL ORDER BY ALL").fetchall() == [
            ("failed", 1),
            ("pending", 2),
        ]
    assert _state(store, "https://a/1") == ("failed", 1, "HTTP 404", False)


def test_transient_failures_back_off_then_are_given_up(store):
    url = "https://a/flaky"
    with store.transaction() as conn:
        frontier.discover(conn, [Discovered(url, "s")], "feed")
        frontier.fail(conn, [Failure("page", url, "HTTP 503", transient=True)], RetryPolicy(3, 3600))
        assert frontier.claim_due(conn, "r", None, None) == []  # due again in an hour
    assert _state(store, url) == ("retrying", 1, "HTTP 503", True)
    with store.transaction() as conn:
        frontier.fail(conn, [Failure("page", url, "timed out after 20s", transient=True)], RetryPolicy(3, 0))
        assert [d.url for d in frontier.claim_due(conn, "r", None, None)] == [url]  # no wait: due now
        frontier.fail(conn, [Failure("page", url, "HTTP 503", transient=True)], RetryPolicy(3, 0))
        assert frontier.claim_due(conn, "r", None, None) == []
    assert _state(store, url) == ("given_up", 3, "HTTP 503", False)


def test_settled_urls_say_whether_they_became_an_article_or_an_alias(store):
    with store.transaction() as conn:
        frontier.discover(conn, [Discovered("https://a/x", "s"), Discovered("https://b/x", "s")], "feed")
        conn.execute(
            "INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) VALUES ('1', 'https://a/x', 'https://a/x', 's', 't', 'h')"
        )
        conn.execute("INSERT INTO article_aliases (url, article_id) VALUES ('https://b/x', '1')")
        frontier.settle(conn, ["https://a/x", "https://b/x"])
    assert _state(store, "https://a/x")[0] == "stored" and _state(store, "https://b/x")[0] == "alias"


def test_a_url_claimed_by_a_live_run_is_not_due_for_another_until_that_run_ends(store):
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO flow_runs (id, flow, status) VALUES ('first', 'ingest', 'running'), ('second', 'ingest', 'running')"
        )
        frontier.discover(conn, [Discovered(f"https://a/{i}", "s") for i in range(4)], "feed")
        assert [d.url for d in frontier.claim_due(conn, "first", None, 2)] == ["https://a/0", "https://a/1"]
        assert [d.url for d in frontier.claim_due(conn, "second", None, None)] == ["https://a/2", "https://a/3"]
        assert frontier.claim_due(conn, "third", None, None) == []
        assert frontier.claim_unfinished(conn, "third", ["https://a/0", "https://a/3"]) == set()
        frontier.fail(
            conn, [Failure("page", "https://a/0", "HTTP 503", transient=True)], RetryPolicy(3, 0)
        )  # its claim is cleared
        conn.execute("UPDATE flow_runs SET status = 'crashed' WHERE id = 'second'")  # a dead run's claims lapse
        assert [d.url for d in frontier.claim_due(conn, "third", None, None)] == [
            "https://a/0",
            "https://a/2",
            "https://a/3",
        ]
        assert frontier.claim_unfinished(conn, "fourth", ["https://a/1"]) == set()  # still the live first run's
