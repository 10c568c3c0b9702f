"""An article's language is identified from its text; the page's <html lang> only when the text
cannot tell."""

import pytest

from tests.support.languages import ENGLISH_PAGE, HINDI_PAGE
from upscway.tasks.scrape.extract import extract_article
from upscway.tasks.scrape.language import article_language, declared_language


@pytest.mark.parametrize(
    "page, language",
    [(HINDI_PAGE, "hi"), (ENGLISH_PAGE, "en")],
    ids=["hindi-in-english-template", "english-undeclared"],
)
def test_an_articles_language_is_its_texts_whatever_the_page_declares(page, language):
    assert extract_article(page.encode(), "https://x.in/a", "text/html; charset=utf-8").language == language


@pytest.mark.parametrize(
    "text, declared, language",
    [
        ("भारत और फ्रांस ने मंगलवार को रक्षा सहयोग पर समझौता किया।", None, "hi"),
        ("India and France signed a defence cooperation agreement on Tuesday.", "hi", "en"),
        ("Modi said", "hi-IN", "hi"),  # too short to tell: the declaration
        ("Modi said", None, None),  # nor a declaration: unknown
    ],
)
def test_the_text_decides_when_it_can_the_declaration_otherwise(text, declared, language):
    assert article_language(text, declared) == language


@pytest.mark.parametrize(
    "html, declared",
    [
        ('<!doctype html><html lang="hi-IN" dir="ltr"><head>', "hi"),
        ("<html class='x' LANG=EN><body>", "en"),
        ("<html><head><meta lang='fr'>", None),
        ('<html xml:lang="">', None),
    ],
)
def test_the_declared_language_is_the_html_elements_primary_subtag(html, declared):
    assert declared_language(html) == declared
