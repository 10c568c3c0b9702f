"""Teacher answers computed elsewhere (a batch GPU box), one JSON object a line, read and
checked here and nowhere else: `upscway annotate import` stores them (imports.py), and the
`recorded` teacher answers from them.

A line names its chunk by exactly one of `text_hash` (sha256 hex of the exact chunk text, as
`upscway.hashing.text_hash` computes it) or `chunk_id` (a stored chunk's id), and gives exactly
one of `label` (a label name of the task) or `probs` (label → probability, labels left out being
0, or a list in the task's label order; finite, at least 0, summing to 1 within 1e-3, then
renormalised). `model` says what answered, `prompt_version` for which prompt: it must be the
task's version, since answers to another prompt would never be used. Optional: `rationale`,
`tokens_in`, `tokens_out`, `cost`, `latency_ms`; `null` is the same as leaving a key out. Any
other key is an error (a typo is caught, not ignored).

Every line is read before any is used. A problem is (line, reason), the line numbered as an
editor shows it (blank lines are skipped, not errors); the same chunk twice is kept once when
both lines give the same answer, and is an error on the later line when they differ.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from upscway.errors import InputError
from upscway.hashing import text_hash
from upscway.inputs import read_text
from upscway.tasks.annotate.teacher import Answer, OnAnswer, TeacherFailure
from upscway.taxonomy import SoftLabel, TaskDefinition

LOGGER = logging.getLogger(__name__)

CHUNK_KEYS = ("text_hash", "chunk_id")
ANSWER_KEYS = ("label", "probs")
KEYS = (
    *CHUNK_KEYS,
    *ANSWER_KEYS,
    "model",
    "prompt_version",
    "rationale",
    "tokens_in",
    "tokens_out",
    "cost",
    "latency_ms",
)
SUM_TOLERANCE = 1e-3
MAX_TOKENS = 2**31 - 1  # what `annotations` stores a count in
ERRORS_SHOWN = 5  # in an error's message; `InvalidAnswers.errors` has them all
NO_ANSWER = "no recorded answer for this text"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class InvalidAnswers(InputError):
    """Lines of an answers file are invalid, so none of it is used; `errors` has (line, reason)
    for every one of them, the message the first few as `FILE:LINE: reason`."""

    def __init__(self, path: Path, errors: Sequence[tuple[int, str]], lines: int, consequence: str):
        self.errors = sorted(errors)
        shown = "".join(f"\n{path}:{line}: {reason}" for line, reason in self.errors[:ERRORS_SHOWN])
        more = len(self.errors) - ERRORS_SHOWN
        rest = f"\n{path}: … and {more} more invalid line{'s' if more > 1 else ''}" if more > 0 else ""
        super().__init__(
            f"{len(self.errors)} of {lines} lines of the answers file {path} are invalid; {consequence}:{shown}{rest}"
        )


@dataclass(frozen=True)
class RecordedAnswer:
    """One line's answer: its chunk (`text_hash` or `chunk_id`; an import fills in the text hash
    of a chunk id), the label probabilities in the task's order (summing to 1), what answered,
    and what answering cost."""

    line: int
    text_hash: str | None
    chunk_id: str | None
    probs: tuple[float, ...]
    model: str
    rationale: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0

    @property
    def chunk(self) -> str:
        """How the line named its chunk, for messages."""
        return f"chunk_id {self.chunk_id!r}" if self.chunk_id is not None else f"text_hash {self.text_hash}"

    @property
    def answer(self) -> tuple:
        """Everything the line says about the chunk: two lines with equal answers are one."""
        return (self.probs, self.model, self.rationale, self.tokens_in, self.tokens_out, self.cost, self.latency_ms)

    def with_hash(self, digest: str) -> RecordedAnswer:
        return replace(self, text_hash=digest)

    def soft_label(self) -> SoftLabel:
        """The answer as a teacher gives one; a recorded distribution is over the task's labels
        only, so no mass is off them."""
        return SoftLabel(
            probs=list(self.probs),
            rationale=self.rationale,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost=self.cost,
            latency_s=self.latency_ms / 1000,
            extra={"model": self.model},
        )


@dataclass(frozen=True)
class AnswerFile:
    """An answers file read through: the valid answers (one per chunk, in file order), the
    problems of the other lines, and how many lines it has (blank ones not counted)."""

    path: Path
    lines: int
    answers: tuple[RecordedAnswer, ...]
    errors: tuple[tuple[int, str], ...]


def read_answer_file(path: Path, task: TaskDefinition) -> AnswerFile:
    """Every line of the file at `path` checked against `task`. A file that cannot be read is an
    InputError naming it; invalid lines are returned, not raised, so that a caller can add its
    own checks before refusing the file whole (`InvalidAnswers`)."""
    text = read_text(path, "answers file", encoding="utf-8-sig")
    lines, answers, errors = parse_lines(text, task)
    return AnswerFile(Path(path), lines, tuple(answers), tuple(errors))


def parse_lines(text: str, task: TaskDefinition) -> tuple[int, list[RecordedAnswer], list[tuple[int, str]]]:
    """(non-blank lines, valid answers one per chunk, [(line, reason)]) of JSONL `text`."""
    answers, errors, lines = [], [], 0
    # Split at "\n" only: JSON strings may hold U+2028 and other characters str.splitlines() breaks at.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        lines += 1
        try:
            answers.append(_answer(number, raw, task))
        except ValueError as exc:
            errors.append((number, str(exc)))
    kept, repeated = one_per_chunk(
        answers,
        lambda a: (a.chunk_id is None, a.chunk_id or a.text_hash),
        lambda a, first: f"{a.chunk} again, with another answer than on line {first.line}",
    )
    return lines, kept, sorted(errors + repeated)


def one_per_chunk(
    answers: Sequence[RecordedAnswer],
    key: Callable[[RecordedAnswer], Hashable],
    conflict: Callable[[RecordedAnswer, RecordedAnswer], str],
) -> tuple[list[RecordedAnswer], list[tuple[int, str]]]:
    """The first answer for each `key`; a later one with the same answer is dropped, one with
    another answer is an error on its line (`conflict(later, first)` says why)."""
    first: dict[Hashable, RecordedAnswer] = {}
    kept, errors = [], []
    for answer in answers:
        seen = first.setdefault(key(answer), answer)
        if seen is answer:
            kept.append(answer)
        elif seen.answer != answer.answer:
            errors.append((answer.line, conflict(answer, seen)))
    return kept, errors


def _answer(line: int, raw: str, task: TaskDefinition) -> RecordedAnswer:
    """One line's answer; a ValueError says what is wrong with the line."""
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError("nested too deeply to be an answer") from None
    if not isinstance(item, dict):
        raise ValueError(f"a line is one JSON object, this is {_kind(item)}")
    unknown = [key for key in item if key not in KEYS]
    if unknown:
        raise ValueError(f"unknown key{'s' if len(unknown) > 1 else ''} {_names(unknown)}; a line has {_names(KEYS)}")
    item = {key: value for key, value in item.items() if value is not None}
    chunk_key, answer_key = _one_of(item, CHUNK_KEYS), _one_of(item, ANSWER_KEYS)
    digest = chunk_id = None
    if chunk_key == "text_hash":
        digest = item["text_hash"]
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ValueError(
                f"text_hash must be the sha256 of the chunk's text in hex (64 digits 0-9a-f), got {_short(digest)}"
            )
    else:
        chunk_id = item["chunk_id"]
        if not isinstance(chunk_id, str) or not chunk_id.strip():
            raise ValueError(f"chunk_id must be a stored chunk's id, got {_short(chunk_id)}")
    probs = _label_probs(item["label"], task) if answer_key == "label" else _probs(item["probs"], task)
    model = item.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model (what answered, e.g. Qwen/Qwen2.5-72B-Instruct) must be given, got {_short(model)}")
    version = item.get("prompt_version")
    if version != task.version:
        raise ValueError(
            f"prompt_version {_short(version)} is not task {task.name}'s version {task.version!r}: "
            "answers to another prompt would never be used"
        )
    rationale = item.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        raise ValueError(f"rationale must be text, got {_short(rationale)}")
    return RecordedAnswer(
        line=line,
        text_hash=digest,
        chunk_id=chunk_id,
        probs=probs,
        model=model.strip(),
        rationale=rationale,
        tokens_in=_count(item, "tokens_in"),
        tokens_out=_count(item, "tokens_out"),
        cost=_amount(item, "cost"),
        latency_ms=_amount(item, "latency_ms"),
    )


