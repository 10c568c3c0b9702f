"""Distillation costs on CPU, as JSON:

- training samples/s of the same student on the same data with the KD loss (KDTrainer,
  alpha=0.5, T=2) and with plain cross-entropy (the model's own loss on hard labels): the
  teacher's labels are precomputed, so KD should cost almost nothing (goal: <= 10% overhead);
- inference chunks/s of one causal-LM student: label scoring by one batched forward pass (with
  and without the shared-prefix cache) vs `generate()` then parsing the letter (goal: >= 10x).

    python tests/benchmarks/bench_distill.py [--only training|inference] [--out result.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch  # noqa: E402
from common import ROOT, emit  # first: offline env, the project on sys.path
from transformers import Qwen2Config, Qwen2ForCausalLM, Trainer, TrainingArguments  # noqa: E402

from tests.support.tiny_lm import build_tiny_lm  # noqa: E402
from upscway.resources import DEPLOYMENTS_DIR  # noqa: E402
from upscway.tasks.annotate.local_teacher import CausalLMTeacher  # noqa: E402
from upscway.tasks.distill.dataset import Example  # noqa: E402
from upscway.tasks.distill.encoder import load_encoder_student  # noqa: E402
from upscway.tasks.distill.trainer import ExampleDataset, KDCollator, KDTrainer  # noqa: E402
from upscway.tasks.gold.sheets import read_csv  # noqa: E402
from upscway.taxonomy import load_task  # noqa: E402

TASK = load_task()


def examples() -> list[Example]:
    rows = read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")
    out = []
    for i, row in enumerate(rows[:160]):
        probs = torch.full((5,), 0.05)
        probs[TASK.index(row.gold_label)] = 0.8
        out.append(Example(f"c{i}", f"a{i}", row.text, tuple(torch.log(probs).tolist()), -1))
    return out


class _HardLabels(torch.utils.data.Dataset):
    def __init__(self, data: ExampleDataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        item = dict(self.data[i])
        teacher = item.pop("teacher_logprobs")
        item.pop("gold")
        item["labels"] = max(range(len(teacher)), key=teacher.__getitem__)
        return item


def training_rates(tmp: Path) -> dict:
    data = examples()
    rates = {}
    for name in ("plain_ce", "kd", "plain_ce_again", "kd_again"):  # interleaved, twice, against drift
        torch.manual_seed(0)
        model, tokenizer = load_encoder_student(keep_layers=3)
        dataset = ExampleDataset(data, tokenizer, max_length=128)
        args = TrainingArguments(
            output_dir=str(tmp / name),
            per_device_train_batch_size=16,
            num_train_epochs=2,
            learning_rate=5e-4,
            save_strategy="no",
            report_to=[],
            remove_unused_columns=False,
            use_cpu=True,
            disable_tqdm=True,
            logging_steps=1000,
        )
        if name.startswith("kd"):
            trainer = KDTrainer(model=model, args=args, train_dataset=dataset, data_collator=KDCollator(tokenizer))
        else:
            from transformers import DataCollatorWithPadding

            trainer = Trainer(
                model=model,
                args=args,
                train_dataset=_HardLabels(dataset),
                data_collator=DataCollatorWithPadding(tokenizer),
            )
        rates[name] = trainer.train().metrics["train_samples_per_second"]
    ce = (rates["plain_ce"] + rates["plain_ce_again"]) / 2
    kd = (rates["kd"] + rates["kd_again"]) / 2
    return {
        "student": "MiniLM, 3 layers",
        "examples": len(data),
        "max_length": 128,
        "batch_size": 16,
        "plain_ce_samples_per_s": round(ce, 1),
        "kd_samples_per_s": round(kd, 1),
        "kd_overhead": round(1 - kd / ce, 3),
        "goal": "kd_overhead <= 0.10",
        "goal_met": 1 - kd / ce <= 0.10,
    }


def inference_rates(tmp: Path, task_file: Path) -> dict:
    base = build_tiny_lm(tmp / "tok")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    # Qwen2.5's vocabulary size: what makes each generated token cost an LM-head pass over
    # 151,936 rows, as it does for the real students (the tiny tokenizer uses the first ids).
    config = Qwen2Config(
        vocab_size=151936,
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    task = load_task(task_file)
    texts = [r.text for r in read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")[:48]]

    def scoring_rate(prefix_cache: bool) -> float:
        scorer = CausalLMTeacher(task, base, batch_size=16, model=model, tokenizer=tokenizer, prefix_cache=prefix_cache)
        scorer.annotate(texts[:4])
        start = time.perf_counter()
        scorer.annotate(texts)
        return len(texts) / (time.perf_counter() - start)

    scorer = CausalLMTeacher(task, base, batch_size=16, model=model, tokenizer=tokenizer)
    scoring, scoring_plain = scoring_rate(True), scoring_rate(False)
    prefix_tokens = len(scorer._shared_prefix()[0])
    prompt_tokens = sum(len(tokenizer(p, add_special_tokens=False).input_ids) for p in scorer.prompts(texts)) / len(
        texts
    )

    prompts = scorer.prompts(texts)

    def generate_rate(batch: int) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(prompts), batch):
                enc = tokenizer(prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
                # 16 new tokens, always: room for "The answer is (C)."; a random model's early EOS must not flatter it.
                out = model.generate(
                    **enc, max_new_tokens=16, min_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
                tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        return len(prompts) / (time.perf_counter() - start)

    generating = generate_rate(16)
    one_by_one = generate_rate(1)
    return {
        "task": task.name,
        "student": "Qwen2 architecture, 4 layers x 256, Qwen2.5 vocabulary (151,936), random weights",
        "chunks": len(texts),
        "batch_size": 16,
        "prompt_tokens_mean": round(prompt_tokens),
        "shared_prefix_tokens": prefix_tokens,
        "scoring_chunks_per_s": round(scoring, 1),
        "scoring_without_prefix_cache_chunks_per_s": round(scoring_plain, 1),
        "generate_16_tokens_then_parse_batched_chunks_per_s": round(generating, 1),
        "generate_16_tokens_then_parse_one_by_one_chunks_per_s": round(one_by_one, 1),
        "speedup_vs_batched_generate": round(scoring / generating, 1),
        "speedup_vs_one_by_one_generate": round(scoring / one_by_one, 1),
        "goal": "speedup >= 10",
        "goal_met": scoring / generating >= 10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", choices=["training", "inference"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-distill-") as tmp:
        result = {"torch_threads": torch.get_num_threads()}
        if args.only != "inference":
            result["training"] = training_rates(Path(tmp))
        if args.only != "training":
            # A prompt that is mostly chunk, and the production prompt (syllabus in the system
            # message; the tiny tokenizer spends more tokens on it than Qwen's would).
            result["inference_short_prompt"] = inference_rates(
                Path(tmp), ROOT / "tests" / "support" / "tasks" / "short_gs.yaml"
            )
            result["inference_production_prompt"] = inference_rates(
                Path(tmp), DEPLOYMENTS_DIR / "tasks" / "upsc_gs.yaml"
            )
    emit(result, args.out)


if __name__ == "__main__":
    main()
