"""Chunks in languages the students do not serve (`cascade.student_languages`).

The students are English encoders: on a Hindi chunk their scores mean nothing, however sure
they look, so such a chunk is never decided by a student. `cascade.other_languages` says what
happens instead: 'teacher' (the multilingual teacher decides it, like any chunk the student is
unsure of) or 'skip' (left untagged; the tag query leaves it out, so a `limit` is never spent on
it). Either way the tag run counts them by language. A chunk of unknown language (an article
stored before languages were identified) is served, as it was then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from upscway.records import ChunkRef
from upscway.settings import CascadeSettings
from upscway.storage import tags as tag_rows
from upscway.storage.store import Store


def is_served(language: str | None, served: Sequence[str]) -> bool:
    return not language or language in served


def skip_filter(cascade: CascadeSettings) -> tuple[str, ...] | None:
    """The languages the tag query keeps (None: all) under `cascade.other_languages`."""
    return cascade.student_languages if cascade.other_languages == "skip" else None


def student_hashes(chunks: Sequence[ChunkRef], served: Sequence[str]) -> list[str]:
    """The texts the student may decide: those of no chunk in a language it does not serve."""
    others = {c.text_hash for c in chunks if not is_served(c.language, served)}
    return sorted({c.text_hash for c in chunks} - others)


def other_languages(
    store: Store, task: str, chunks: Sequence[ChunkRef], since: str | None, cascade: CascadeSettings
) -> dict | None:
    """What the run did with chunks in other languages: {route, chunks, languages: {code: n}},
    None when there were none. Skipped ones are every untagged chunk in those languages
    (they wait for a setting that serves them); routed ones are tonight's."""
    served = cascade.student_languages
    if cascade.other_languages == "skip":
        with store.reader() as conn:
            counts = tag_rows.untagged_elsewhere(conn, task, served, since)
    else:
        counts = Counter(c.language for c in chunks if not is_served(c.language, served))
    if not counts:
        return None
    return {"route": cascade.other_languages, "chunks": sum(counts.values()), "languages": dict(sorted(counts.items()))}
