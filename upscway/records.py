"""Records that cross layers: what a stage hands to the store and reads back.

They live at the bottom so that tasks and storage both depend on them, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCTION = "production"  # the registry alias the cascade's student is read from


@dataclass(frozen=True)
class Failure:
    """An item that failed (a feed, a page, a chunk the teacher could not answer) and why;
    `transient` when trying again later may succeed (a 503, a timeout), as opposed to a 404."""

    stage: str
    item: str
    reason: str
    transient: bool = False


@dataclass
class GoldRow:
    """One reviewed row of an import: a label for a stored chunk, or for a new paragraph."""

    line: int
    chunk_id: str
    text: str
    gold_label: str
    annotator: str
    note: str = ""
    source_url: str = ""


@dataclass
class Candidate:
    """A chunk offered for review, with one annotator's answer (the teacher's by default) and
    the article it comes from."""

    chunk_id: str
    text: str
    source_url: str
    teacher_label: str
    probs: list[float]
    confidence: float
    text_hash: str
    annotator: str = ""
    title: str = ""
    date: str = ""
