"""The promotion gate: a student replaces teacher calls only on a certificate.

A decision is `promote` only when the cascade's threshold is certified (`tasks/
certificate.py`: with probability 1 − δ the cascade loses at most ε accuracy against the
teacher, on data no model trained on) and every criterion passes:
- the certified threshold lets the student decide at least `min_cascade_offload` of the chunks,
  or it replaces nothing;
- the seed report's success criteria (relevance accuracy, precision, recall, GS-paper accuracy)
  on the cascade at that threshold, on the reported gold (chunks the certificate did not see);
- a per-paper guard: for each GS paper with at least `min_support_per_paper` calibration chunks,
  the Clopper–Pearson upper bound of the share of them the cascade loses must be at most
  `max_paper_drop` (an overall pass can hide one paper collapsing).
Below the minimum reported gold it is `insufficient-data`, whatever the metrics say; so it is
when the certificate falls short only for want of data, and the reasons then say how many more
held-out teacher answers or random gold would certify it (exact binomial arithmetic), and the
command that gets them. A metric that could not be computed (None) fails its criterion.
The student alone's figures, intervals and McNemar test are in the report, not in the gate.
"""

from __future__ import annotations

from upscway.results import Certificate, Criterion, Decision, PairedResult, Verdict
from upscway.settings import GateSettings
from upscway.tasks.cascade.certificate import samples_needed, shortfall

EXPORT_HINT = "upscway gold export --strategy random --n {n} --out review.csv"
MORE = {  # how the sample of each loss grows, and what share of new chunks lands in it (evaluation split; and calibration half)
    "consistency": (
        "held-out teacher answers",
        2,
        "ingest more news and let the teacher answer all of it before a cascade tags "
        "it (`upscway run backfill --since DATE`, then `upscway run annotate`)",
    ),
    "accuracy": ("random gold labels", 4, f"`{EXPORT_HINT}`, label, then `upscway gold import review.csv`"),
}


def decide(result: PairedResult, gate: GateSettings) -> Decision:
    """Judge an evaluation by its cascade's certificate and the cascade's figures there."""
    cascade, chosen = result.cascade, result.chosen
    certificate = cascade.certificate if cascade else None
    sentence = cascade.sentence() if cascade else "Not certified: this evaluation has no cascade; evaluate again."
    certified = certificate is not None and certificate.threshold is not None
    deployed = chosen.scores if chosen and certified else None
    at = f"_at_{certificate.threshold:g}" if certified else ""
    criteria = [
        Criterion(
            f"certified_offload{at}",
            certificate.offload if certificate else None,
            gate.min_cascade_offload,
            ">=",
            certificate.offload_interval if certified else None,
        ),
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
    if certified:
        criteria += [
            Criterion(f"{result.label(paper)}_loss_upper_bound", bound.upper_bound, gate.max_paper_drop, "<=")
            for paper, bound in sorted(certificate.per_paper.items())
            if bound.n >= max(gate.min_support_per_paper, 1)
        ]
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
            return Decision(Verdict.INSUFFICIENT_DATA, reasons=tuple(short + found), **made)
        return Decision(Verdict.REJECT, reasons=tuple(found), **made)
    if short:
        return Decision(Verdict.INSUFFICIENT_DATA, reasons=tuple(short), **made)
    failed = tuple(
        f"{c.name} = {_fmt(c.value)} (needs {c.comparison} {c.threshold:g})" for c in criteria if not c.passed
    )
    return Decision(Verdict.REJECT if failed else Verdict.PROMOTE, reasons=failed, **made)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


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
        gap = shortfall(c, target)
        if gap is None:
            reasons.append(f"on {c.n} {what} the student never decides {target:.0%} of the chunks at any threshold")
            continue
        head = (
            f"on {c.n} {what}, the student would decide {gap.offload:.0%} of chunks at threshold {gap.threshold:g} and lose "
            f"{gap.loss_rate:.3f} of them ({c.loss}; at least {gap.rate_at_least:.3f} with {1 - c.delta:.1%} confidence); "
            f"this sample certifies at most {gap.epsilon_now:.3f} there, not ε = {c.epsilon:g}"
        )
        if gap.hopeless:
            reasons.append(f"{head}; so no amount of {what} certifies it")
            continue
        hopeless = False
        if gap.needed is None:
            reasons.append(
                f"{head}; at that rate no sample would, but on {c.n} chunks the rate is uncertain: more {what} "
                f"would tell ({how.format(n=dilution * c.n)})"
            )
            continue
        more = gap.needed - c.n
        reasons.append(
            f"{head}; {gap.needed} {what} at that rate would (about {more} more: {how.format(n=dilution * more)}; "
            f"about 1 in {dilution} new ones lands in the calibration sample)"
        )
    if not any(c.loss == "accuracy" for c in certificates):
        epsilon, delta = certificates[0].epsilon, certificates[0].delta / 2
        least = samples_needed(0.0, epsilon, delta)
        _, dilution, how = MORE["accuracy"]
        reasons.append(
            f"no gold sampled at random calibrates accuracy loss, which can certify a student that disagrees with the "
            f"teacher where the teacher is wrong: at least {least} random gold in the calibration sample are needed "
            f"for ε = {epsilon:g} (fewer cannot certify it even with no loss): {how.format(n=dilution * least)}"
        )
        hopeless = False
    return reasons, hopeless


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
