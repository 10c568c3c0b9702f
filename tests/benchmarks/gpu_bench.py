"""GPU figures for the production students, with nothing downloaded: Qwen2.5-1.5B and
Qwen2.5-7B architectures built from their published configuration values, random weights in
bf16. Reports label scoring chunks/s at 512 tokens (one forward pass, the label logits read at
the last position) and LoRA training tokens/s with the KD loss. Needs a CUDA device; not part
of `make test`.

    python tests/benchmarks/gpu_bench.py [--batch 32] [--out result.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from common import emit
from peft import LoraConfig, get_peft_model
from transformers import Qwen2Config, Qwen2ForCausalLM

from upscway.tasks.distill.kd_loss import kd_loss  # noqa: E402

# From the models' published config.json files.
CONFIGS = {
    "Qwen2.5-1.5B": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    ),
    "Qwen2.5-7B": dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        max_position_embeddings=32768,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
    ),
}
LABEL_IDS = [32, 33, 34, 35, 36]  # "A".."E" in the Qwen2.5 tokenizer
SEQ = 512


def build(name: str) -> Qwen2ForCausalLM:
    config = Qwen2Config(**CONFIGS[name], torch_dtype="bfloat16")
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    return model


def timed(fn, repeats: int) -> float:
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


@torch.inference_mode()
def scoring(model, batch: int) -> float:
    ids = torch.randint(100, 150000, (batch, SEQ), device="cuda")

    def step():
        hidden = model.model(input_ids=ids).last_hidden_state[:, -1]
        return model.lm_head(hidden)[:, LABEL_IDS].float().log_softmax(-1)

    return batch / timed(step, 5)


def lora_training(model, batch: int) -> float:
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
    peft_model = get_peft_model(
        model,
        LoraConfig(
            r=16,
            lora_alpha=32,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            task_type="CAUSAL_LM",
        ),
    )
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(100, 150000, (batch, SEQ), device="cuda")
    teacher = torch.log_softmax(torch.randn(batch, 5, device="cuda"), -1)

    def step():
        hidden = peft_model.base_model.model.model(input_ids=ids).last_hidden_state[:, -1]
        logits = peft_model.base_model.model.lm_head(hidden)[:, LABEL_IDS].float()
        kd_loss(logits, teacher).total.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return batch * SEQ / timed(step, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_bench.py needs a CUDA device")
    result = {"device": torch.cuda.get_device_name(0), "sequence_tokens": SEQ}
    for name in CONFIGS:
        model = build(name)
        result[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "scoring_chunks_per_s": round(scoring(model, args.batch), 1),
            "lora_train_tokens_per_s": round(lora_training(model, args.train_batch), 1),
        }
        del model
        torch.cuda.empty_cache()
    emit(result, args.out)


if __name__ == "__main__":
    main()
