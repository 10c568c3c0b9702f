"""The promotion gate: a student replaces teacher calls only on a certificate.

A decision is `promote` only when the cascade's threshold is certified (`tasks/cascade/
certificate.py`: with probability 1 − δ the cascade loses at most ε against the teacher, the
share of an article's chunks lost averaged over articles, on data no model trained on) and
every criterion passes:
- the lower bound of the certified threshold's offload interval (the article-averaged share the
  student decides, stated separately from the guarantee, at the certificate's own level) is at
  least `min_cascade_offload`, or it may replace nothing; a point estimate above the minimum
  with an interval reaching below it does not pass;
- the seed report's success criteria (relevance accuracy, precision, recall, GS-paper accuracy)
  on the cascade at that threshold, on the reported gold (chunks the certificate did not see);
- a per-paper guard: the Clopper–Pearson upper bound of the share of a GS paper's calibration
  chunks the cascade loses must be at most `max_paper_drop` (an overall pass can hide one paper
  collapsing). A paper is judged only with the support its bound can pass on: the fewest chunks
  at which no loss at all bounds it at `max_paper_drop` at the certificate's level, and at least
  `min_support_per_paper`. A paper with fewer is unguarded: the reasons name it, and it fails
  nothing on that alone.
Below the minimum reported gold it is `insufficient-data`, whatever the metrics say; so it is
when the certificate falls short only for want of data, and the reasons then say about how many
articles of held-out teacher answers or random gold would certify it (with 80% power), and the
command that gets them. What a sample "would support" is computed after seeing it, so it is
never called a certificate: ε is fixed in the settings. A metric that could not be computed
(None) fails its criterion. The student alone's figures, intervals and McNemar test are in the
report, not in the gate.
"""

from __future__ import annotations

import math

import numpy as np

from upscway.results import Certificate, Criterion, Decision, PairedResult, Verdict
from upscway.settings import GateSettings
from upscway.tasks.cascade.certificate import shortfall
from upscway.tasks.cascade.evalues import certify_p

EXPORT_HINT = "upscway gold export --strategy random --n {n} --out review.csv"
MORE = {  # how the sample of each loss grows, and what share of new chunks lands in it (evaluation split; and calibration half)
    "consistency": (
        "held-out teacher answers",
        2,
        "let the nightly calibration draw accrue (`cascade.calibration_rate` of each night's articles), or ingest "
        "more news and let the teacher answer all of it before a cascade tags it (`upscway run backfill --since DATE`, "
        "then `upscway run annotate`)",
    ),
    "accuracy": ("random gold labels", 4, f"`{EXPORT_HINT}`, label, then `upscway gold import review.csv`"),
}
UNGUARDED = ": unguarded"  # how a reason that names an unguarded paper ends (a note: it fails nothing)
NOT_A_CERTIFICATE = "computed after seeing the data: not a certificate; ε is fixed in settings"


