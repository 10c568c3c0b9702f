"""A pruned MiniLM student trained with the KD loss: the loss falls and agreement rises; its INT8
variant scores within a tolerance of it."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import TrainingArguments

from upscway.resources import DEPLOYMENTS_DIR
from upscway.tasks.annotate.encoder_teacher import QUANTIZED_WEIGHTS, EncoderTeacher
from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.encoder import load_encoder_student, prune_layers
from upscway.tasks.distill.quantize import folder_size_mb, parameter_count, write_int8
from upscway.tasks.distill.trainer import ExampleDataset, KDCollator, KDTrainer, TrainingReport
from upscway.tasks.gold.sheets import read_csv
from upscway.taxonomy import load_task

TASK = load_task()


def _examples(n_per_label=8):
    """A small learnable set: the teacher is confident in each paragraph's label."""
    rows = read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")
    picked = []
    for name in TASK.names:
        picked += [r for r in rows if r.gold_label == name][:n_per_label]
    out = []
    for i, row in enumerate(picked):
        probs = torch.full((5,), 0.05)
        probs[TASK.index(row.gold_label)] = 0.8
        out.append(Example(f"c{i}", f"a{i}", row.text, tuple(torch.log(probs).tolist()), -1))
    return out


@torch.inference_mode()
def agreement(model, tokenizer, examples):
    enc = tokenizer([e.text for e in examples], padding=True, truncation=True, max_length=96, return_tensors="pt")
    predicted = model(**enc).logits.argmax(-1).tolist()
    return sum(p == max(range(5), key=e.teacher_logprobs.__getitem__) for p, e in zip(predicted, examples)) / len(
        examples
    )


def test_pruning_keeps_the_first_layers(capfd):
    model, _ = load_encoder_student(keep_layers=2)
    assert "LOAD REPORT" not in capfd.readouterr().err  # the new head is expected, not news
    assert len(model.base_model.encoder.layer) == 2 and model.config.num_hidden_layers == 2
    with pytest.raises(ValueError):
        prune_layers(model, 3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 1-layer student trained with the KD loss on a small learnable set, once for the tests
    below: what it said while training, and its agreement with the teacher before."""
    torch.manual_seed(0)
    model, tokenizer = load_encoder_student(keep_layers=1)
    examples = _examples()
    before = agreement(model.eval(), tokenizer, examples)
    args = TrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("kd")),
        per_device_train_batch_size=8,
        num_train_epochs=15,
        learning_rate=5e-4,
        logging_steps=5,
        save_strategy="no",
        report_to=[],
        remove_unused_columns=False,
        use_cpu=True,
        seed=0,
    )
    said, steps = [], []
    trainer = KDTrainer(
        model=model,
        args=args,
        train_dataset=ExampleDataset(examples, tokenizer, max_length=96),
        data_collator=KDCollator(tokenizer),
        temperature=2.0,
        alpha=0.5,
        callbacks=[TrainingReport("tiny", said.append, lambda done, total: steps.append((done, total)))],
    )
    trainer.train()
    return SimpleNamespace(
        model=model, tokenizer=tokenizer, examples=examples, before=before, said=said, steps=steps, trainer=trainer
    )


def test_kd_training_lowers_the_loss_and_raises_agreement(trained):
    model, tokenizer, examples, before, said, steps, trainer = (
        trained.model,
        trained.tokenizer,
        trained.examples,
        trained.before,
        trained.said,
        trained.steps,
        trained.trainer,
    )
    history = trainer.loss_history
    assert trainer.loss_calls == len(history) > 0  # our loss, not the model's own, was used
    first, last = history[:5], history[-5:]
    assert sum(h["kd"] for h in last) < 0.5 * sum(h["kd"] for h in first)
    after = agreement(model.eval(), tokenizer, examples)
    assert after > before and after >= 0.8

    # Progress in words: a sentence per log entry with the mean KD and CE terms since the last.
    total = trainer.state.max_steps
    assert steps == [(i, total) for i in range(1, total + 1)]
    assert said[0] == f"training tiny: {total} steps of 8 examples"
    progress = [line for line in said if line.startswith("tiny step ")]
    assert len(progress) == total // 5 and progress[0].startswith(f"tiny step 5/{total} (epoch ")
    assert "KD loss" in progress[0] and "CE loss" in progress[0] and progress[0].endswith("samples/s")
    logged = [entry for entry in trainer.state.log_history if "kd_loss" in entry]
    assert logged[0]["kd_loss"] == pytest.approx(sum(h["kd"] for h in history[:5]) / 5)
    assert said[-1].startswith(f"trained tiny: {total} steps in ")


def test_an_int8_student_scores_fixed_inputs_within_a_tolerance_of_its_float_parent(trained, tmp_path):
    parent = tmp_path / "parent"
    trained.model.save_pretrained(parent)
    trained.tokenizer.save_pretrained(parent)
    int8 = write_int8(parent, tmp_path / "int8")
    assert (int8 / QUANTIZED_WEIGHTS).exists() and not (tmp_path / "int8.partial").exists()

    texts = [e.text for e in trained.examples]
    floating = EncoderTeacher(TASK, parent, "float")
    float_probs = np.asarray([a.probs for a in floating.annotate(texts)])
    quantized = EncoderTeacher(TASK, int8, "int8")
    int8_probs = np.asarray([a.probs for a in quantized.annotate(texts)])
    assert len(set(float_probs.argmax(axis=1))) == 5  # it says every label: agreement means something
    assert np.abs(int8_probs - float_probs).max() < 0.1 and np.abs(int8_probs - float_probs).mean() < 0.02
    assert (int8_probs.argmax(axis=1) == float_probs.argmax(axis=1)).mean() >= 0.95
    # The same network, its linear weights and embedding tables in a quarter of the bytes.
    assert parameter_count(quantized.model) == parameter_count(floating.model)
    assert folder_size_mb(int8) < 0.6 * folder_size_mb(parent)
