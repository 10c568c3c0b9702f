import math

import pytest
import torch

from upscway.tasks.distill.kd_loss import confidence_weights, kd_loss


def test_matches_a_hand_computed_value():
    # Two labels. Student logits (0, 0) -> p_s(T=2) = (0.5, 0.5); teacher probs (0.8, 0.2).
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.log(torch.tensor([[0.8, 0.2]]))
    t = 2.0
    q = torch.softmax(teacher / t, -1)[0].tolist()  # teacher at T=2: sqrt(0.8), sqrt(0.2) renormalised
    assert q == pytest.approx(
        [math.sqrt(0.8) / (math.sqrt(0.8) + math.sqrt(0.2)), math.sqrt(0.2) / (math.sqrt(0.8) + math.sqrt(0.2))]
    )
    kl = sum(qi * math.log(qi / 0.5) for qi in q)
    ce = -math.log(0.5)  # y = teacher argmax = 0, student p = 0.5
    out = kd_loss(student, teacher, temperature=t, alpha=0.5)
    assert out.kd.item() == pytest.approx(t * t * kl, rel=1e-5)
    assert out.ce.item() == pytest.approx(ce, rel=1e-5)
    assert out.total.item() == pytest.approx(0.5 * t * t * kl + 0.5 * ce, rel=1e-5)


def test_alpha_zero_is_plain_cross_entropy_on_gold_else_teacher_argmax():
    torch.manual_seed(0)
    student, teacher = torch.randn(4, 5), torch.log_softmax(torch.randn(4, 5), -1)
    gold = torch.tensor([2, -1, 4, -1])
    expected_targets = torch.where(gold >= 0, gold, teacher.argmax(-1))
    out = kd_loss(student, teacher, gold, alpha=0.0)
    assert out.total.item() == pytest.approx(
        torch.nn.functional.cross_entropy(student, expected_targets).item(), rel=1e-6
    )


def test_alpha_one_is_pure_kd_and_zero_when_distributions_match():
    teacher = torch.log_softmax(torch.tensor([[2.0, 0.5, -1.0, 0.0, 0.3]]), -1)
    same = kd_loss(teacher.clone(), teacher, alpha=1.0)
    assert same.total.item() == pytest.approx(0.0, abs=1e-6)
    other = kd_loss(torch.zeros(1, 5), teacher, alpha=1.0)
    assert other.total.item() == pytest.approx(other.kd.item()) and other.total.item() > 0


def test_gradients_flow_to_the_student_only():
    student = torch.randn(3, 5, requires_grad=True)
    teacher = torch.log_softmax(torch.randn(3, 5), -1).requires_grad_(True)
    kd_loss(student, teacher).total.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"temperature": 0}])
def test_bad_hyperparameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        kd_loss(torch.zeros(1, 5), torch.zeros(1, 5), **kwargs)


def test_weights_make_a_weighted_mean_and_none_or_equal_weights_change_nothing():
    torch.manual_seed(1)
    student, teacher = torch.randn(6, 5), torch.log_softmax(torch.randn(6, 5) * 3, -1)
    plain = kd_loss(student, teacher, temperature=2.0, alpha=0.5)
    assert kd_loss(
        student, teacher, temperature=2.0, alpha=0.5, weights=torch.full((6,), 0.3)
    ).total.item() == pytest.approx(plain.total.item(), rel=1e-6)
    # An example of weight 0 does not count: the loss is that of the other examples alone.
    weights = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    kept = weights.bool()
    assert kd_loss(student, teacher, temperature=2.0, alpha=0.5, weights=weights).total.item() == pytest.approx(
        kd_loss(student[kept], teacher[kept], temperature=2.0, alpha=0.5).total.item(), rel=1e-6
    )
    # The logged terms stay the unweighted means.
    assert kd_loss(student, teacher, weights=weights).kd.item() == pytest.approx(plain.kd.item(), rel=1e-6)


def test_confidence_weights_from_the_top_probability_or_the_entropy():
    sure = torch.log(torch.tensor([1.0 - 4e-6, 1e-6, 1e-6, 1e-6, 1e-6]))
    unsure = torch.log(torch.full((5,), 0.2))
    teacher = torch.stack([sure, unsure])
    assert confidence_weights(teacher, "off") is None
    assert confidence_weights(teacher, "top_probability").tolist() == pytest.approx([1.0, 0.2], abs=1e-4)
    assert confidence_weights(teacher, "entropy").tolist() == pytest.approx([1.0, 0.0], abs=1e-3)
    with pytest.raises(ValueError, match="confidence weighting"):
        confidence_weights(teacher, "margin")


def test_gatekeeper_lowers_the_confidence_of_wrong_answers_only():
    """Gatekeeper's term adds to the loss of the examples the student gets wrong (not of those
    it gets right), and a step on it makes the wrong answer less confident."""
    teacher = torch.log(torch.tensor([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05]]))
    student = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0]], requires_grad=True)  # right, then wrong
    plain = kd_loss(student, teacher, alpha=0.5, weights=torch.ones(2))
    gated = kd_loss(student, teacher, alpha=0.5, weights=torch.ones(2), gatekeeper=1.0)
    uniform_kl = -torch.log_softmax(student[1].detach(), -1).mean() - math.log(3)
    assert gated.total.item() == pytest.approx(plain.total.item() + uniform_kl.item() / 2)
    term = gated.total - plain.total
    term.backward()
    assert torch.count_nonzero(student.grad[0]) == 0  # the right answer is left alone
    stepped = student.detach() - student.grad
    assert torch.softmax(stepped[1], -1).max() < torch.softmax(student[1].detach(), -1).max()
    with pytest.raises(ValueError, match="gatekeeper"):
        kd_loss(student, teacher, gatekeeper=-1.0)