def _one_of(item: dict, keys: tuple[str, str]) -> str:
    given = [key for key in keys if key in item]
    if len(given) != 1:
        raise ValueError(f"a line gives exactly one of {' or '.join(keys)}, this one {'both' if given else 'neither'}")
    return given[0]


def _label_probs(label: object, task: TaskDefinition) -> tuple[float, ...]:
    if not isinstance(label, str) or label not in task.names:
        raise ValueError(f"label {_short(label)} is not one of {', '.join(task.names)}")
    return tuple(1.0 if name == label else 0.0 for name in task.names)


def _probs(given: object, task: TaskDefinition) -> tuple[float, ...]:
    """Probabilities in the task's label order from a list in that order or a label → number
    object (labels left out 0): finite, at least 0, summing to 1 within SUM_TOLERANCE, renormalised."""
    names = task.names
    if isinstance(given, list):
        if len(given) != len(names):
            raise ValueError(f"probs has {len(given)} numbers, the task {len(names)} labels ({', '.join(names)})")
        values = dict(zip(names, given))
    elif isinstance(given, dict):
        unknown = [key for key in given if key not in names]
        if unknown:
            raise ValueError(f"probs names {_names(unknown)}, not a label of the task ({', '.join(names)})")
        values = {name: given.get(name, 0.0) for name in names}
    else:
        raise ValueError(f"probs must be a list in label order or an object label → probability, got {_kind(given)}")
    wrong = [name for name, p in values.items() if not _number(p) or p < 0]
    if wrong:
        raise ValueError(f"probs of {', '.join(wrong)} must be finite numbers at least 0, got {_short(given)}")
    total = math.fsum(values.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"probs sum to {total:.6g}, not 1 (within {SUM_TOLERANCE:g})")
    return tuple(values[name] / total for name in names)


