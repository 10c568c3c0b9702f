"""An INT8 student scores within a tolerance of its float parent, and weighs less."""

import numpy as np
import torch
from transformers import TrainingArguments

from tests.unit.tasks.distill.test_encoder import _examples
from upscway.tasks.annotate.encoder_teacher import QUANTIZED_WEIGHTS, EncoderTeacher
from upscway.tasks.annotate.taxonomy import load_task
from upscway.tasks.distill.encoder import load_encoder_student
from upscway.tasks.distill.quantize import folder_size_mb, parameter_count, write_int8
from upscway.tasks.distill.trainer import ExampleDataset, KDCollator, KDTrainer

TASK = load_task()


def _trained_student(folder, examples):
    """A 1-layer student that tells the labels apart (an untrained head says the same of every
    text, which would make agreement vacuous)."""
    torch.manual_seed(0)
    model, tokenizer = load_encoder_student(keep_layers=1)
    args = TrainingArguments(output_dir=str(folder / "run"), per_device_train_batch_size=8, num_train_epochs=12, learning_rate=5e-4,
                             save_strategy="no", report_to=[], remove_unused_columns=False, use_cpu=True, seed=0, disable_tqdm=True)
    KDTrainer(model=model, args=args, train_dataset=ExampleDataset(examples, tokenizer, max_length=96), data_collator=KDCollator(tokenizer)).train()
    model.save_pretrained(folder / "parent")
    tokenizer.save_pretrained(folder / "parent")
    return folder / "parent"


def test_an_int8_student_scores_fixed_inputs_within_a_tolerance_of_its_parent(tmp_path):
    examples = _examples()
    parent = _trained_student(tmp_path, examples)
    int8 = write_int8(parent, tmp_path / "int8")
    assert (int8 / QUANTIZED_WEIGHTS).exists() and not (tmp_path / "int8.partial").exists()

    texts = [e.text for e in examples]
    float_probs = np.asarray([a.probs for a in EncoderTeacher(TASK, parent, "float").annotate(texts)])
    quantized = EncoderTeacher(TASK, int8, "int8")
    int8_probs = np.asarray([a.probs for a in quantized.annotate(texts)])
    assert len(set(float_probs.argmax(axis=1))) == 5  # it says every label: agreement means something
    assert np.abs(int8_probs - float_probs).max() < 0.1 and np.abs(int8_probs - float_probs).mean() < 0.02
    assert (int8_probs.argmax(axis=1) == float_probs.argmax(axis=1)).mean() >= 0.95
    # The same network, its linear weights in a quarter of the bytes.
    assert parameter_count(quantized.model) == parameter_count(EncoderTeacher(TASK, parent, "float").model)
    assert folder_size_mb(int8) < 0.6 * folder_size_mb(parent)
