"""Causal-LM students: Qwen2.5 (or any chat model) with a LoRA adapter, scored on one token.

The chunk goes through the task's prompt and the model's chat template; batches are
left-padded so the answer position is the last one, and the student's label logits are the
LM head's logits there restricted to the verbalizer token ids: no generation, ever. Training
saves a PEFT adapter; `merge_adapter` writes full weights (base + adapter) that vLLM serves.
"""

from __future__ import annotations

from pathlib import Path

from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from upscway.settings import LoraSettings
from upscway.tasks.annotate.local_teacher import verbalizer_token_ids
from upscway.tasks.distill.trainer import KDTrainer
from upscway.taxonomy import TaskDefinition


def load_causal_student(base: str | Path, lora: LoraSettings, gradient_checkpointing: bool = False):
    """(PEFT model, tokenizer) for a base model folder or hub id; only the adapter trains."""
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base))
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in lora.target_modules if t in present]
    config = LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets, task_type="CAUSAL_LM"
    )
    return get_peft_model(model, config), tokenizer


def prompt_renderer(task: TaskDefinition, tokenizer):
    """Chunk text → the full prompt string up to the answer position."""

    def render(text: str) -> str:
        return tokenizer.apply_chat_template(task.messages(text), tokenize=False, add_generation_prompt=True)

    return render


class CausalLMKDTrainer(KDTrainer):
    """KD training where the label logits are the LM head's at the last (answer) position."""

    def __init__(self, *args, label_token_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.label_token_ids = label_token_ids

    def label_logits(self, model, inputs: dict):
        return model(**inputs, logits_to_keep=1).logits[:, -1, self.label_token_ids]


def label_token_ids(task: TaskDefinition, tokenizer) -> list[int]:
    return verbalizer_token_ids(tokenizer, task.verbalizers)


def merge_adapter(base: str | Path, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Base weights + LoRA adapter → a plain Hugging Face model folder (what vLLM loads)."""
    model = AutoModelForCausalLM.from_pretrained(str(base))
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(
        str(adapter_dir) if (Path(adapter_dir) / "tokenizer_config.json").exists() else str(base)
    ).save_pretrained(out)
    return out
