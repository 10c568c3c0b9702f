"""The evaluation's records: what `evaluate` produces, the store keeps as JSON, and the gate,
the report and promotion read by attribute.

They are pydantic models, frozen, that ignore keys they do not know and default the ones they
lack, so a row stored by an older version (fewer fields, a cascade of None) reads back into the
same types. `PairedResult.model_validate(row)` parses nested dicts; `model_dump(mode="json")`
is what the store writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

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
    labels: tuple[str, ...] = ()  # the task's label names by index (empty in rows stored before they were)
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
    the student decides. The certified point also has the cascade's scores there (the seed
    criteria are judged on them) and its accuracy per paper; points stored before certificates
    may have the paired bootstrap's lower bound of (cascade − teacher) accuracy."""

    threshold: float
    accuracy: float | None = None
    offload: float = 0.0
    lower_bound: float | None = None
    gs_accuracy_per_paper: dict[str, float | None] = Field(default_factory=dict)
    scores: Scores | None = None


class Tested(_Record):
    """One threshold of a certificate's sequence, on its calibration sample: the chunks the
    student decides, how many of those it loses, the exact p-value of H0: risk > ε, and the
    Clopper–Pearson upper bound of the risk."""

    threshold: float
    decided: int
    losses: int
    p_value: float
    upper_bound: float
    article_loss: float | None = None  # the mean over articles of the share of their chunks lost


class PaperBound(_Record):
    """The per-paper guard at the certified threshold: of the `n` calibration chunks whose
    reference label is the paper, how many the student decides and loses, and the upper bound
    of that share (how much of the paper's accuracy the cascade can lose)."""

    n: int
    losses: int
    upper_bound: float


LOSSES = {
    "consistency": "held-out teacher answers (the student decides and disagrees with the teacher)",
    "accuracy": "gold sampled at random (the student decides and is wrong where the teacher is right)",
}


class Certificate(_Record):
    """What Learn-then-Test certified on a calibration sample of `n` chunks in `articles` articles
    for one loss (`consistency` or `accuracy`, see LOSSES): the most aggressive threshold whose
    H0: risk ≥ ε was rejected at level `delta` (δ as spent on this `candidate` and loss) by
    fixed-sequence testing of article-level e-values (None: nothing), every threshold's test in
    the fixed order (`curve`, safest first, past the first failure too, for the shortfall
    arithmetic), the article-averaged share the student decides there with its own interval
    (stated separately: it is not part of the guarantee), and the per-paper guard.
    `upper_bound` is the certified point's chunk-count Clopper–Pearson bound, computed after the
    threshold was chosen: a description of the sample, never shown as the guarantee."""

    loss: str = "consistency"
    epsilon: float
    delta: float
    n: int
    articles: int = 0
    candidate: int = 1
    threshold: float | None = None
    upper_bound: float | None = None
    offload: float = 0.0
    offload_interval: Interval = (0.0, 0.0)
    curve: tuple[Tested, ...] = ()
    per_paper: dict[str, PaperBound] = Field(default_factory=dict)

    def sentence(self, confidence: float | None = None) -> str:
        """The guarantee in one sentence, as every place that shows a verdict states it: only what
        is certified; the offload follows in a sentence of its own. `confidence` is the overall
        level of the statement (1 − δ of the settings; δ itself is spent over candidates and
        losses)."""
        level = 1 - self.delta if confidence is None else confidence
        unit = f"{self.articles} articles, " if self.articles else ""
        on = f"{unit}{self.n} {LOSSES[self.loss].split(' (')[0]}"
        if self.threshold is None:
            return (
                f"Not certified: on {on}, no threshold keeps the cascade's accuracy loss against the teacher at most "
                f"{self.epsilon:g} with {level:.0%} confidence; the teacher keeps deciding."
            )
        low, high = self.offload_interval
        return (
            f"Certified: with {level:.0%} confidence the cascade at threshold {self.threshold:g} loses at most "
            f"{self.epsilon:g} accuracy against the teacher (per article, on news like its sample of {on}). "
            f"Separately, the student decides {self.offload:.0%} of an article's chunks ({low:.0%}–{high:.0%} with "
            f"{1 - self.delta:.1%} confidence)."
        )


