"""The project's identities, computed in one place: an article by its canonical URL, its text
by content (whitespace-insensitive, for deduplication), a chunk by its exact text (the key
annotations and tags are stored under, so equal texts share one teacher answer)."""

from __future__ import annotations

import hashlib


def article_id(canonical_url: str) -> str:
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:16]


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
