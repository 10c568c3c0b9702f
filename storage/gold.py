"""Gold labels: review candidates, imports (appending, so history is kept), agreement pairs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from upscway.hashing import article_id, content_hash, text_hash
from upscway.records import Candidate, GoldRow
from upscway.storage.articles import upsert_sources
from upscway.storage.statements import sql

GOLD_SOURCE = "gold"


def candidates(conn: duckdb.DuckDBPyConnection, task: str, annotator: str) -> list[Candidate]:
    """Chunks not gold-labelled yet, with `annotator`'s latest answer and their article."""
    rows = conn.execute(sql("gold", "candidates"), {"task": task, "annotator": annotator}).fetchall()
    return [Candidate(*row) for row in rows]


@dataclass(frozen=True)
class CalibrationChunk:
    """A chunk of an article drawn for calibration, without any model's answer (it is reviewed
    blind), and `probability`, the chance its article was drawn."""

    candidate: Candidate
    probability: float


def calibration_chunks(conn: duckdb.DuckDBPyConnection, task: str, with_model: bool) -> list[CalibrationChunk]:
    """The chunks of the articles drawn for calibration (`with_model`: on nights a production
    student was offloading), not yet gold-labelled for `task`, one per text hash."""
    rows = conn.execute(sql("gold", "calibration_chunks"), {"task": task, "with_model": with_model}).fetchall()
    return [
        CalibrationChunk(Candidate(chunk_id, text, url, "", [], 0.0, digest, title=title, date=date), probability)
        for chunk_id, text, url, digest, title, date, probability in rows
    ]


def calibration_draws(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(articles drawn for calibration, of them on nights with a production student)."""
    drawn, with_model = conn.execute(sql("gold", "calibration_draws")).fetchone()
    return drawn, with_model


def annotators(conn: duckdb.DuckDBPyConnection, task: str) -> list[str]:
    return [a for (a,) in conn.execute(sql("gold", "annotators"), [task]).fetchall()]


def disagreeing_hashes(conn: duckdb.DuckDBPyConnection, task: str) -> set[str]:
    return {row[0] for row in conn.execute(sql("gold", "disagreements"), {"task": task}).fetchall()}


def stored_texts(conn: duckdb.DuckDBPyConnection, chunk_ids: list[str]) -> dict[str, str]:
    return {cid: text for cid, _, text in conn.execute(sql("gold", "chunks_by_id"), [chunk_ids]).fetchall()}


def _standalone_chunk(conn: duckdb.DuckDBPyConnection, row: GoldRow, count_tokens) -> tuple[str, str]:
    """The chunk holding exactly `row.text`: an existing one, else a one-chunk article under
    source `gold` (how a labelled paragraph from outside the feeds enters the store)."""
    text = row.text.strip()
    digest = text_hash(text)
    found = conn.execute(sql("gold", "chunks_by_hash"), [[digest]]).fetchall()
    if found:
        return found[0][1], digest
    url = row.source_url.strip() or f"urn:upscway:gold:{digest[:16]}"
    ident = article_id(url)
    upsert_sources(conn, {GOLD_SOURCE: "en"})
    conn.execute(sql("gold", "insert_article"), [ident, url, url, GOLD_SOURCE, None, text, content_hash(text), url])
    chunk = f"{ident}-0"
    conn.execute(sql("gold", "insert_chunk"), [chunk, ident, text, len(text), count_tokens(text), digest, chunk])
    return chunk, digest


@dataclass(frozen=True)
class ImportCounts:
    import_id: str
    added: int
    unchanged: int


@dataclass(frozen=True)
class LabelPair:
    """Two annotators' current labels on the chunks both labelled, in the same order."""

    a: str
    b: str
    labels_a: list[str]
    labels_b: list[str]


def import_rows(
    conn: duckdb.DuckDBPyConnection, rows: Sequence[GoldRow], task: str, source_file: str, count_tokens
) -> ImportCounts:
    """Append each row as a gold label under one import id, unless it repeats the annotator's
    current label and note for that chunk."""
    import_id = uuid.uuid4().hex[:12]
    hashes = {
        cid: h
        for cid, h, _ in conn.execute(
            sql("gold", "chunks_by_id"), [[r.chunk_id for r in rows if r.chunk_id]]
        ).fetchall()
    }
    added = unchanged = 0
    for row in rows:
        chunk_id, digest = (
            (row.chunk_id, hashes[row.chunk_id]) if row.chunk_id else _standalone_chunk(conn, row, count_tokens)
        )
        current = conn.execute(sql("gold", "current_label"), [chunk_id, task, row.annotator]).fetchone()
        if current == (row.gold_label, row.note or ""):
            unchanged += 1
            continue
        conn.execute(
            sql("gold", "insert_label"),
            [
                chunk_id,
                digest,
                task,
                row.gold_label,
                row.annotator,
                row.note or None,
                import_id,
                source_file,
                row.sampling or None,
                row.sampling_probability,
            ],
        )
        added += 1
    return ImportCounts(import_id, added, unchanged)


def agreement_pairs(conn: duckdb.DuckDBPyConnection, task: str) -> list[LabelPair]:
    pairs: dict[tuple[str, str], LabelPair] = {}
    for a, b, la, lb in conn.execute(sql("gold", "current_pairs"), [task]).fetchall():
        pair = pairs.setdefault((a, b), LabelPair(a, b, [], []))
        pair.labels_a.append(la)
        pair.labels_b.append(lb)
    return [pairs[key] for key in sorted(pairs)]


def counts_by_label(conn: duckdb.DuckDBPyConnection, task: str) -> dict[str, int]:
    return dict(conn.execute(sql("gold", "counts_by_label"), [task]).fetchall())
