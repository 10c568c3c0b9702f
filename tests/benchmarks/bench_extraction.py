"""Extraction quality and speed on real pages: the project's extraction against the alternatives.

    python tests/benchmarks/bench_extraction.py [--bench DIR ...] [--out result.json]

The pages are the public article-extraction benchmark (scrapinghub/article-extraction-benchmark,
181 real article pages with human-checked bodies, MIT), kept outside the repository in
`../shared/benchmarks/article-extraction` (`--bench` to point elsewhere). Scored with the
benchmark's own metric (`shingle_scores`): word 4-gram shingles with counts, per-page TP/FP/FN
normalised by their sum, precision and recall averaged over pages, F1 of the two means. Run on
the benchmark's published output for trafilatura 2.0.0 this scorer gives its published
0.958 / 0.938 / 0.978.

`project` is exactly what ingest runs (`upscway.tasks.scrape.extract.extract_article`: the
page's bytes decoded, metadata included, the minimum length applied). Beside it, in the same
run: `trafilatura.extract` with default settings, trafilatura's own switches one at a time,
and whichever other extractors are installed (resiliparse, readability-lxml, boilerpy3, goose3,
rs-trafilatura): each behind the same interface, bytes and URL in, text out. Pages/s is per
core (one thread, one process). Each set (`--bench`, repeatable: a folder laid out like the
shared one, `ground-truth.json` and `html/<id>.html.gz`) reports the project against
trafilatura's defaults: the goal is recall no more than 0.005 below theirs and precision no
lower, on every set. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from common import ROOT, emit  # first: offline env, the project on sys.path

Extractor = Callable[[bytes, str], str]
DEFAULT_BENCH = ROOT.parent / "shared" / "benchmarks" / "article-extraction"


def shingles(text: str) -> Counter:
    tokens = re.findall(r"\w+", text or "")
    if len(tokens) < 4:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def shingle_scores(truths: dict[str, str], predictions: dict[str, str]) -> dict:
    """The benchmark's metric over the pages of `truths` (a missing prediction is empty)."""
    precisions, recalls = [], []
    for page, truth in truths.items():
        t, p = shingles(truth), shingles(predictions.get(page, ""))
        tp, fp, fn = sum((t & p).values()), sum((p - t).values()), sum((t - p).values())
        total = tp + fp + fn
        if total == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        tp, fp, fn = tp / total, fp / total, fn / total
        if p:
            precisions.append(tp / (tp + fp) if tp + fp else 0.0)
        if t:
            recalls.append(tp / (tp + fn) if tp + fn else 0.0)
    precision, recall = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4)}


def project_extractor() -> Extractor:
    from upscway.tasks.scrape.extract import ExtractionError, extract_article

    def extract(content: bytes, url: str) -> str:
        try:
            return extract_article(content, url, "text/html; charset=utf-8").text
        except ExtractionError:
            return ""

    return extract


def trafilatura_extractor(**switches) -> Extractor:
    import trafilatura

    return lambda content, url: trafilatura.extract(content.decode("utf-8"), url=url, **switches) or ""


TRAFILATURA_SWITCHES = {
    "trafilatura defaults": {},
    "trafilatura fast": {"fast": True},
    "trafilatura favor_precision": {"favor_precision": True},
    "trafilatura favor_recall": {"favor_recall": True},
    "trafilatura no comments": {"include_comments": False},
    "trafilatura no tables": {"include_tables": False},
    "trafilatura fast, no comments": {"fast": True, "include_comments": False},
    "trafilatura before issue 15 (fast, favor_precision, no tables, no comments)": {
        "fast": True,
        "favor_precision": True,
        "include_tables": False,
        "include_comments": False,
    },
}