class CascadeEvaluation(_Record):
    """The cascade as deployed: its certificate(s) and the one the gate uses (`certificate`:
    the more aggressive of them), the operating curve on the reported gold (chunks the
    certificate did not see), the certified point's figures on that gold (`chosen`: None when
    nothing is certified), and the figures at the configured threshold when one is set."""

    relevance_band: Interval = (0.35, 0.65)
    certificate: Certificate | None = None
    certificates: tuple[Certificate, ...] = ()
    confidence: float | None = None
    curve: tuple[OperatingPoint, ...] = ()
    chosen: OperatingPoint | None = None
    configured: OperatingPoint | None = None
    calibrated_since: str | None = None  # held-out answers only since the production cascade's fallback began
    # The student's top probabilities on the consistency sample (held-out news): once promoted,
    # what the nightly drift alarm compares tonight's scores with.
    reference_confidences: tuple[float, ...] = ()

    def sentence(self) -> str:
        """The certificate's sentence, or why there is none."""
        if self.certificate is None and self.confidence is None:
            return (
                "Not certified: this evaluation has no certificate (it was stored before certificates); evaluate again."
            )
        if self.certificate is None:
            since = f" since the fallback began ({self.calibrated_since})" if self.calibrated_since else ""
            return f"Not certified: no held-out teacher answers{since} and no random gold to certify on."
        return self.certificate.sentence(self.confidence)


class PairedResult(_Record):
    """A candidate and its teacher on the same gold chunks, and the cascade built of both."""

    student: Scores
    teacher: Scores
    paired: Paired
    cascade: CascadeEvaluation | None = None

    def label(self, index: int | str) -> str:
        """A label's name; `GS<index>` for a row stored before the names were (the UPSC task's)."""
        return self.paired.labels[int(index)] if self.paired.labels else f"GS{index}"

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
        """A value that is None or not finite (NaN, infinite) fails, whichever the comparison."""
        if self.value is None or not math.isfinite(self.value):
            return False
        return self.value >= self.threshold if self.comparison == ">=" else self.value <= self.threshold


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on an evaluation, with every criterion, the reasons it did not pass,
    the certificate it was decided on (None: the evaluation has none), the overall δ of its
    statement (the certificate's own level is δ/2 when two losses were tested), and the
    statement in one sentence."""

    verdict: Verdict
    criteria: tuple[Criterion, ...]
    reasons: tuple[str, ...]
    certificate: Certificate | None = None
    risk_level: float | None = None
    sentence: str = ""


class StudentMetrics(BaseModel):
    """A registered student's metrics (`models.metrics`, JSON): what training, calibration and
    promotion stored. The figures code reads are typed; every other key (training figures, an
    error, a quantized model's parent's metrics) is kept as it was stored, so a row written by
    any version reads back whole and `stored()` writes it back unchanged, in its order.

    `certified_confidences`: the student's top probabilities on the held-out news its
    certificate was computed on (added at promotion); `validation_confidences`: on its
    validation split (from calibration). Either is what the nightly drift alarm compares
    tonight's scores with (`reference`)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    _keys: tuple[str, ...] = PrivateAttr(default=())  # the keys in the order stored (or given)

    temperature: float | None = None
    validation_confidences: list[float] | None = None
    certified_confidences: list[float] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _keep_order(cls, data, handler):
        metrics = handler(data)
        if isinstance(data, dict):
            metrics._keys = tuple(data)
        return metrics

    def reference(self) -> tuple[list[float], str]:
        """What the student's nightly scores are compared with, and its name: its scores on the
        news it was certified on, else on its validation split (a student promoted before
        certificates, or by force)."""
        if self.certified_confidences:
            return self.certified_confidences, "the certificate's sample"
        return self.validation_confidences or [], "validation"

    def get(self, key: str, default=None):
        """A figure by its stored key, typed or not, as a dict's `get` reads it."""
        return self.stored().get(key, default)

    def stored(self) -> dict:
        """The keys as stored (or as given), in that order, for JSON: nothing added, nothing
        dropped."""
        dumped = self.model_dump(exclude_unset=True)
        return {**{k: dumped[k] for k in self._keys if k in dumped}, **dumped}
