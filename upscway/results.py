"""The evaluation's records: what `evaluate` produces, the store keeps as JSON, and the gate,
the report and promotion read by attribute.

They are pydantic models, frozen, that ignore keys they do not know and default the ones they
lack, so a row stored by an older version (fewer fields, a cascade of None) reads back into the
same types. `PairedResult.model_validate(row)` parses nested dicts; `model_dump(mode="json")`
is what the store writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

Interval = tuple[float, float]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Scores(_Record):
    """One labeller's metrics on the gold chunks. Per-paper keys are label indices ("1" …);
    `confusion[gold][predicted]`. The candidate's also carry its calibration (the temperature
    its scores were scaled by, the ECE before scaling) and its speed and size."""

    accuracy: float | None = None
    relevance_accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    gs_accuracy: float | None = None
    gs_accuracy_per_paper: dict[str, float | None] = Field(default_factory=dict)
    confusion: list[list[int]] = Field(default_factory=list)
    ece: float | None = None
    mean_confidence: float | None = None
    mean_confidence_wrong: float | None = None
    temperature: float | None = None
    ece_before_scaling: float | None = None
    latency_ms_per_chunk: float | None = None
    chunks_per_s: float | None = None
    parameters: int | None = None
    size_on_disk_mb: float | None = None

    def get(self, metric: str) -> float | None:
        """A metric by name, for the tables that list several."""
        return getattr(self, metric, None)


class McNemar(_Record):
    """Exact McNemar on paired correctness: b = teacher right and student wrong, c = the reverse."""

    b: int = 0
    c: int = 0
    p_value: float = 1.0


class Bound(_Record):
    """A one-sided lower confidence bound of (student − teacher) accuracy."""

    confidence: float = 0.95
    lower_bound: float | None = None


class Paired(_Record):
    """The comparison on the same `n` gold chunks. `not_relevant` is the label index that
    means "serves none" (rows stored before it was recorded used 0)."""

    n: int = 0
    not_relevant: int = 0
    agreement_top1: float | None = None
    accuracy_gap: float | None = None
    mcnemar: McNemar = McNemar()
    ci95: dict[str, Interval | None] = Field(default_factory=dict)
    noninferiority: Bound = Bound()

    def papers(self, n_labels: int) -> list[int]:
        """The label indices that are papers: every one but `not_relevant`."""
        return [i for i in range(n_labels) if i != self.not_relevant]


class OperatingPoint(_Record):
    """The cascade at one confidence threshold, on gold: its accuracy and the share of chunks
    the student decides. The chosen point also has the paired lower bound of (cascade −
    teacher) accuracy and the cascade's accuracy per paper."""

    threshold: float
    accuracy: float | None = None
    offload: float = 0.0
    lower_bound: float | None = None
    gs_accuracy_per_paper: dict[str, float | None] = Field(default_factory=dict)


class CascadeEvaluation(_Record):
    """The cascade as deployed, on gold: the operating curve, the threshold chosen on it (the
    most offload within `tolerance` of the teacher's accuracy; None when none qualifies), and
    the figures at the configured threshold when one is set."""

    tolerance: float = 0.02
    relevance_band: Interval = (0.35, 0.65)
    curve: tuple[OperatingPoint, ...] = ()
    chosen: OperatingPoint | None = None
    configured: OperatingPoint | None = None


class PairedResult(_Record):
    """A candidate and its teacher on the same gold chunks, and the cascade built of both."""

    student: Scores
    teacher: Scores
    paired: Paired
    cascade: CascadeEvaluation | None = None

    @property
    def chosen(self) -> OperatingPoint | None:
        """The cascade's chosen operating point, the one promotion records and `tag` routes with."""
        return self.cascade.chosen if self.cascade else None


class Verdict(StrEnum):
    PROMOTE = "promote"
    REJECT = "reject"
    INSUFFICIENT_DATA = "insufficient-data"


@dataclass(frozen=True)
class Criterion:
    """One gate criterion: its value, the threshold it is held to, and its interval if any."""

    name: str
    value: float | None
    threshold: float
    comparison: str  # ">=" or "<="
    interval: Interval | None = None

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.threshold if self.comparison == ">=" else self.value <= self.threshold


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on an evaluation, with every criterion and the reasons it did not pass."""

    verdict: Verdict
    criteria: tuple[Criterion, ...]
    reasons: tuple[str, ...]