def decide(result: PairedResult, gate: GateSettings) -> Decision:
    """Judge an evaluation by its cascade's certificate and the cascade's figures there."""
    cascade, chosen = result.cascade, result.chosen
    certificate = cascade.certificate if cascade else None
    sentence = cascade.sentence() if cascade else "Not certified: this evaluation has no cascade; evaluate again."
    certified = certificate is not None and certificate.threshold is not None
    deployed = chosen.scores if chosen and certified else None
    at = f"_at_{certificate.threshold:g}" if certified else ""
    offload = Criterion(
        f"certified_offload_lower_bound{at}",
        certificate.offload_interval[0] if certificate else None,
        gate.min_cascade_offload,
        ">=",
        certificate.offload_interval if certified else None,
    )
    criteria = [
        offload,
        *(
            Criterion(f"cascade{at}_{name}", deployed and deployed.get(name), minimum, ">=")
            for name, minimum in (
                ("relevance_accuracy", gate.min_relevance_accuracy),
                ("precision", gate.min_precision),
                ("recall", gate.min_recall),
                ("gs_accuracy", gate.min_gs_accuracy),
            )
        ),
    ]
    unguarded = []
    if certified:
        guarded, unguarded = _paper_guard(result, certificate, gate)
        criteria += guarded
    made = {
        "criteria": tuple(criteria),
        "certificate": certificate,
        "sentence": sentence,
        "risk_level": None if cascade is None or cascade.confidence is None else round(1 - cascade.confidence, 10),
    }
    short = _gold_shortfalls(gate_support(result), gate, result.label)
    if not certified or certificate.offload < gate.min_cascade_offload:
        found, hopeless = _certificate_shortfalls(cascade.certificates if cascade else (), gate.min_cascade_offload)
        if short or not hopeless:
            return Decision(Verdict.INSUFFICIENT_DATA, reasons=tuple(short + found + unguarded), **made)
        return Decision(Verdict.REJECT, reasons=tuple(found + unguarded), **made)
    if not offload.passed:  # the point reaches the minimum, its interval does not: more articles narrow it
        return Decision(
            Verdict.INSUFFICIENT_DATA,
            reasons=tuple(short + [_offload_shortfall(certificate, gate.min_cascade_offload)] + unguarded),
            **made,
        )
    if short:
        return Decision(Verdict.INSUFFICIENT_DATA, reasons=tuple(short + unguarded), **made)
    failed = [f"{c.name} = {_fmt(c.value)} (needs {c.comparison} {c.threshold:g})" for c in criteria if not c.passed]
    return Decision(Verdict.REJECT if failed else Verdict.PROMOTE, reasons=tuple(failed + unguarded), **made)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def guard_support(level: float, drop: float, least: int = 0) -> int | None:
    """The fewest calibration chunks of a paper its guard judges it on: the smallest n at which
    no loss in n gives a Clopper–Pearson upper bound at most `drop` at `level` (1 − level^(1/n)
    ≤ drop, i.e. n ≥ log(level) / log(1 − drop)), and at least `least` (and 1). None: no number
    would (`drop` is 0)."""
    if drop <= 0:
        return None
    fewest = 1 if drop >= 1 else math.ceil(math.log(level) / math.log(1 - drop) - 1e-9)
    return max(fewest, least, 1)


def _paper_guard(
    result: PairedResult, certificate: Certificate, gate: GateSettings
) -> tuple[list[Criterion], list[str]]:
    """The guard's criteria for the papers with enough calibration chunks, and a note naming
    each paper with fewer (none at all included): unguarded, which fails nothing by itself."""
    needs = guard_support(certificate.delta, gate.max_paper_drop, gate.min_support_per_paper)
    papers = {str(p) for p in result.paired.papers(len(result.student.confusion))} | set(certificate.per_paper)
    criteria, unguarded = [], []
    for paper in sorted(papers, key=lambda p: (len(p), p)):
        bound, name = certificate.per_paper.get(paper), result.label(paper)
        n = bound.n if bound else 0
        if needs is not None and n >= needs:
            criteria.append(Criterion(f"{name}_loss_upper_bound", bound.upper_bound, gate.max_paper_drop, "<="))
            continue
        why = (
            f"the guard needs {needs} to bound its loss at {gate.max_paper_drop:g}"
            if needs is not None
            else f"no number of them bounds its loss at {gate.max_paper_drop:g}"
        )
        unguarded.append(f"{name}: {n} calibration chunks, {why}{UNGUARDED}")
    return criteria, unguarded


def _offload_shortfall(certificate: Certificate, target: float) -> str:
    """Why a certified offload whose point reaches `target` does not pass: its interval's lower
    bound is below, and about how many articles at that share would lift it (Hoeffding)."""
    low, high = certificate.offload_interval
    articles, level = certificate.articles or certificate.n, certificate.delta
    what, dilution, how = MORE[certificate.loss]
    head = (
        f"at the certified threshold {certificate.threshold:g} the student decides {certificate.offload:.0%} of an "
        f"article's chunks on {articles} articles ({low:.0%}–{high:.0%} with {1 - level:.1%} confidence, separately "
        f"stated; not part of the guarantee): the interval's lower bound {low:.1%} is below the {target:.0%} the gate "
        "needs"
    )
    if certificate.offload <= target:
        return f"{head}; at that share no number of articles lifts it"
    need = math.ceil(math.log(2 / level) / (2 * (certificate.offload - target) ** 2))
    more = need - articles
    get = f" (about {more} more articles of {what}: {how.format(n=dilution * more)})" if more > 0 else ""
    return f"{head}; about {need} articles at that share would lift it{get}"


