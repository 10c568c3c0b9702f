"""An article's language: identified from its text, the page's own declaration as a fallback.

The text decides because the declaration is often missing or wrong: trafilatura reports none
unless asked to filter by language, and news sites serve Hindi editions from English templates.
py3langid (langid.py's maintained fork, the identifier trafilatura uses for its own filter) is
offline, numpy-only and ships its model. Its probability is normalised so that a text too short
or too mixed to tell (below MIN_CONFIDENCE) falls back to `<html lang>`, and to unknown (None)
without one: unknown articles are served as before by the students.
"""

from __future__ import annotations

import re
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

MIN_CONFIDENCE = 0.5  # below this the identifier is guessing (a headline, a name, a few words)
SAMPLE_CHARS = 10_000  # enough text to be sure; bounds the cost on a very long page
_HTML_LANG = re.compile(r"""<html\b[^>]*?\blang\s*=\s*["']?\s*([A-Za-z]{2,3})(?![A-Za-z])""", re.I)


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """Loaded once per process (about a second)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def primary(code: str | None) -> str | None:
    """The primary subtag, lower-cased ('en-IN' and 'EN_in' are 'en'); None for nothing."""
    head = re.split(r"[-_]", (code or "").strip().lower(), maxsplit=1)[0]
    return head or None


def declared_language(html: str) -> str | None:
    """The language the page declares on its <html> element, if any."""
    match = _HTML_LANG.search(html[:4096])
    return primary(match.group(1)) if match else None


def identify(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) the identifier gives the text."""
    return _identifier().classify(text[:SAMPLE_CHARS])


def article_language(text: str, declared: str | None = None) -> str | None:
    """The text's language when the identifier is sure of it, else the declared one (None: unknown)."""
    language, confidence = identify(text)
    return language if confidence >= MIN_CONFIDENCE else primary(declared)
