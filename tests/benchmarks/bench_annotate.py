"""Teacher throughput: the openai teacher against a server answering after a fixed 100 ms, at
concurrency 1, 4, 16 and 64, beside the ideal (concurrency / 0.1 s); requests sent by a rerun
of the annotate flow over chunks already annotated (should be 0); and the embedding teacher's
chunks/s on CPU.

    python tests/benchmarks/bench_annotate.py [--out result.json]

The server runs in its own process (tests/support/openai_server.py), so its work does not
share this process's interpreter lock.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx  # noqa: E402
from common import ROOT, emit  # first: offline env, the project on sys.path

from upscway.resources import DEPLOYMENTS_DIR  # noqa: E402
from upscway.settings import TeacherSettings  # noqa: E402
from upscway.tasks.annotate.openai_teacher import OpenAITeacher  # noqa: E402
from upscway.tasks.gold.sheets import read_csv  # noqa: E402
from upscway.taxonomy import load_task  # noqa: E402

LATENCY_S = 0.1


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    port_file = tmp / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.openai_server",
            "--latency",
            str(LATENCY_S),
            "--port-file",
            str(port_file),
        ],
        cwd=ROOT,
    )
    for _ in range(100):
        if port_file.exists() and port_file.read_text():
            return proc, f"http://127.0.0.1:{port_file.read_text()}/v1"
        time.sleep(0.1)
    raise RuntimeError("the test server did not start")


def requests_seen(base_url: str) -> int:
    return httpx.get(base_url.rsplit("/v1", 1)[0] + "/stats").json()["requests"]


def concurrency_sweep(base_url: str, texts: list[str]) -> list[dict]:
    task = load_task()
    results = []
    for concurrency in (1, 4, 16, 64):
        n = min(len(texts), max(20, concurrency * 8))
        settings = TeacherSettings(
            backend="openai", base_url=base_url, model="bench", concurrency=concurrency, timeout_s=30
        )
        teacher = OpenAITeacher(task, settings)
        teacher.annotate(texts[:concurrency])  # open the connections
        start = time.perf_counter()
        answers = teacher.annotate(texts[:n])
        elapsed = time.perf_counter() - start
        teacher.close()
        rate, ideal = n / elapsed, concurrency / LATENCY_S
        results.append(
            {
                "concurrency": concurrency,
                "requests": n,
                "failures": sum(not hasattr(a, "probs") for a in answers),
                "requests_per_s": round(rate, 1),
                "ideal_per_s": ideal,
                "fraction_of_ideal": round(rate / ideal, 3),
            }
        )
    return results


def rerun_requests(base_url: str, tmp: Path) -> dict:
    """Annotate the demo store (news + bundled gold) with the openai teacher, then again."""
    from prefect.testing.utilities import prefect_test_harness

    from upscway.flows.annotate import annotate
    from upscway.flows.context import open_store
    from upscway.flows.ingest import ingest
    from upscway.settings import load_settings
    from upscway.storage import gold as gold_repo
    from upscway.tasks.gold.sheets import read_csv as read_gold

    os.environ.update(
        UPSCWAY_DATA_DIR=str(tmp / "data"),
        UPSCWAY_TEACHER__BACKEND="openai",
        UPSCWAY_TEACHER__BASE_URL=base_url,
        UPSCWAY_TEACHER__MODEL="bench",
        UPSCWAY_TEACHER__CONCURRENCY="16",
        UPSCWAY_TEACHER__BATCH_SIZE="64",
    )
    with prefect_test_harness(server_startup_timeout=120):
        ingest(return_state=True).result()
        store = open_store(load_settings())
        with store.transaction() as conn:
            gold_repo.import_rows(
                conn, read_gold(DEPLOYMENTS_DIR / "demo" / "gold.csv"), "upsc_gs", "gold.csv", lambda t: len(t.split())
            )
        before = requests_seen(base_url)
        first = annotate(return_state=True).result()
        middle = requests_seen(base_url)
        second = annotate(return_state=True).result()
        after = requests_seen(base_url)
    return {
        "chunks_annotated": first.annotated,
        "requests_first_run": middle - before,
        "requests_rerun": after - middle,
        "rerun_annotated": second.annotated,
    }


def embedding_rate(texts: list[str]) -> dict:
    from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher

    teacher = EmbeddingTeacher(load_task())
    teacher.annotate(texts[:8])
    start = time.perf_counter()
    teacher.annotate(texts)
    elapsed = time.perf_counter() - start
    return {
        "chunks": len(texts),
        "chunks_per_s": round(len(texts) / elapsed, 1),
        "torch_threads": __import__("torch").get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    texts = [r.text for r in read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")]
    texts = (texts * 4)[:800]
    texts = [f"{t} [{i}]" for i, t in enumerate(texts)]  # distinct requests
    with tempfile.TemporaryDirectory(prefix="bench-annotate-") as tmp:
        proc, base_url = start_server(Path(tmp))
        try:
            result = {
                "server_latency_s": LATENCY_S,
                "openai_teacher": concurrency_sweep(base_url, texts),
                "idempotent_rerun": rerun_requests(base_url, Path(tmp)),
                "embedding_teacher_cpu": embedding_rate(texts[:400]),
            }
        finally:
            proc.terminate()
            proc.wait()
    result["goal"] = "fraction_of_ideal >= 0.9 up to concurrency 16; rerun sends 0 requests"
    result["goal_met"] = (
        all(r["fraction_of_ideal"] >= 0.9 for r in result["openai_teacher"] if r["concurrency"] <= 16)
        and result["idempotent_rerun"]["requests_rerun"] == 0
    )
    emit(result, args.out)


if __name__ == "__main__":
    main()