def _certificate_shortfalls(certificates: tuple[Certificate, ...], target: float) -> tuple[list[str], bool]:
    """Why each certificate falls short of `target` offload, with the data that would certify
    it; and whether more data cannot help: every loss's rate there is, with confidence 1 − δ,
    at least ε, random gold included (without it, accuracy loss is untried: label some)."""
    if not certificates:
        return [
            "no certificate: this evaluation has no held-out teacher answers and no random gold to certify on (or was "
            "stored before certificates); get either and evaluate again"
        ], False
    reasons, hopeless = [], True
    for c in certificates:
        what, dilution, how = MORE[c.loss]
        articles = c.articles or c.n
        on = f"on {articles} articles ({c.n} {what})" if c.articles else f"on {c.n} {what}"
        gap = shortfall(c, target)
        if gap is None:
            reasons.append(f"{on} the student never decides {target:.0%} of the chunks at any threshold")
            continue
        supports = (
            f"the sample would support ε ≈ {gap.would_support:.3f} there"
            if gap.would_support < 1
            else "the sample would support no ε below 1 there"
        )
        head = (
            f"{on}, the student would decide {gap.offload:.0%} of chunks at threshold {gap.threshold:g} and lose "
            f"{gap.loss_rate:.3f} of them ({c.loss}; averaged over articles, at least {gap.rate_at_least:.3f} with "
            f"{1 - c.delta:.1%} confidence); {supports} ({NOT_A_CERTIFICATE} at {c.epsilon:g})"
        )
        if gap.hopeless:
            reasons.append(f"{head}; so no amount of {what} certifies it")
            continue
        hopeless = False
        if gap.needed is None:
            reasons.append(
                f"{head}; at that rate no sample would certify it, but on {articles} articles the rate is uncertain: "
                f"more {what} would tell ({how.format(n=dilution * c.n)})"
            )
            continue
        more = gap.needed - articles
        if more <= 0:  # the chunks' rate is low enough, the articles' shares are not: losses crowd into few articles
            reasons.append(
                f"{head}; about {gap.needed} articles at that rate would certify it with 80% power, and the sample has "
                f"{articles}: its losses share articles, or chance went against it; more {what} would tell "
                f"({how.format(n=dilution * c.n)})"
            )
            continue
        reasons.append(
            f"{head}; about {gap.needed} articles at that rate would certify it with 80% power (about {more} more "
            f"articles of {what}: {how.format(n=dilution * more)}; about 1 in {dilution} new ones lands in the "
            f"calibration sample)"
        )
    if not any(c.loss == "accuracy" for c in certificates):
        epsilon, level = certificates[0].epsilon, certificates[0].delta / 2
        least = fewest_articles(epsilon, level)
        _, dilution, how = MORE["accuracy"]
        reasons.append(
            f"no gold sampled at random calibrates accuracy loss, which can certify a student that disagrees with the "
            f"teacher where the teacher is wrong: random gold from at least {least} articles in the calibration sample "
            f"is needed for ε = {epsilon:g} (fewer cannot certify it even with no loss): {how.format(n=dilution * least)}"
        )
        hopeless = False
    return reasons, hopeless


def fewest_articles(epsilon: float, level: float) -> int:
    """The fewest articles that certify ε at `level` when none loses anything (the certificate's
    own e-value, `certify_p`): fewer cannot certify it whatever the student does."""
    high = 1
    while certify_p(np.zeros(high), epsilon) > level:
        high *= 2
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if certify_p(np.zeros(mid), epsilon) > level else (low, mid)
    return high


def _gold_shortfalls(support: dict[str, int], gate: GateSettings, label) -> list[str]:
    """What reported gold is missing, as the labelling to do next (about half of new gold lands
    in the evaluation split, so twice the shortfall is asked for)."""
    short = []
    total = support.get("total", 0)
    if total < gate.min_gold_support:
        need = gate.min_gold_support - total
        short.append(
            f"{total} evaluation gold chunks, {gate.min_gold_support} needed: label about {2 * need} more "
            f"(`{EXPORT_HINT.format(n=2 * need)}`, then `upscway gold import review.csv`)"
        )
    for paper, n in sorted(support.items()):
        if paper != "total" and 0 < n < gate.min_support_per_paper:
            need = gate.min_support_per_paper - n
            name = label(paper)
            short.append(
                f"{name}: {n} evaluation gold chunks, {gate.min_support_per_paper} needed: label about {2 * need} more "
                f"{name} chunks (`upscway gold export --label {name} --n {4 * need} --out review.csv` shows the "
                f"chunks the teacher put in {name})"
            )
    return short


def gate_support(result: PairedResult) -> dict[str, int]:
    """Gold chunks in all and per paper, read off the candidate's confusion matrix (rows: gold)."""
    confusion = result.student.confusion
    return {"total": result.paired.n, **{str(i): sum(confusion[i]) for i in result.paired.papers(len(confusion))}}
