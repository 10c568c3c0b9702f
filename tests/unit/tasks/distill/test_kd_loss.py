import math

import pytest
import torch

from upscway.tasks.distill.kd_loss import kd_loss


def test_matches_a_hand_computed_value():
    # Two labels. Student logits (0, 0) -> p_s(T=2) = (0.5, 0.5); teacher probs (0.8, 0.2).
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.log(torch.tensor([[0.8, 0.2]]))
    t = 2.0
    q = torch.softmax(teacher / t, -1)[0].tolist()  # teacher at T=2: sqrt(0.8), sqrt(0.2) renormalised
    assert q == pytest.approx([math.sqrt(0.8) / (math.sqrt(0.8) + math.sqrt(0.2)), math.sqrt(0.2) / (math.sqrt(0.8) + math.sqrt(0.2))])
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
    assert out.total.item() == pytest.approx(torch.nn.functional.cross_entropy(student, expected_targets).item(), rel=1e-6)


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
