"""Knowledge-distillation loss over a task's label distribution.

    loss = alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y)

per chunk, averaged over the batch (a weighted mean when the examples carry weights: see
`confidence_weights`). `z_t` are the teacher's label log-probabilities as stored
(raw, T = 1: vLLM reports log-probabilities before any sampling temperature), so the
temperature is applied here; `y` is the gold label where one exists, else the teacher's argmax.
The T^2 factor keeps the soft term's gradients on the same scale as the hard term's when T
changes (Hinton et al., 2015). Both terms are returned so they can be logged separately: when
their scales differ by orders of magnitude one of them silently does nothing.

With `gatekeeper` g > 0 (Gatekeeper, Rabanser et al., arXiv 2502.19335), each example the
student currently gets wrong (its argmax is not `y`) adds g · KL(uniform || softmax(z_s)):
its confidence is pushed down where it disagrees, so a cascade's confident subset holds fewer of
its mistakes and a certificate at a small ε lets it decide more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class KDLoss:
    total: torch.Tensor
    kd: torch.Tensor
    ce: torch.Tensor


def confidence_weights(teacher_logprobs: torch.Tensor, weighting: str) -> torch.Tensor | None:
    """Per-example weights in [0, 1] from the teacher's own distribution (at T = 1): its top
    probability, or 1 − H(p) / log K (1 for a one-hot answer, 0 for a uniform one); None when
    `weighting` is "off". A chunk the teacher was unsure of then teaches the student less."""
    if weighting == "off":
        return None
    probs = torch.softmax(teacher_logprobs.detach().float(), dim=-1)
    if weighting == "top_probability":
        return probs.max(dim=-1).values
    if weighting == "entropy":
        entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(dim=-1)
        return 1.0 - entropy / math.log(probs.shape[-1])
    raise ValueError(f"confidence weighting must be off, top_probability or entropy, got {weighting!r}")


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logprobs: torch.Tensor,
    hard_labels: torch.Tensor | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
    weights: torch.Tensor | None = None,
    gatekeeper: float = 0.0,
) -> KDLoss:
    """`student_logits`, `teacher_logprobs`: (batch, labels); `hard_labels`: (batch,) with -1
    where no gold label exists (the teacher's argmax is used there); `weights`: (batch,) or
    None (every example counts the same); `gatekeeper`: the weight of the low-confidence term on
    the examples the student gets wrong. The returned `kd` and `ce` are unweighted means."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if gatekeeper < 0:
        raise ValueError(f"gatekeeper must be ≥ 0, got {gatekeeper}")
    teacher_logprobs = teacher_logprobs.detach().to(student_logits.dtype)  # a fixed target
    targets = teacher_logprobs.argmax(dim=-1)
    if hard_labels is not None:
        targets = torch.where(hard_labels >= 0, hard_labels, targets)
    student_t = F.log_softmax(student_logits / temperature, dim=-1)
    teacher_t = F.log_softmax(teacher_logprobs / temperature, dim=-1)
    kd = F.kl_div(student_t, teacher_t, log_target=True, reduction="none").sum(dim=-1) * temperature**2
    ce = F.cross_entropy(student_logits, targets, reduction="none")
    per_example = alpha * kd + (1 - alpha) * ce
    if gatekeeper:
        wrong = (student_logits.argmax(dim=-1) != targets).to(per_example.dtype)
        to_uniform = -F.log_softmax(student_logits, dim=-1).mean(dim=-1) - math.log(student_logits.shape[-1])
        per_example = per_example + gatekeeper * wrong * to_uniform
    if weights is None:
        total = per_example.mean()
    else:
        weights = weights.to(per_example.dtype)
        total = (weights * per_example).sum() / weights.sum().clamp_min(1e-12)
    return KDLoss(total, kd.mean().detach(), ce.mean().detach())
