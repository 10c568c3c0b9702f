"""What a finished flow run reports: a typed summary per kind of flow, and the outcome of a
nightly step that did not complete (skipped, failed).

A flow builds its summary; `RunContext.finish` adds the run's failures and id, stores it as
JSON in `flow_runs.summary` and hands it to Prefect as the final state's data;
`upscway.outcomes` says it in words. The stored form (`model_dump()`) has the keys, in the
order, that the summaries had as plain dicts, so rows already stored and the SQL that reads
them keep working: a field in `_omitted` is left out while None (a key the flow added only
sometimes), and the keys in `_tail` come last (where `finish` appended them).

They are frozen pydantic models that keep keys they do not know (a newer or older version's)
and default most figures they lack; `summary_of(flow, row)` reads a stored row back, as its
flow's summary when it fits and as a plain `Summary` of its keys when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_serializer, model_validator

from upscway.records import RunStatus


class Summary(BaseModel):
    """The base of every stored summary and of its nested parts."""

    model_config = ConfigDict(frozen=True, extra="allow")

    _omitted: ClassVar[frozenset[str]] = frozenset()  # stored only when not None
    _tail: ClassVar[tuple[str, ...]] = ()  # stored after every other key, in this order

    @model_serializer(mode="wrap")
    def _stored(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in self._omitted:
            if data.get(key) is None:
                data.pop(key, None)
        for key in self._tail:
            if key in data:
                data[key] = data.pop(key)
        return data


class FlowSummary(Summary):
    """What every flow run reports: the items that failed (counted from the failures table) and
    the run's id, both set by `finish`; `status` only on a nightly step's outcome."""

    _omitted = frozenset({"status"})
    _tail = ("failures", "run_id")

    status: RunStatus | None = None
    failures: int = 0
    run_id: str | None = None


class PagesSummary(FlowSummary):
    """`backfill` (and `ingest`): the URLs found, the pages fetched and what they stored.
    `sources` and `feeds` are ingest's; `not_urls` is a backfill's from a URL list."""

    _omitted = frozenset({"status", "sources", "feeds", "not_urls"})

    sources: int | None = None
    feeds: int | None = None
    new_urls: int = 0
    not_urls: int | None = None
    fetched: int = 0
    articles: int = 0
    chunks: int = 0
    duplicates: int = 0
    already_stored: int = 0


class IngestSummary(PagesSummary):
    """`ingest`: a pages summary with its sources and feeds (and a headline in the nightly table)."""


class AnnotateSummary(FlowSummary):
    """`annotate`: what the teacher answered, its tokens and cost, the answers by label."""

    _tail = ("failures", "tokens_in", "tokens_out", "cost", "labels", "run_id")  # the batch counts' order

    annotator: str
    prompt_version: str | None = None
    to_annotate: int = 0
    annotated: int
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float
    labels: dict[str, int] = Field(default_factory=dict)


class Drift(Summary):
    """The student's scores tonight against its reference (`tasks/cascade/routing.drift`)."""

    night_mean_confidence: float | None = None
    validation_mean_confidence: float | None = None
    night_deferral: float | None = None
    validation_deferral: float | None = None
    reference: str | None = None
    warning: str | None = None


class Audit(Summary):
    """Tonight's audit and live check (`tasks/cascade/audit.Night.figures`). `alpha` and
    `live_lower` belonged to the retired alpha-spending audit (None from issue 32 on);
    `detector` is the change-point e-detector's log value after tonight (it alarms at log(1/δ));
    `shifted`: the student's scores moved past `cascade.drift_limit`, so `audit_rate` was raised."""

    night: int | None = None
    chunks: int = 0
    decided: int
    audited: int
    disagreements: int = 0
    audit_rate: float | None = None
    alpha: float | None = None
    live_estimate: float | None
    live_lower: float | None = None
    live_upper: float
    max_loss: float
    fallback: bool = False
    teacher_requests: int = 0
    audit_requests: int
    requests_saved: int = 0
    calibration_articles: int = 0
    calibration_requests: int = 0
    detector: float | None = None
    withheld: bool = False
    shifted: bool = False


class Fallback(Summary):
    """Why the cascade did not offload tonight; `new`: it fell back tonight, not held before."""

    new: bool
    reason: str | None


class OtherLanguages(Summary):
    """The chunks in languages the students do not serve: where they went (`teacher` or `skip`)."""

    route: str
    chunks: int
    languages: dict[str, int] = Field(default_factory=dict)


