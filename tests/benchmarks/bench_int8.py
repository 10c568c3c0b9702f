"""INT8 students on this CPU: torch's dynamic quantization against ONNX Runtime's (and its
4-bit weight-only MatMulNBits, where available), all against the float student, on a store's evaluation gold (what chose `tasks/distill/quantize.py`'s method).

    pip install --target /tmp/ortlib --no-deps onnxruntime onnx onnxscript onnx-ir ml_dtypes flatbuffers protobuf
    PYTHONPATH=/tmp/ortlib python tests/benchmarks/bench_int8.py --data-dir DIR [--model ID] [--repeats 5] [--out r.json]

The store is one `make demo` built (`--model` default: the production student). Each variant
scores the study's gold chunks (every gold chunk of the evaluation split) with the same
tokenisation (batches of 32, at most 256 tokens): accuracy, agreement with the float student,
the largest change in a probability, size on disk, and chunks/s (the best of `--repeats`
passes, one thread per core as torch and ONNX Runtime choose by default). ONNX Runtime is not a
project dependency: without it, its rows say so.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import emit  # first: offline env, the project on sys.path

from upscway.records import PRODUCTION  # noqa: E402
from upscway.settings import load_settings  # noqa: E402
from upscway.storage import models as model_rows  # noqa: E402
from upscway.storage.store import Store  # noqa: E402
from upscway.tasks.annotate.encoder_teacher import load_classifier  # noqa: E402
from upscway.tasks.distill.quantize import folder_size_mb, write_int8  # noqa: E402
from upscway.tasks.registry import model as registered  # noqa: E402
from upscway.tasks.study.steps import study_gold  # noqa: E402
from upscway.taxonomy import load_task  # noqa: E402

BATCH, MAX_LENGTH = 32, 256


def _batches(tokenizer, texts):
    return [
        tokenizer(texts[i : i + BATCH], padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
        for i in range(0, len(texts), BATCH)
    ]


def _timed(score, batches, repeats: int) -> tuple[np.ndarray, float]:
    best, logits = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        logits = np.concatenate([score(b) for b in batches])
        best = min(best, time.perf_counter() - started)
    return logits, best


def _onnx(folder: Path, batches, work: Path):
    """ONNX Runtime's float and dynamic-INT8 sessions of the classifier, or why there are none."""
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        return None, f"onnxruntime not importable ({exc})"
    model = load_classifier(folder)
    sample = batches[0]
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = work / "model.onnx"
    torch.onnx.export(
        model,
        tuple(sample[n] for n in names),
        str(path),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
        dynamo=False,
    )
    quantized = work / "model-int8.onnx"
    quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    variants = [("onnxruntime float", path), ("onnxruntime int8 (dynamic)", quantized)]
    try:  # 4-bit weights (MatMulNBits, blocks of 32), where this onnxruntime has the quantizer
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        four = MatMulNBitsQuantizer(onnx.load(str(path)), block_size=32, is_symmetric=True)
        four.process()
        four.model.save_model_to_file(str(work / "model-int4.onnx"))
        variants.append(("onnxruntime int4 (MatMulNBits, weights only)", work / "model-int4.onnx"))
    except Exception as exc:  # noqa: BLE001 - reported, not fatal: the other rows still stand
        print(f"no 4-bit variant: {type(exc).__name__}: {exc}", flush=True)
    sessions = {}
    for label, file in variants:
        session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        sessions[label] = (
            lambda b, s=session: s.run(None, {n: b[n].numpy() for n in names})[0],
            file.stat().st_size / 1e6,
        )
    return sessions, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = load_settings("demo", str(args.data_dir))
    task_def, store = load_task(settings.task.file), Store(settings.database_path)
    with store.reader() as conn:
        model_id = args.model or model_rows.holder(conn, PRODUCTION)
    parent = registered(store, model_id)
    gold = study_gold(store, task_def, settings)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(parent.path)
    batches = _batches(tokenizer, gold.texts)
    work = Path(tempfile.mkdtemp(prefix="bench-int8-"))
    torch_int8 = write_int8(parent.path, work / "torch-int8")
    variants = {}
    for label, folder in (("torch float", Path(parent.path)), ("torch int8 (dynamic)", torch_int8)):
        model = load_classifier(folder)
        variants[label] = (lambda b, m=model: m(**b).logits.float().numpy(), folder_size_mb(folder))
    sessions, missing = _onnx(Path(parent.path), batches, work)
    variants.update(sessions or {})
    results, reference = (
        {"model": model_id, "gold_chunks": len(gold.gold), "torch_threads": torch.get_num_threads()},
        None,
    )
    with torch.inference_mode():
        for label, (score, size) in variants.items():
            logits, seconds = _timed(score, batches, args.repeats)
            probs = torch.softmax(torch.as_tensor(logits), -1).numpy()
            reference = probs if reference is None else reference
            results[label] = {
                "accuracy": round(float(np.mean(probs.argmax(1) == np.asarray(gold.gold))), 4),
                "agreement_with_float": round(float(np.mean(probs.argmax(1) == reference.argmax(1))), 4),
                "max_probability_change": round(float(np.abs(probs - reference).max()), 4),
                "size_mb": round(size, 2),
                "chunks_per_s": round(len(gold.texts) / seconds, 1),
            }
            print(label, results[label], flush=True)
    if missing:
        results["onnxruntime"] = missing
    emit(results, args.out)


if __name__ == "__main__":
    main()
