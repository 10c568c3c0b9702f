"""The promotion gate: every criterion with its value, threshold and verdict.

A decision is `promote` only when every criterion passes on enough gold data; below the
minimum support it is `insufficient-data`, whatever the metrics say. A metric that could not
be computed (None) fails its criterion.
"""

from __future__ import annotations

from dataclasses import dataclass

from upscway.settings import GateSettings


@dataclass(frozen=True)
class Criterion:
    name: str
    value: float | None
    threshold: float
    comparison: str  # ">=" or "<="

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.threshold if self.comparison == ">=" else self.value <= self.threshold


@dataclass(frozen=True)
class Decision:
    verdict: str  # promote | reject | insufficient-data
    criteria: tuple[Criterion, ...]
    reasons: tuple[str, ...]


def decide(metrics: dict, teacher_accuracy: float | None, support: dict[str, int], gate: GateSettings) -> Decision:
    """`metrics`: the candidate's relevance (`accuracy`, `precision`, `recall`), `gs_accuracy`
    and `accuracy` (5-way); `support`: gold chunks in all (`total`) and per paper (`1`..`4`)."""
    gap = None if metrics.get("accuracy") is None or teacher_accuracy is None else teacher_accuracy - metrics["accuracy"]
    criteria = (
        Criterion("relevance_accuracy", metrics.get("relevance_accuracy"), gate.min_relevance_accuracy, ">="),
        Criterion("precision", metrics.get("precision"), gate.min_precision, ">="),
        Criterion("recall", metrics.get("recall"), gate.min_recall, ">="),
        Criterion("gs_accuracy", metrics.get("gs_accuracy"), gate.min_gs_accuracy, ">="),
        Criterion("gap_to_teacher", gap, gate.max_gap_to_teacher, "<="),
    )
    short = []
    if support.get("total", 0) < gate.min_gold_support:
        short.append(f"{support.get('total', 0)} gold chunks < {gate.min_gold_support}")
    for paper, n in sorted(support.items()):
        if paper != "total" and 0 < n < gate.min_support_per_paper:
            short.append(f"GS{paper}: {n} gold chunks < {gate.min_support_per_paper}")
    if short:
        return Decision("insufficient-data", criteria, tuple(short))
    failed = tuple(f"{c.name} = {c.value} (needs {c.comparison} {c.threshold})" for c in criteria if not c.passed)
    return Decision("reject" if failed else "promote", criteria, failed)


def gate_support(result: dict) -> dict[str, int]:
    """Gold chunks in all and per paper, read off the candidate's confusion matrix (rows: gold)."""
    confusion = result["student"]["confusion"]
    return {"total": result["paired"]["n"], **{str(i): sum(row) for i, row in enumerate(confusion) if i > 0}}
