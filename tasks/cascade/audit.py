"""The nightly audit of a certified cascade, and the live bound that judges it.

Each night a uniformly random share (`cascade.audit_rate`) of the chunks the student decided is
also answered by the teacher: each decided chunk is drawn independently with that probability
(Bernoulli sampling), so the audited chunks are a uniform sample of the decided ones and the
probability is known. The tag stays the student's: the audit measures, it does not correct.

The live bound: the cascade's consistency loss tonight (the share of tonight's chunks the
student decided and labelled differently from the teacher, the loss the certificate bounds) is
offload × r, where offload is known exactly and r, the disagreement rate among the decided
chunks, is estimated on the audited ones with a Clopper–Pearson lower bound. The bound must stay
valid although it is looked at every night, so the k-th night since the student was promoted is
tested at α_k = δ · 6 / (π² k²): an alpha-spending rule whose α_k sum to δ over all nights, so
the chance that any night ever raises a false alarm is at most δ (a union bound; chosen over a
confidence sequence pooled across nights because a pooled estimate reacts to a sudden break only
as fast as the break outweighs the history, while a per-night test judges tonight's news alone).
The certificate is broken when tonight's lower bound exceeds ε.

Plain functions: no store, no Prefect, no model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from upscway.records import Audited, ScoredChunk
from upscway.settings import CascadeSettings
from upscway.tasks.cascade.certificate import lower_bound, upper_bound
from upscway.tasks.cascade.policy import Guarantee
from upscway.tasks.cascade.routing import finite, top


def audit_sample(decided: Sequence[str], rate: float, seed: str) -> set[str]:
    """The decided chunk texts the teacher also answers tonight: each drawn independently with
    probability `rate`, from a generator seeded by `seed` (the run id), so a rerun of the same
    run audits the same chunks."""
    if rate <= 0 or not decided:
        return set()
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    ordered = sorted(decided)
    return {h for h, u in zip(ordered, rng.uniform(size=len(ordered))) if u < rate}


def night_alpha(night: int, delta: float) -> float:
    """The level the `night`-th night since promotion is tested at: δ·6/(π²·night²)."""
    return delta * 6 / (math.pi**2 * night**2)


@dataclass(frozen=True)
class LiveBound:
    """One night of the audit: `chunks` tagged, `decided` by the student, `audited` of those,
    `disagreements` among the audited; the live consistency loss estimate (offload × audited
    disagreement rate) and its lower and upper bounds at level `alpha`."""

    night: int
    chunks: int
    decided: int
    audited: int
    disagreements: int
    alpha: float
    estimate: float | None
    lower: float
    upper: float

    @property
    def offload(self) -> float:
        return self.decided / self.chunks if self.chunks else 0.0


def live_bound(night: int, chunks: int, decided: int, audited: int, disagreements: int, delta: float) -> LiveBound:
    """Tonight's live bound (see the module's docstring) at night `night`'s spent level."""
    alpha = night_alpha(night, delta)
    share = decided / chunks if chunks else 0.0
    return LiveBound(
        night=night,
        chunks=chunks,
        decided=decided,
        audited=audited,
        disagreements=disagreements,
        alpha=alpha,
        estimate=share * disagreements / audited if audited else None,
        lower=share * lower_bound(disagreements, audited, alpha),
        upper=share * upper_bound(disagreements, audited, alpha),
    )


def breaks(live: LiveBound | None, epsilon: float, drift: dict | None, drift_limit: float) -> str | None:
    """Why tonight the cascade must stop offloading, or None: the live bound shows the
    certificate broken (its lower bound above ε), or the student's mean confidence or deferral
    rate moved from its reference (`drift`) by more than `drift_limit`, either way: the
    certificate holds for news like its sample, and a student much surer or much less sure than
    there says tonight's news is not."""
    if live is not None and live.lower > epsilon:
        return (
            f"the live bound shows the certificate broken: on {live.audited} audited chunks the student disagreed with the "
            f"teacher on {live.disagreements}, so its consistency loss tonight is at least {live.lower:.3f} (level "
            f"{live.alpha:.2g}, night {live.night} since promotion), above ε = {epsilon:g}"
        )
    if drift:
        moved = max(
            abs(drift["night_mean_confidence"] - drift["validation_mean_confidence"]),
            abs(drift["night_deferral"] - drift["validation_deferral"]),
        )
        if not moved <= drift_limit:  # NaN compares False: a figure that is not finite fails the check
            return (
                f"the student's scores moved by {moved:.2f} from {drift.get('reference', 'validation')} (mean confidence "
                f"or deferral rate), past the hard limit {drift_limit:g}: tonight's news is not like the certificate's"
            )
    return None