def _count(item: dict, key: str) -> int:
    value = item.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TOKENS:
        raise ValueError(f"{key} must be a whole number from 0 to {MAX_TOKENS}, got {_short(value)}")
    return value


def _amount(item: dict, key: str) -> float:
    value = item.get(key, 0.0)
    if not _number(value) or value < 0:
        raise ValueError(f"{key} must be a finite number at least 0, got {_short(value)}")
    return float(value)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: object) -> str:
    kinds = {list: "a list", dict: "an object", str: "text", bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _names(keys: Sequence[str]) -> str:
    return ", ".join(repr(key) for key in keys)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


CHUNK_ID_REFUSED = (
    "gives chunk_id: the recorded teacher finds an answer by its text, so a line gives text_hash "
    "(the sha256 of the chunk's text); `upscway annotate import` reads chunk_id lines"
)


class RecordedTeacher:
    """Answers from a file of answers computed elsewhere, found by the hash of the text; a text
    the file lacks is that chunk's failure ("no recorded answer for this text"), so an empty
    file (answers still to come) fails every text. The file is read and checked whole when the
    teacher is built: with one invalid line it answers nothing (InvalidAnswers)."""

    def __init__(self, task: TaskDefinition, path: Path):
        read = read_answer_file(path, task)
        errors = [*read.errors, *((a.line, CHUNK_ID_REFUSED) for a in read.answers if a.text_hash is None)]
        if errors:
            raise InvalidAnswers(read.path, errors, read.lines, "the recorded teacher answers nothing from it")
        self.by_hash = {answer.text_hash: answer for answer in read.answers}
        self.annotator_id = f"recorded:{Path(path).stem}"
        if self.by_hash:
            LOGGER.info("recorded teacher: %d answers from %s", len(self.by_hash), path)
        else:
            LOGGER.warning("recorded teacher: %s holds no answers yet: every text is a failure", path)

    def close(self) -> None:
        pass

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        answers: list[Answer] = []
        for i, text in enumerate(texts):
            found = self.by_hash.get(text_hash(text))
            answer = found.soft_label() if found else TeacherFailure(NO_ANSWER)
            answers.append(answer)
            if on_answer:
                on_answer(i, answer)
        return answers
