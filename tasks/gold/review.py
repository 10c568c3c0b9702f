"""The review loop around the gold store: export chunks for people to verify, import what they
decided (validated as a whole, appended so history is kept), and their agreement."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from upscway.errors import InputError
from upscway.storage import gold as gold_rows
from upscway.storage.store import Store
from upscway.tasks.chunk import load_tokenizer
from upscway.tasks.gold import sheets as gold
from upscway.taxonomy import TaskDefinition


class InvalidRows(InputError):
    """Some rows of an import are invalid and nothing was imported; `errors` has (line, reason)."""

    def __init__(self, message: str, errors: list[tuple[int, str]]):
        super().__init__(message)
        self.errors = errors


@dataclass
class Agreement:
    a: str
    b: str
    chunks: int
    kappa: float | None


@dataclass
class ImportReport:
    import_id: str
    added: int
    unchanged: int
    errors: list[tuple[int, str]] = field(default_factory=list)
    blank: int = 0  # rows left without a label: skipped, not errors
    by_label: dict[str, int] = field(default_factory=dict)
    agreement: list[Agreement] = field(default_factory=list)


NO_DRAWS = (
    "no calibration articles yet: run the tag flow (`upscway run tag`), which draws "
    "cascade.calibration_rate of each night's articles"
)


def export_for_review(
    store: Store,
    task_def: TaskDefinition,
    strategy: str,
    n: int,
    out: Path,
    annotator: str,
    seed: int,
    label: str | None = None,
) -> tuple[int, int]:
    """Write `n` chunks chosen by `strategy`, with `annotator`'s answers (only those it gave
    `label`, when set: how to find more gold for a paper that is short of it), to `out` (a
    CSV, or Label Studio tasks for a `.json` path); returns (written, candidates).

    `random` draws uniformly among the chunks of the articles drawn for calibration (one per
    text hash, not yet gold-labelled), `audit` among those of the nights a production student
    was offloading: both are recorded as `random`, with each chunk's chance of being on the
    sheet (its article's chance of being drawn times chosen/pool), so that the accuracy
    certificate can use them once labelled; and both are blind, showing no model's label or
    probabilities."""
    if label is not None and label.upper() not in {name.upper() for name in task_def.names}:
        raise InputError(f"--label {label!r}: expected one of {', '.join(task_def.names)}")
    if strategy in gold.BLIND:
        return _export_calibration(store, task_def, strategy, n, out, seed, label)
    with store.reader() as conn:
        known = gold_rows.annotators(conn, task_def.name)
        if annotator not in known:
            raise InputError(
                f"--annotator {annotator!r} has no answers for {task_def.name}; known: {', '.join(known) or 'none yet (run annotate)'}"
            )
        pool = gold_rows.candidates(conn, task_def.name, annotator)
        candidates = [c for c in pool if label is None or c.teacher_label.upper() == label.upper()]
        disagreeing = gold_rows.disagreeing_hashes(conn, task_def.name) if strategy == "disagreement" else set()
    chosen = gold.select(candidates, strategy, n, disagreeing, seed)
    write = gold.write_label_studio if out.suffix.lower() == ".json" else gold.write_csv
    write(out, chosen, task_def, strategy, gold.sampling_probability(strategy, len(chosen), len(candidates)))
    return len(chosen), len(candidates)


def _export_calibration(
    store: Store, task_def: TaskDefinition, strategy: str, n: int, out: Path, seed: int, label: str | None
) -> tuple[int, int]:
    """A blind `random` or `audit` sheet of calibration chunks, each with its own chance of being on it."""
    if label is not None:
        raise InputError(
            f"--label chooses by a model's answer, so --strategy {strategy} (a blind, uniform draw) cannot take it; "
            "use --strategy uncertainty with --label"
        )
    with_model = strategy == "audit"
    with store.reader() as conn:
        drawn, drawn_with_model = gold_rows.calibration_draws(conn)
        if not drawn:
            raise InputError(NO_DRAWS)
        if with_model and not drawn_with_model:
            raise InputError(
                "no calibration articles from a night a production student was offloading yet: "
                "--strategy audit draws from those (use --strategy random for all calibration articles)"
            )
        pool = gold_rows.calibration_chunks(conn, task_def.name, with_model)
    article_chance = {p.candidate.chunk_id: p.probability for p in pool}
    chosen = gold.select([p.candidate for p in pool], strategy, n, seed=seed)
    chances = [gold.sampling_probability(strategy, len(chosen), len(pool), article_chance[c.chunk_id]) for c in chosen]
    write = gold.write_label_studio if out.suffix.lower() == ".json" else gold.write_csv
    # Recorded as `random` either way: a uniform draw of the news (of the offloading nights' for audit).
    write(out, chosen, task_def, "random", chances, blind=True)
    return len(chosen), len(pool)


def import_reviewed(
    store: Store, task_def: TaskDefinition, file: Path, annotator: str | None, skip_invalid: bool, tokenizer: str
) -> ImportReport:
    """Validate every labelled row of a reviewed CSV or Label Studio JSON export (rows left
    blank are skipped and counted); with any invalid row nothing is imported (InvalidRows)
    unless `skip_invalid`. Rows with text and no chunk id become chunks of their own (source
    `gold`)."""
    read = gold.read_label_studio(file, annotator) if file.suffix.lower() == ".json" else gold.read_csv(file, annotator)
    rows = [r for r in read if r.gold_label]
    if not rows:
        raise InputError(f"{file} has no labelled rows")
    with store.reader() as conn:
        known = gold_rows.stored_texts(conn, [r.chunk_id for r in rows if r.chunk_id])
    valid, errors = gold.validate(rows, task_def, known)
    if errors and not skip_invalid:
        raise InvalidRows(
            f"{len(errors)} of {len(rows)} rows in {file} are invalid; nothing imported (fix them, or pass --skip-invalid)",
            errors,
        )
    count = load_tokenizer(tokenizer)
    with store.transaction() as conn:
        counts = gold_rows.import_rows(
            conn, valid, task_def.name, str(file), lambda t: len(count.encode(t, add_special_tokens=False).ids)
        )
    with store.reader() as conn:
        pairs = gold_rows.agreement_pairs(conn, task_def.name)
        by_label = gold_rows.counts_by_label(conn, task_def.name)
    agreement = [Agreement(p.a, p.b, len(p.labels_a), gold.cohen_kappa(p.labels_a, p.labels_b)) for p in pairs]
    return ImportReport(
        counts.import_id, counts.added, counts.unchanged, errors, len(read) - len(rows), by_label, agreement
    )
