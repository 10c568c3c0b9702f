"""A LoRA student on a tiny Qwen2: the KD loss is the one used under PEFT, it falls, and the
merged weights score exactly like the adapter."""

from pathlib import Path

import pytest
import torch
from transformers import TrainingArguments

from tests.support.tiny_lm import build_tiny_lm
from upscway.settings import LoraSettings
from upscway.tasks.annotate.local_teacher import CausalLMTeacher
from upscway.tasks.distill.causal_lm import (
    CausalLMKDTrainer,
    label_token_ids,
    load_causal_student,
    merge_adapter,
    prompt_renderer,
)
from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.trainer import ExampleDataset, KDCollator
from upscway.taxonomy import load_task

# A short prompt: with the full syllabus a tiny byte-level model sees 1,500 prompt tokens per
# chunk and learns nothing in a test's budget of steps.
TASK = load_task(Path(__file__).parents[3] / "support" / "tasks" / "short_gs.yaml")
TEXTS = [
    "The Supreme Court ruled on the Governor's assent to Bills.",
    "India won the T20 cricket match in Chennai.",
    "The RBI raised the repo rate to curb inflation.",
    "Harappan pottery was found at a site in Kutch.",
    "An officer refused a bribe and reported the contractor.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("base"))


def examples():
    out = []
    for i, text in enumerate(TEXTS * 4):
        probs = torch.full((5,), 0.04)
        probs[i % 5] = 0.84
        out.append(Example(f"c{i}", f"a{i}", f"{text} ({i})", tuple(torch.log(probs).tolist()), -1))
    return out


def test_lora_student_trains_with_the_kd_loss_and_merges(tiny, tmp_path):
    torch.manual_seed(0)
    model, tokenizer = load_causal_student(
        tiny, LoraSettings(rank=16, alpha=32, dropout=0.0)
    )  # all seven Qwen2 projections
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)

    data = ExampleDataset(examples(), tokenizer, max_length=None, render=prompt_renderer(TASK, tokenizer))
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        per_device_train_batch_size=5,
        num_train_epochs=30,
        learning_rate=1e-2,
        lr_scheduler_type="constant",
        logging_steps=5,
        save_strategy="no",
        report_to=[],
        remove_unused_columns=False,
        use_cpu=True,
        seed=0,
    )
    trainer = CausalLMKDTrainer(
        model=model,
        args=args,
        train_dataset=data,
        data_collator=KDCollator(tokenizer),
        label_token_ids=label_token_ids(TASK, tokenizer),
        temperature=2.0,
        alpha=0.5,
    )
    trainer.train()

    assert trainer.loss_calls == len(trainer.loss_history) > 0  # PEFT did not bypass compute_loss
    first = sum(h["kd"] for h in trainer.loss_history[:4])
    last = sum(h["kd"] for h in trainer.loss_history[-4:])
    assert last < 0.75 * first  # a 2-layer, 32-wide model learns slowly; the encoder test shows more

    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    assert (adapter / "adapter_config.json").exists()
    merged = merge_adapter(tiny, adapter, tmp_path / "merged")
    assert (merged / "config.json").exists() and not (merged / "adapter_config.json").exists()

    model.eval()
    via_adapter = CausalLMTeacher(TASK, adapter, model=model, tokenizer=tokenizer).annotate(TEXTS)
    via_merged = CausalLMTeacher(TASK, merged).annotate(TEXTS)
    for a, b in zip(via_adapter, via_merged):
        assert a.probs == pytest.approx(b.probs, abs=1e-4)
