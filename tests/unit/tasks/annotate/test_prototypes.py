"""The prototype head: built from the packaged MiniLM it is the embedding teacher (the same
distribution on every text), it saves and loads like any encoder student (float and INT8), and
training moves both its encoder and its phrase vectors; with no epochs it is registered as built."""

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from tests.support.teacher_examples import TASK, encoder_config, gold_texts, write_teacher_examples
from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher
from upscway.tasks.annotate.encoder_teacher import EncoderTeacher
from upscway.tasks.annotate.prototypes import PrototypeClassifier
from upscway.tasks.distill.chains import Stage
from upscway.tasks.distill.encoder import load_encoder_student
from upscway.tasks.distill.quantize import write_int8
from upscway.tasks.distill.train import TrainConfig, train


@pytest.fixture(scope="module")
def student():
    return load_encoder_student(head="prototype", task=TASK)


def test_an_untrained_prototype_student_is_the_embedding_teacher(student, tmp_path):
    texts = gold_texts()
    model, tokenizer = student
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert isinstance(AutoModelForSequenceClassification.from_pretrained(str(tmp_path)), PrototypeClassifier)
    expected = EmbeddingTeacher(TASK).annotate(texts)
    scored = EncoderTeacher(TASK, tmp_path, annotator_id="model:x").annotate(texts)
    for want, got in zip(expected, scored):
        assert got.probs == pytest.approx(want.probs, abs=1e-5)
    assert len({max(range(5), key=a.probs.__getitem__) for a in scored}) > 1  # not one label for all


def test_a_prototype_student_quantizes_and_keeps_its_answers(student, tmp_path):
    texts = gold_texts(20)
    model, tokenizer = student
    (tmp_path / "float").mkdir()
    model.save_pretrained(tmp_path / "float")
    tokenizer.save_pretrained(tmp_path / "float")
    write_int8(tmp_path / "float", tmp_path / "int8")
    floats = EncoderTeacher(TASK, tmp_path / "float", annotator_id="model:f").annotate(texts)
    int8 = EncoderTeacher(TASK, tmp_path / "int8", annotator_id="model:q").annotate(texts)
    same = sum(
        max(range(5), key=a.probs.__getitem__) == max(range(5), key=b.probs.__getitem__) for a, b in zip(floats, int8)
    )
    assert same >= 0.8 * len(texts)


def test_training_moves_the_encoder_and_the_phrase_vectors():
    model, tokenizer = load_encoder_student(head="prototype", task=TASK, keep_layers=1)
    assert len(model.bert.encoder.layer) == 1
    before = model.prototypes.detach().clone(), model.bert.embeddings.word_embeddings.weight.detach().clone()
    batch = tokenizer(gold_texts(8), padding=True, truncation=True, max_length=64, return_tensors="pt")
    loss = torch.nn.functional.cross_entropy(model(**batch).logits, torch.zeros(8, dtype=torch.long))
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(model.prototypes, before[0])
    assert not torch.equal(model.bert.embeddings.word_embeddings.weight, before[1])


def test_a_prototype_head_is_an_encoders():
    with pytest.raises(ValueError, match="encoder's"):
        Stage(name="s", kind="causal-lm", student="x", head="prototype", teacher={"annotations": "a"})
    with pytest.raises(ValueError, match="task"):
        load_encoder_student(head="prototype")


def test_zero_epochs_register_the_student_as_built_and_calibrated(tmp_path):
    write_teacher_examples(tmp_path, 60, train=40)
    config = encoder_config(tmp_path, "prototype")
    metrics = train(config, say=lambda _: None)
    assert metrics["steps"] == 0 and metrics["train_loss"] is None
    assert metrics["validation_agreement_with_teacher"] == 1.0
    assert metrics["temperature"] < 1.0  # it agrees everywhere: calibration makes it surer, not less sure
    assert isinstance(AutoModelForSequenceClassification.from_pretrained(config.out_dir), PrototypeClassifier)


def test_a_warm_start_begins_from_the_given_students_weights(tmp_path):
    """With `warm_start`, training starts from that folder's weights, not the base's: with no
    epochs the new student is the old one, moved prototypes and all."""
    write_teacher_examples(tmp_path, 20, train=10)
    model, tokenizer = load_encoder_student(head="prototype", task=TASK, keep_layers=1)
    with torch.no_grad():
        model.prototypes.mul_(-1.0)  # weights no base model has
    model.save_pretrained(tmp_path / "production")
    tokenizer.save_pretrained(tmp_path / "production")

    def config(out: str, warm: str | None) -> TrainConfig:
        return encoder_config(tmp_path, "prototype", out=out, keep_layers=1, warm_start=warm)

    train(config("warm", str(tmp_path / "production")), say=lambda _: None)
    train(config("cold", None), say=lambda _: None)
    warm = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "warm"))
    cold = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "cold"))
    assert torch.equal(warm.prototypes, model.prototypes)
    assert torch.equal(cold.prototypes, -model.prototypes)