@dataclass(frozen=True)
class Night:
    """A tag run's audit, judged: the live bound, the audited chunks' two labels, why tonight's
    offload is withdrawn (None: it is not, or a fallback already held it), and the figures
    `cascade_nights` stores (`requests` adds the teacher requests once they are known; ε under
    its column's name, `max_loss`, the settings' name for it)."""

    live: LiveBound
    audited: list[Audited]
    broken: str | None
    holding: bool
    audit_rate: float
    epsilon: float

    @property
    def fallback(self) -> bool:
        return self.holding or self.broken is not None

    def figures(self, teacher_requests: int, audit_requests: int) -> dict:
        live = self.live
        return {
            "night": live.night,
            "chunks": live.chunks,
            "decided": live.decided,
            "audited": live.audited,
            "disagreements": live.disagreements,
            "audit_rate": self.audit_rate,
            "alpha": live.alpha,
            "live_estimate": live.estimate,
            "live_lower": live.lower,
            "live_upper": live.upper,
            "max_loss": self.epsilon,
            "fallback": self.fallback,
            "teacher_requests": teacher_requests,
            "audit_requests": audit_requests,
            "requests_saved": 0 if self.fallback else live.decided - live.audited,
        }


def unscorable(chunks: Sequence[ScoredChunk]) -> str | None:
    """Why tonight the student decides nothing, or None: its scores on one of tonight's chunks
    are not finite (or were refused). A model is a
    fixed function; one NaN or infinity means broken weights or overflowing numerics, and the
    certificate, measured on finite scores, says nothing about it, so one chunk is enough."""
    scored = [c for c in chunks if c.scored]
    bad = [c for c in scored if not finite(c.student)]
    if not bad:
        return None
    return (
        f"the student's scores are not finite on {len(bad)} of {len(scored)} chunks (NaN or infinite probabilities: "
        "its weights or numerics are broken); no score of it decides anything until a new student is promoted or "
        "the fallback is cleared (`upscway models clear-fallback`)"
    )


def judge_night(
    night: int,
    chunks: Sequence[ScoredChunk],
    decided: Sequence[str],
    audited: set[str],
    names: Sequence[str],
    settings: CascadeSettings,
    drift: dict | None,
    holding: bool,
) -> Night:
    """Tonight's audit judged before tonight's tags are stored: the audited chunks (of the texts
    the student `decided`) the teacher could answer (`chunks` carry its answers), their
    disagreements, the live bound at the night's level, and whether the certificate broke
    tonight (scores that are not finite, the live bound, or the drift alarm's hard limit)."""
    first: dict[str, ScoredChunk] = {}
    for chunk in chunks:
        first.setdefault(chunk.text_hash, chunk)
    answered = [first[h] for h in sorted(audited) if first[h].teacher is not None]
    rows = [Audited(c.chunk_id, c.text_hash, names[top(c.student)], names[top(c.teacher)]) for c in answered]
    disagreements = sum(r.student_label != r.teacher_label for r in rows)
    guarantee = Guarantee.of(settings)
    live = live_bound(night, len(first), len(decided), len(rows), disagreements, guarantee.delta)
    broken = None if holding else (unscorable(chunks) or breaks(live, guarantee.epsilon, drift, settings.drift_limit))
    return Night(
        live=live,
        audited=rows,
        broken=broken,
        holding=holding,
        audit_rate=settings.audit_rate,
        epsilon=guarantee.epsilon,
    )
