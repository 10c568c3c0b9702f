"""One arm of a study, run as a Dask worker runs it: a LoRA causal-LM student (the tiny Qwen2)
trained, merged and scored on gold; the same job again reuses it."""

import numpy as np

from tests.support.tiny_lm import build_tiny_lm
from tests.unit.tasks.distill.test_encoder import _examples
from upscway.settings import TrainingSettings
from upscway.tasks.distill.train import write_examples
from upscway.tasks.study.arms import ArmJob, arm_key, label_metrics, run_arm
from upscway.tasks.study.spec import ArmSettings, StudentSpec
from upscway.taxonomy import load_task

TASK = load_task()


def test_a_causal_lm_arm_trains_with_lora_scores_the_gold_and_is_reused(tmp_path):
    base = build_tiny_lm(tmp_path / "tiny")
    examples = _examples(n_per_label=4)
    write_examples(tmp_path / "train.jsonl", examples[:16])
    write_examples(tmp_path / "validation.jsonl", examples[16:])
    settings = ArmSettings(student=StudentSpec(base=str(base), kind="causal-lm", tuning="lora"))
    training = TrainingSettings(epochs=1, batch_size=8, save_steps=1000)
    key = arm_key(settings, 0, training, None, "data", str(base))
    gold = [max(range(5), key=e.teacher_logprobs.__getitem__) for e in examples]
    job = ArmJob(
        arm="tiny",
        settings=settings,
        seed=0,
        key=key,
        student=str(base),
        out_dir=str(tmp_path / "arms" / key),
        train_file=str(tmp_path / "train.jsonl"),
        validation_file=str(tmp_path / "validation.jsonl"),
        max_train_examples=None,
        training=training,
        task=TASK,
        gold_texts=[e.text for e in examples],
        gold=gold,
        teacher_predictions=gold,
    )

    first = run_arm(job, say=lambda line: None)
    assert first.trained and (tmp_path / "arms" / key / "adapter_config.json").exists()
    assert first.metrics["train_examples"] == 16 and len(first.predictions) == len(examples)
    assert 0 <= first.metrics["accuracy"] <= 1 and first.metrics["parameters"] > 0 and first.metrics["chunks_per_s"] > 0
    again = run_arm(job, say=lambda line: None)
    assert not again.trained and again.predictions == first.predictions
    # Another seed is another key: it would train its own student.
    assert arm_key(settings, 1, training, None, "data", str(base)) != key


def test_label_metrics_are_scikit_learns_on_the_argmax():
    probs = np.eye(5)[[0, 1, 2, 2, 4]].tolist()
    m = label_metrics(probs, gold=[0, 1, 2, 3, 4], teacher=[0, 1, 2, 2, 3], n_labels=5)
    assert m["accuracy"] == 0.8 and m["agreement"] == 0.8
    assert m["f1_per_label"] == [1.0, 1.0, 2 / 3, 0.0, 1.0] and abs(m["macro_f1"] - (3 + 2 / 3) / 5) < 1e-9
