"""Articles in a language the students do not serve: a Hindi page is stored as Hindi by the real
ingest (an English one as English), and the tag stage never lets the English student decide its
chunks: the teacher does (`cascade.other_languages = "teacher"`, the default) or they are left
untagged ("skip"), counted either way."""

from pathlib import Path

from tests.integration.conftest import rows
from tests.support import languages
from upscway.flows.ingest import ingest
from upscway.storage.store import Store


def _ingest_both(news_site, live_env: Path) -> None:
    feeds = live_env / "languages.yaml"
    feeds.write_text(languages.serve(news_site.server))
    ingest(feeds=str(feeds), return_state=True).result()


def _language_of(store: Store, path: str) -> list[tuple]:
    return rows(store, f"SELECT language FROM articles WHERE canonical_url LIKE '%{path}'")


def test_a_hindi_page_is_stored_as_hindi_and_an_english_one_as_english(news_site, live_env):
    _ingest_both(news_site, live_env)

    store = Store(live_env / "data" / "upscway.duckdb")
    assert _language_of(store, "/desh/isro-upgrah.html") == [("hi",)]  # though its template says lang="en"
    assert _language_of(store, "/national/river-linking.html") == [("en",)]  # though it declares nothing


def test_a_promoted_english_student_never_decides_a_hindi_chunk(trained_store, news_site, live_env, monkeypatch):
    from upscway.flows.promote import promote
    from upscway.flows.tag import tag

    annotated_store, model = trained_store
    tag(return_state=True).result()  # the demo news, tagged by the teacher: tonight only the new pages are untagged
    promote(model=model, force=True, reason="test languages", return_state=True).result()
    monkeypatch.setenv("UPSCWAY_CASCADE__CONFIDENCE_THRESHOLD", "0")  # the student is sure of every chunk it may decide
    monkeypatch.setenv("UPSCWAY_CASCADE__RELEVANCE_BAND", "[2, 3]")
    monkeypatch.setenv("UPSCWAY_CASCADE__AUDIT_RATE", "0")
    monkeypatch.setenv("UPSCWAY_CASCADE__CALIBRATION_RATE", "0")  # no article drawn for the teacher tonight
    monkeypatch.setenv(
        "UPSCWAY_CASCADE__WITHHOLD_UNPROVEN", "false"
    )  # routing is the matter, not a night this small proving its loss
    monkeypatch.setenv(
        "UPSCWAY_CASCADE__DRIFT_LIMIT", "2"
    )  # a one-epoch student's scores on two new pages may move: not this test's matter
    _ingest_both(news_site, live_env)
    hindi = rows(
        annotated_store, "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.language = 'hi'"
    )[0][0]
    english = rows(
        annotated_store,
        "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id "
        "WHERE a.canonical_url LIKE '%/national/river-linking.html'",
    )[0][0]
    assert hindi >= 1 and english >= 1

    monkeypatch.setenv("UPSCWAY_CASCADE__OTHER_LANGUAGES", "skip")
    skipped = tag(return_state=True).result()
    assert skipped.chunks == skipped.by_student == english  # the Hindi chunks were not even selected
    assert skipped.other_languages.model_dump() == {"route": "skip", "chunks": hindi, "languages": {"hi": hindi}}
    assert rows(
        annotated_store,
        "SELECT count(*) FROM tags t JOIN chunks c ON c.id = t.chunk_id JOIN articles a ON a.id = c.article_id "
        "WHERE a.language = 'hi'",
    ) == [(0,)]

    monkeypatch.setenv("UPSCWAY_CASCADE__OTHER_LANGUAGES", "teacher")
    routed = tag(return_state=True).result()
    assert routed.chunks == routed.by_teacher == hindi and routed.by_student == 0
    assert routed.other_languages.model_dump() == {"route": "teacher", "chunks": hindi, "languages": {"hi": hindi}}
    decided = rows(
        annotated_store,
        "SELECT a.language, t.decided_by, count(*) FROM tags t JOIN chunks c ON c.id = t.chunk_id "
        "JOIN articles a ON a.id = c.article_id WHERE a.language = 'hi' GROUP BY ALL",
    )
    assert decided == [("hi", "teacher", hindi)]
