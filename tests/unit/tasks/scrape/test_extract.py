import pytest

from tests.support.site import CP1252_PAGE, demo_pages
from upscway.tasks.scrape.extract import ExtractionError, decode_html, extract_article


def test_demo_page_extracts_article_text_and_metadata_without_chrome():
    page = demo_pages()[0]
    article = extract_article(page.read_bytes(), "https://indianexpress.com/x", "text/html; charset=utf-8")
    assert article.title and article.published_date and article.site_name
    assert len(article.text.split("\n")) >= 4  # paragraphs kept apart
    for chrome in ("Advertisement", "Related stories", "reader_2041", "Sign in", "Privacy policy"):
        assert chrome not in article.text


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/html; charset=windows-1252", CP1252_PAGE.encode("cp1252")),
        ("text/html", CP1252_PAGE.replace("<head>", '<head><meta charset="windows-1252">').encode("cp1252")),
        ("text/html", CP1252_PAGE.encode("cp1252")),  # no declaration at all: detected
        ("text/html; charset=utf-8", CP1252_PAGE.encode("utf-8")),
    ],
)
def test_decoding_follows_header_then_meta_then_detection(content_type, body):
    text = decode_html(body, content_type)
    assert "Côte d’Ivoire" in text and "€40 million" in text


def test_non_html_is_refused():
    with pytest.raises(ExtractionError, match="not an HTML page.*application/pdf"):
        extract_article(b"%PDF-1.4", "https://x.in/a.pdf", "application/pdf")


def test_page_without_article_text_is_refused():
    with pytest.raises(ExtractionError, match="no extractable article text"):
        extract_article(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "https://x.in/", "text/html")