def other_extractors() -> dict[str, Extractor | str]:
    """Each installed alternative as an Extractor; a missing one as the reason it is missing."""
    found: dict[str, Extractor | str] = {}
    try:
        import rs_trafilatura

        found["rs-trafilatura"] = lambda content, url: (
            rs_trafilatura.extract(content.decode("utf-8"), url=url).main_content or ""
        )
    except ImportError:
        found["rs-trafilatura"] = (
            "not installed (PyPI has a wheel for CPython 3.12 only; the sdist builds with cargo from crates.io)"
        )
    try:
        from resiliparse.extract.html2text import extract_plain_text

        found["resiliparse"] = lambda content, url: extract_plain_text(content.decode("utf-8"), main_content=True)
    except ImportError:
        found["resiliparse"] = "not installed (pip install resiliparse)"
    try:
        import lxml.html
        from readability import Document

        found["readability-lxml"] = lambda content, url: lxml.html.fromstring(
            Document(content.decode("utf-8")).summary()
        ).text_content()
    except ImportError:
        found["readability-lxml"] = "not installed (pip install readability-lxml)"
    try:
        from boilerpy3 import extractors

        article = extractors.ArticleExtractor(raise_on_failure=False)
        found["boilerpy3"] = lambda content, url: article.get_content(content.decode("utf-8"))
    except ImportError:
        found["boilerpy3"] = "not installed (pip install boilerpy3)"
    try:
        from goose3 import Goose

        goose = Goose({"enable_image_fetching": False})
        found["goose3"] = lambda content, url: goose.extract(raw_html=content.decode("utf-8")).cleaned_text
    except ImportError:
        found["goose3"] = "not installed (pip install goose3)"
    return found


def load_pages(bench: Path) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(page bytes, true bodies, URLs) by page id."""
    if not (bench / "ground-truth.json").is_file():
        raise SystemExit(f"no benchmark at {bench} (expected ground-truth.json and html/): pass --bench")
    truth = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {p.name.split(".")[0]: gzip.decompress(p.read_bytes()) for p in sorted((bench / "html").glob("*.html.gz"))}
    missing = set(truth) - set(pages)
    if missing:
        raise SystemExit(f"{len(missing)} pages of ground-truth.json have no html/<id>.html.gz in {bench}")
    return pages, {k: v["articleBody"] for k, v in truth.items()}, {k: v["url"] for k, v in truth.items()}


def measure(extractor: Extractor, pages: dict[str, bytes], urls: dict[str, str], truths: dict[str, str]) -> dict:
    predictions, errors = {}, 0
    started = time.perf_counter()
    for page, content in pages.items():
        try:
            predictions[page] = extractor(content, urls[page])
        except Exception:  # an alternative that fails on a page scores it as empty
            predictions[page], errors = "", errors + 1
    seconds = time.perf_counter() - started
    return {
        **shingle_scores(truths, predictions),
        "pages_per_s_per_core": round(len(pages) / seconds, 1),
        "empty": sum(not p.strip() for p in predictions.values()),
        "errors": errors,
    }


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def measure_set(bench: Path) -> dict:
    """Every extractor on one set of pages, and the project against trafilatura's defaults."""
    pages, truths, urls = load_pages(bench)
    extractors: dict[str, Extractor | str] = {"project": project_extractor()}
    extractors |= {name: trafilatura_extractor(**switches) for name, switches in TRAFILATURA_SWITCHES.items()}
    extractors |= other_extractors()
    for extractor in extractors.values():  # warm-up: imports and lazy initialisation off the clock
        if callable(extractor):
            extractor(next(iter(pages.values())), next(iter(urls.values())))
    results = {
        name: measure(e, pages, urls, truths) if callable(e) else {"skipped": e} for name, e in extractors.items()
    }
    project, defaults = results["project"], results["trafilatura defaults"]
    kept = {
        "recall_minus_defaults": round(project["recall"] - defaults["recall"], 4),
        "precision_minus_defaults": round(project["precision"] - defaults["precision"], 4),
    }
    return {
        "benchmark": str(bench),
        "pages": len(pages),
        "project_vs_defaults": kept,
        "goal_met": kept["recall_minus_defaults"] >= -0.005 and kept["precision_minus_defaults"] >= 0,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bench", type=Path, action="append", help="a set of pages (repeatable; default: the shared benchmark)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sets = [measure_set(bench) for bench in args.bench or [DEFAULT_BENCH]]
    emit(
        {
            "versions": {
                p: version(p)
                for p in (
                    "trafilatura",
                    "lxml",
                    "resiliparse",
                    "readability-lxml",
                    "boilerpy3",
                    "goose3",
                    "rs-trafilatura",
                )
            },
            "goal": "on every set: project recall >= trafilatura defaults' - 0.005, and project precision >= defaults'",
            "goal_met": all(s["goal_met"] for s in sets),
            "sets": sets,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
