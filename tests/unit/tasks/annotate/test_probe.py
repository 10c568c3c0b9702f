"""The probe head: fitted with its encoder frozen, it learns its teacher's answers (the loss
falls, it agrees with the teacher on most of what it was fitted on and better than the commonest
label on held-out texts), it is calibrated, and it saves and scores like any encoder student."""

from collections import Counter

import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForSequenceClassification

from tests.support.teacher_examples import TASK, encoder_config, write_teacher_examples
from upscway.tasks.annotate.embedding_teacher import packaged_minilm
from upscway.tasks.annotate.encoder_teacher import EncoderTeacher
from upscway.tasks.annotate.probe import ProbeClassifier
from upscway.tasks.distill.train import TrainConfig, read_examples, train


def _config(tmp_path, epochs: float = 1) -> TrainConfig:
    return encoder_config(tmp_path, "probe", epochs)


def _argmax(probs) -> int:
    return max(range(len(probs)), key=probs.__getitem__)


def test_a_fitted_probe_learns_its_teacher_with_the_encoder_untouched(tmp_path):
    write_teacher_examples(tmp_path, 90, train=60)
    config = _config(tmp_path)
    metrics = train(config, say=lambda _: None)

    assert metrics["head"] == "probe" and metrics["train_examples"] == 60
    assert metrics["probe_iterations"] > 0
    assert metrics["probe_loss_after"] < 0.5 * metrics["probe_loss_before"]
    assert "temperature" in metrics and len(metrics["validation_confidences"]) == 30
    validation = read_examples(config.validation_file)
    commonest = Counter(_argmax(e.teacher_logprobs) for e in validation).most_common(1)[0][1] / len(validation)
    assert metrics["validation_agreement_with_teacher"] > commonest

    saved = AutoModelForSequenceClassification.from_pretrained(config.out_dir)
    assert isinstance(saved, ProbeClassifier)
    base = AutoModel.from_pretrained(str(packaged_minilm())).state_dict()
    weights = load_file(f"{config.out_dir}/model.safetensors")
    assert all(torch.equal(weights[f"bert.{name}"], value) for name, value in base.items() if f"bert.{name}" in weights)
    assert sum(f"bert.{name}" in weights for name in base) >= len(base) - 2  # all but the [CLS] pooler

    fitted = read_examples(config.train_file)
    scored = EncoderTeacher(TASK, config.out_dir, annotator_id="model:probe").annotate([e.text for e in fitted])
    agree = sum(_argmax(a.probs) == _argmax(e.teacher_logprobs) for a, e in zip(scored, fitted))
    assert agree >= 0.9 * len(fitted)


def test_no_epochs_leave_the_probe_unfitted(tmp_path):
    """With `epochs: 0` nothing is fitted: the layer stays at zero, every label equally likely."""
    write_teacher_examples(tmp_path, 20, train=10)
    metrics = train(_config(tmp_path, epochs=0), say=lambda _: None)
    assert metrics["steps"] == 0 and "probe_iterations" not in metrics
    saved = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "student"))
    assert not saved.classifier.weight.any() and not saved.classifier.bias.any()
