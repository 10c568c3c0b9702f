"""The nightly audit of a certified cascade, the calibration draw, and the live check that
judges them.

The calibration draw: before routing, each of tonight's articles is drawn independently with
probability `cascade.calibration_rate` (Bernoulli sampling, seeded by the run id or `cascade.draw_seed`), and the
teacher answers and decides every chunk of a drawn article, whatever the student thinks. The
draws are a uniform sample of the news with a known inclusion probability, stored, never
trained on: new candidates are certified on them while the cascade offloads.

The audit: a uniformly random share (`cascade.audit_rate`) of the texts the student decided is
also answered by the teacher, each drawn independently (Bernoulli sampling). The tag stays the
student's: the audit measures, it does not correct.

The live check monitors the loss that was certified, tonight's article-averaged loss (the share
of an article's chunks the student decides and labels otherwise than the teacher, averaged over
tonight's articles), with design-based e-values (`evalues.py`: valid whatever the correlation of
chunks, since the randomness is the audit's own draw):
- the change-point mixture e-detector: a fallback (held until a new student is promoted or it
  is cleared) when it reaches 1/δ. While every night's loss is at most ε, the chance that it
  ever alarms is at most δ, over any number of nights; a rise starting on night k costs only
  ~2 log k more evidence, so its power does not decay with the student's age;
- the burden of proof on "holds": with `cascade.withhold_unproven`, tonight's offload stands
  only while tonight's upper bound of the loss (at 1 − δ) is at most ε; otherwise the teacher
  decides tonight (withheld, not a fallback: the next night is judged afresh).

A shift in the student's scores (its mean confidence or deferral rate moved from its reference
by more than `cascade.drift_limit`) says tonight's news may not be like the certificate's sample,
not that the student is wrong on it. So it costs audit requests, not the offload: tonight's audit
rate rises to `cascade.drift_audit_rate` and tonight's offload stands only when that audit proves
tonight's loss at most ε, whatever `withhold_unproven` says. A harmless shift keeps its offload
(minus the larger audit); a harmful one is withheld the night it happens, and its audited losses
feed the detector. The raised rate is chosen from the student's scores alone, before the draw and
before any teacher answer, so the design-based e-values and bounds stay valid at tonight's rate.

Plain functions: no store, no Prefect, no model.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from upscway.records import Audited, ScoredChunk
from upscway.settings import CascadeSettings
from upscway.tasks.cascade.evalues import Detector, NightSample, night_log_e, night_upper_bound
from upscway.tasks.cascade.policy import Guarantee
from upscway.tasks.cascade.routing import finite, top


def draw_seed(fixed: str | None, run_id: str, texts: Sequence[str]) -> str:
    """The seed of tonight's draws: the run id, or with a `fixed` seed (`cascade.draw_seed`) that
    seed with a digest of tonight's texts, so the same news is drawn the same way in every run.
    Either way the seed is chosen before any label is seen, so the draws stay independent of
    the losses they measure."""
    if fixed is None:
        return run_id
    digest = hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()[:16]
    return f"{fixed}:{digest}"


def audit_sample(decided: Sequence[str], rate: float, seed: str) -> set[str]:
    """The decided chunk texts the teacher also answers tonight: each drawn independently with
    probability `rate`, from a generator seeded by `seed` (`draw_seed`'s), so a rerun of the
    same run audits the same chunks."""
    if rate <= 0 or not decided:
        return set()
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    ordered = sorted(decided)
    return {h for h, u in zip(ordered, rng.uniform(size=len(ordered))) if u < rate}


def calibration_draw(articles: Sequence[str], rate: float, seed: str) -> set[str]:
    """Tonight's calibration articles: each drawn independently with probability `rate`, from a
    generator seeded by `seed` (`draw_seed`'s), so a rerun of the same run draws the same ones."""
    if rate <= 0 or not articles:
        return set()
    rng = np.random.default_rng(int(hashlib.sha256(f"calibration:{seed}".encode()).hexdigest()[:16], 16))
    ordered = sorted(set(articles))
    return {a for a, u in zip(ordered, rng.uniform(size=len(ordered))) if u < rate}


def night_sample(
    chunks: Sequence[ScoredChunk], decided: set[str], audited: set[str], lost: set[str], rate: float
) -> NightSample:
    """Tonight's texts for the live check: each text's weight in tonight's article-averaged loss
    (a chunk counts 1/(its article's chunks tonight), over the number of articles), and whether
    the student decided it, the audit drew it, and the audit found it lost."""
    articles = Counter(c.article_id or c.chunk_id for c in chunks)
    share: dict[str, float] = {}
    for c in chunks:
        share[c.text_hash] = share.get(c.text_hash, 0.0) + 1 / (articles[c.article_id or c.chunk_id] * len(articles))
    rows = [(w, h in decided, h in audited, h in lost) for h, w in sorted(share.items())]
    return NightSample.of(rows, rate)


@dataclass(frozen=True)
class LiveBound:
    """One night's live check: `chunks` tagged, `decided` by the student, `audited` of those,
    `disagreements` among the audited; the Horvitz–Thompson estimate of tonight's loss, its upper
    bound at 1 − δ, and the detector after tonight."""

    night: int
    chunks: int
    decided: int
    audited: int
    disagreements: int
    estimate: float | None
    upper: float
    detector: Detector

    @property
    def offload(self) -> float:
        return self.decided / self.chunks if self.chunks else 0.0


def live_bound(
    night: int, sample: NightSample, previous: Detector, counts: tuple[int, int, int, int], guarantee: Guarantee
) -> LiveBound:
    """Tonight's live check (see the module's docstring); `counts`: chunks, decided, audited,
    disagreements."""
    chunks, decided, audited, disagreements = counts
    return LiveBound(
        night=night,
        chunks=chunks,
        decided=decided,
        audited=audited,
        disagreements=disagreements,
        estimate=sample.estimate if audited or not decided else None,
        upper=night_upper_bound(sample, guarantee.delta),
        detector=previous.update(night_log_e(sample, guarantee.epsilon)),
    )


def shifted(drift: dict | None, drift_limit: float) -> str | None:
    """Why tonight's news may not be like the certificate's sample, or None: the student's mean
    confidence or deferral rate (`drift`, against its reference) moved by more than `drift_limit`
    (a figure that is not finite counts as moved)."""
    if not drift:
        return None
    moved = max(
        abs(drift["night_mean_confidence"] - drift["validation_mean_confidence"]),
        abs(drift["night_deferral"] - drift["validation_deferral"]),
    )
    if moved <= drift_limit:  # NaN compares False
        return None
    return (
        f"the student's scores moved by {moved:.2f} from {drift.get('reference', 'validation')} (mean confidence or "
        f"deferral rate), past drift_limit {drift_limit:g}: tonight's news may not be like the certificate's"
    )


def audit_rate_tonight(settings: CascadeSettings, shift: str | None) -> float:
    """Tonight's audit rate: `audit_rate`, raised to `drift_audit_rate` on a night whose scores
    shifted (`shifted`'s reason)."""
    return max(settings.audit_rate, settings.drift_audit_rate) if shift else settings.audit_rate


def breaks(live: LiveBound | None, guarantee: Guarantee) -> str | None:
    """Why tonight the cascade must stop offloading until a new student is promoted, or None: the
    detector alarms (the certified loss has risen above ε, with the chance of a false alarm ever
    at most δ)."""
    if live is not None and live.detector.alarms(guarantee.delta):
        return (
            f"the live check shows the certificate broken: its change-point detector reached {live.detector.value:.3g} "
            f"(the alarm is at 1/δ = {1 / guarantee.delta:g}) on night {live.night} since promotion; tonight "
            f"{live.disagreements} of {live.audited} audited chunks disagreed with the teacher (estimated loss "
            f"{live.estimate or 0:.3f}, above ε = {guarantee.epsilon:g} is what the detector tests)"
        )
    return None


def unproven(live: LiveBound, guarantee: Guarantee, shift: str | None = None) -> str | None:
    """Why tonight's offload is withheld, or None: tonight's upper bound of the loss is above ε
    (after a `shift`, the audit was raised to prove it: the reason says so)."""
    if live.upper <= guarantee.epsilon:
        return None
    return (
        (f"{shift}; tonight's audit was raised to prove its loss, and " if shift else "")
        + f"tonight's loss is not shown to be at most ε = {guarantee.epsilon:g}: its upper bound is {live.upper:.3f} "
        f"({live.audited} audited chunks, {live.disagreements} disagreements); the teacher decides tonight"
    )


@dataclass(frozen=True)
class Night:
    """A tag run's audit, judged: the live check, the audited chunks' two labels, why the cascade
    stops offloading (`broken`: a fallback from tonight on; `withheld`: tonight only; None:
    neither, or a fallback already held it), tonight's audit rate (raised after a `shift`),
    the calibration draw's size, and the figures
    `cascade_nights` stores (`requests` adds the teacher requests once they are known; ε under
    its column's name, `max_loss`, the settings' name for it)."""

    live: LiveBound
    audited: list[Audited]
    broken: str | None
    withheld: str | None
    holding: bool
    audit_rate: float
    epsilon: float
    calibration_articles: int = 0
    shift: str | None = None

    @property
    def fallback(self) -> bool:
        """The teacher decides every chunk tonight."""
        return self.holding or self.broken is not None or self.withheld is not None

    def figures(self, teacher_requests: int, audit_requests: int, calibration_requests: int = 0) -> dict:
        live = self.live
        return {
            "night": live.night,
            "chunks": live.chunks,
            "decided": live.decided,
            "audited": live.audited,
            "disagreements": live.disagreements,
            "audit_rate": self.audit_rate,
            "alpha": None,
            "live_estimate": live.estimate,
            "live_lower": None,
            "live_upper": live.upper,
            "max_loss": self.epsilon,
            "fallback": self.fallback,
            "teacher_requests": teacher_requests,
            "audit_requests": audit_requests,
            "requests_saved": 0 if self.fallback else live.decided - live.audited,
            "calibration_articles": self.calibration_articles,
            "calibration_requests": calibration_requests,
            "detector": live.detector.log_value,
            "withheld": self.withheld is not None,
            "shifted": self.shift is not None,
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


@dataclass(frozen=True)
class Tonight:
    """What tonight's judge needs besides the chunks: the night's number since promotion, the
    detector after the nights before, the texts the student decided and those audited at
    `audit_rate` (raised after a `shift`: `shifted`'s reason), and the calibration draw's size."""

    night: int
    previous: Detector
    decided: Sequence[str]
    audited: set[str]
    audit_rate: float
    calibration_articles: int = 0
    shift: str | None = None


def judge_night(
    tonight: Tonight,
    chunks: Sequence[ScoredChunk],
    names: Sequence[str],
    settings: CascadeSettings,
    holding: bool,
) -> Night:
    """Tonight's audit judged before tonight's tags are stored: the audited texts the teacher
    could answer (`chunks` carry its answers), their disagreements, the live check, and whether
    the certificate broke tonight (scores that are not finite, or the detector) or tonight's
    offload is withheld (its upper bound above ε, under `withhold_unproven` or after a shift)."""
    first: dict[str, ScoredChunk] = {}
    for chunk in chunks:
        first.setdefault(chunk.text_hash, chunk)
    answered = [first[h] for h in sorted(tonight.audited) if first[h].teacher is not None]
    rows = [Audited(c.chunk_id, c.text_hash, names[top(c.student)], names[top(c.teacher)]) for c in answered]
    lost = {r.text_hash for r in rows if r.student_label != r.teacher_label}
    guarantee = Guarantee.of(settings)
    sample = night_sample(chunks, set(tonight.decided), {r.text_hash for r in rows}, lost, tonight.audit_rate)
    counts = (len(first), len(tonight.decided), len(rows), len(lost))
    live = live_bound(tonight.night, sample, tonight.previous, counts, guarantee)
    broken = None if holding else (unscorable(chunks) or breaks(live, guarantee))
    must_prove = settings.withhold_unproven or tonight.shift is not None
    withheld = None if holding or broken or not must_prove else unproven(live, guarantee, tonight.shift)
    return Night(
        live=live,
        audited=rows,
        broken=broken,
        withheld=withheld,
        holding=holding,
        audit_rate=tonight.audit_rate,
        epsilon=guarantee.epsilon,
        calibration_articles=tonight.calibration_articles,
        shift=tonight.shift,
    )
