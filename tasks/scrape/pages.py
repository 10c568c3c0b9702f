"""A batch of pages: fetch, extract, chunk, and stage for the loader (no database here)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upscway.settings import IngestSettings
from upscway.storage.articles import article_id, content_hash
from upscway.storage.runs import Failure
from upscway.storage.staging import StagedBatch
from upscway.tasks.chunk import Chunker
from upscway.tasks.scrape.extract import ExtractionError, extract_article
from upscway.tasks.scrape.fetch import Fetcher, FetchError

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageRequest:
    """One page to ingest: a canonical URL, and for saved pages the file that holds it."""

    url: str
    source: str
    rate_limit_per_s: float | None = None
    local_path: str | None = None


@dataclass
class BatchOutcome:
    pages: int
    articles: int
    chunks: int
    failures: int


def _process(request: PageRequest, fetcher: Fetcher, chunker: Chunker, settings: IngestSettings):
    try:
        if request.local_path:
            content, final_url, content_type = Path(request.local_path).read_bytes(), request.url, "text/html"
        else:
            response = fetcher.fetch(request.url, rate_limit_per_s=request.rate_limit_per_s)
            content, final_url, content_type = response.content, response.final_url, response.content_type
        article = extract_article(content, request.url, content_type, min_chars=settings.min_text_chars)
    except FetchError as exc:
        return Failure("page", request.url, str(exc))
    except ExtractionError as exc:
        return Failure("extract", request.url, str(exc))
    except OSError as exc:
        return Failure("page", request.local_path or request.url, f"cannot read: {exc}")
    except Exception as exc:  # a parser bug on one page must not cost the batch
        LOGGER.exception("unexpected error extracting %s", request.url)
        return Failure("extract", request.url, f"unexpected {type(exc).__name__}: {exc}")
    ident = article_id(request.url)
    record = {
        "id": ident,
        "canonical_url": request.url,
        "fetched_url": final_url,
        "source": request.source,
        "title": article.title,
        "author": article.author,
        "site_name": article.site_name,
        "published_date": article.published_date,
        "language": article.language,
        "text": article.text,
        "content_hash": content_hash(article.text),
    }
    chunks = [
        {
            "article_id": ident,
            "ordinal": c.ordinal,
            "text": c.text,
            "char_start": c.char_start,
            "char_end": c.char_end,
            "token_count": c.token_count,
            "text_hash": c.text_hash,
        }
        for c in chunker.split(article.text)
    ]
    return record, chunks


def scrape_batch(
    requests: list[PageRequest],
    fetcher: Fetcher,
    chunker: Chunker,
    settings: IngestSettings,
    staged: StagedBatch,
) -> BatchOutcome:
    """Process pages concurrently (bounded by `fetch_concurrency`) and stage the results.

    Results are staged in request order, so the loader's choice between two copies of the
    same text does not depend on which fetch finished first.
    """
    articles: list[dict[str, Any]] = []
    chunks: list[dict[str, Any]] = []
    failures: list[Failure] = []
    with ThreadPoolExecutor(max_workers=settings.fetch_concurrency) as pool:
        for result in pool.map(lambda r: _process(r, fetcher, chunker, settings), requests):
            if isinstance(result, Failure):
                failures.append(result)
            else:
                articles.append(result[0])
                chunks.extend(result[1])
    staged.write(articles, chunks, failures)
    return BatchOutcome(len(requests), len(articles), len(chunks), len(failures))