class TagSummary(FlowSummary):
    """`tag`: who decided the new chunks, the teacher requests made and saved, and tonight's
    drift, audit, other languages and fallback (None: none)."""

    production_model: str | None
    confidence_threshold: float | None = None
    chunks: int
    tagged: int = 0
    by_student: int = 0
    by_teacher: int = 0
    offload_rate: float = 0.0
    teacher_requests: int = 0
    teacher_requests_saved: int = 0
    calibration_articles: int = 0
    calibration_requests: int = 0
    estimated_cost_saved: float = 0.0
    agreement_on_both_labelled: float | None = None
    both_labelled: int = 0
    drift: Drift | None = None
    audit: Audit | None = None
    other_languages: OtherLanguages | None = None
    fallback: Fallback | None = None


class TrainedStage(Summary):
    """One stage a distill run trained: the model, its teacher and its training's figures."""

    model: str
    teacher: str | None = None
    train_examples: int | None = None
    steps: int | None = None
    last_kd: float | None = None
    validation_agreement_with_teacher: float | None = None


class DistillSummary(FlowSummary):
    """`distill`: the chain and each stage trained, in order."""

    chain: str
    stages: dict[str, TrainedStage]


class EvaluateSummary(FlowSummary):
    """`evaluate`: the candidate and its teacher on the same gold, the gate's verdict, the
    certificate's sentence and point, and the report's path."""

    evaluation: str | None = None
    model: str
    teacher: str
    gold_chunks: int
    accuracy: float | None
    teacher_accuracy: float | None
    relevance_accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    gs_accuracy: float | None = None
    agreement_with_teacher: float | None = None
    mcnemar_p: float | None = None
    gate_verdict: str
    certificate: str | None = None
    certified_threshold: float | None = None
    certified_offload: float | None = None
    report: str


class PromoteSummary(FlowSummary):
    """`promote`: the gate's verdict, where production is now, and why."""

    model: str
    verdict: str
    certificate: str | None = None
    certified_threshold: float | None = None
    certified_offload: float | None = None
    production: str
    cascade_threshold: float | None = None
    previous_production: str | None = None
    forced: bool = False
    criteria: dict[str, str] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)


class StudySummary(FlowSummary):
    """`study`: its arms and seeds, what was trained and reused, each claim's verdict, the report."""

    study: str
    spec: str | None = None
    arms: int
    seeds: int
    gold_chunks: int
    trained: int
    reused: int
    claims: dict[str, str] = Field(default_factory=dict)
    report: str


class SkippedOutcome(Summary):
    """A nightly step that did not run, and why."""

    status: RunStatus = RunStatus.SKIPPED
    reason: str


class FailedOutcome(Summary):
    """A run (or a nightly step) that failed, and its error."""

    status: RunStatus = RunStatus.FAILED
    error: str | None


StepOutcome = FlowSummary | SkippedOutcome | FailedOutcome


class NightlySummary(Summary):
    """`nightly`: every step's outcome (its summary with its status, or why it did not
    complete), the failed items of all steps, and the evaluation's report when there is one."""

    _omitted = frozenset({"report"})

    run_id: str
    steps: dict[str, SerializeAsAny[StepOutcome]]  # stored with each summary's own keys
    failed_items: int = 0
    report: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_steps(cls, data: Any) -> Any:
        """Steps read back from JSON become their flows' summaries (or outcomes)."""
        if isinstance(data, Mapping) and isinstance(data.get("steps"), Mapping):
            steps = {name: summary_of(name, s) if isinstance(s, Mapping) else s for name, s in data["steps"].items()}
            return {**data, "steps": steps}
        return data


SUMMARIES: dict[str, type[Summary]] = {
    "ingest": IngestSummary,
    "backfill": PagesSummary,
    "annotate": AnnotateSummary,
    "tag": TagSummary,
    "distill": DistillSummary,
    "evaluate": EvaluateSummary,
    "promote": PromoteSummary,
    "study": StudySummary,
    "nightly": NightlySummary,
}


def summary_of(flow: str, row: Mapping[str, Any]) -> Summary:
    """A summary read back (a `flow_runs.summary`, a nightly step): the flow's summary, or the
    outcome its status names; a row that does not fit (an older version's, an unknown flow's,
    a crashed run's) is a plain `FlowSummary`, or else a plain `Summary`, of its keys."""
    status = row.get("status")
    kind = {RunStatus.SKIPPED: SkippedOutcome, RunStatus.FAILED: FailedOutcome, RunStatus.CRASHED: Summary}.get(
        status if isinstance(status, str) else None, SUMMARIES.get(flow, Summary)
    )
    for fitting in (kind, FlowSummary) if issubclass(kind, FlowSummary) else (kind,):
        try:
            return fitting.model_validate(row)
        except ValidationError:
            continue
    return Summary.model_validate(dict(row))
