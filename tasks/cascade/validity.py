"""Whether a stored certificate still answers the settings: the cascade's side of promotion.

A certificate holds for the ε and δ it was computed at; when the settings ask for others, or
the evaluation predates certificates, the candidate is evaluated (and certified) again before
the gate decides. Promotion itself (the gate, the alias move) is `tasks/promotion.py`.
"""

from __future__ import annotations

from upscway.settings import CascadeSettings
from upscway.storage.evaluations import Evaluation
from upscway.tasks.cascade.policy import Guarantee


def needs_evaluation(evaluation: Evaluation | None, cascade: CascadeSettings) -> str | None:
    """Why the model must be evaluated (again) before the gate can decide, or None: no
    evaluation yet; one stored before certificates; or one certified at another ε or δ than
    the settings now ask for (a certificate holds for the ε and δ it was computed at). One that
    had nothing to certify on stands: evaluating again finds nothing more."""
    if evaluation is None:
        return "not evaluated yet"
    stored, wanted = evaluation.result.cascade, Guarantee.of(cascade)
    if stored is None or stored.confidence is None:
        return "its latest evaluation was stored before certificates"
    level = 1 - stored.confidence
    if (
        stored.certificate is not None
        and stored.certificate.epsilon != wanted.epsilon
        or abs(level - wanted.delta) > 1e-9
    ):
        epsilon = stored.certificate.epsilon if stored.certificate else wanted.epsilon
        return (
            f"its latest evaluation was certified at ε = {epsilon:g}, δ = {level:g}; the settings ask for "
            f"ε = {wanted.epsilon:g}, δ = {wanted.delta:g}"
        )
    return None
