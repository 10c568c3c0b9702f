"""A study as steps: plan it (resolve the teachers, fix the gold chunks, write each teacher's
training data, one job per arm and seed), run the arms (each a Prefect task: sequential on the
flow's own runner, fanned out on a Dask cluster), record each arm as it finishes, then report.

Arms run one at a time on the default runner: they share this process, and a training seeds
torch's global generator, so two trainings in threads would not be reproducible. On Dask each
arm has a worker process to itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import as_completed

from upscway import progress
from upscway.errors import InputError
from upscway.records import model_annotator, model_of
from upscway.settings import Settings
from upscway.storage import annotations as annotation_rows
from upscway.storage import models as model_rows
from upscway.storage import studies as study_rows
from upscway.storage.layout import DataLayout
from upscway.storage.store import Store
from upscway.summaries import StudySummary
from upscway.tasks.annotate.steps import annotate_pending
from upscway.tasks.annotate.teacher import Teachers
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.answers import answers_of, ensure_answers
from upscway.tasks.distill.dataset import build_splits
from upscway.tasks.distill.scoring import as_teacher
from upscway.tasks.distill.train import write_examples
from upscway.tasks.evaluate.report import artifact_markdown
from upscway.tasks.evaluate.steps import GoldSplit, gold_of_split, teacher_on_gold
from upscway.tasks.registry import model as registered_model
from upscway.tasks.study.arms import ArmJob, ArmResult, arm_key, run_arm
from upscway.tasks.study.report import StudyHeading, analyse, write_study_report
from upscway.tasks.study.spec import StudySpec
from upscway.taxonomy import TaskDefinition


@dataclass(frozen=True)
class StudyPlan:
    study_id: str
    spec: StudySpec
    spec_file: str
    teacher: str  # the base arm's teacher: agreement and speed-up are against it
    teacher_chunks_per_s: float | None  # from its stored latencies on the gold chunks
    teacher_predictions: list[int]  # its answers on the gold chunks
    gold: GoldSplit
    jobs: list[ArmJob]
    report_dir: Path


def resolve_teacher(
    store: Store, run_id: str, name: str, settings: Settings, task_def: TaskDefinition, resources: Teachers
) -> str:
    """The annotator id an arm's `teacher` names. A registered student (`model:<id>`, or
    `production`) first answers every chunk it has not answered, as a chain's stage does."""
    if name == "profile":
        return annotator_of(settings.teacher)
    if name == "production":
        with store.reader() as conn:
            holder = model_rows.holder(conn, "production")
        if holder is None:
            raise InputError(
                "teacher production: no model holds the production alias yet (run `make demo`, or promote one)"
            )
        name = model_annotator(holder)
    model_id = model_of(name)
    if model_id is not None:
        teacher = as_teacher(registered_model(store, model_id), settings.teacher)
        annotate_pending(store, run_id, teacher, task_def, resources)
    return name


def study_gold(store: Store, task_def: TaskDefinition, settings: Settings) -> GoldSplit:
    """Every gold chunk of the evaluation split (no arm trains on its articles): the reported
    part and the random part together, since a study certifies nothing."""
    reported, random_gold = gold_of_split(
        store, task_def, "eval", settings.distill, settings.cascade.calibration_fraction
    )
    return GoldSplit(
        *(
            a + b
            for a, b in zip(
                (reported.chunk_ids, reported.texts, reported.hashes, reported.gold),
                (random_gold.chunk_ids, random_gold.texts, random_gold.hashes, random_gold.gold),
            )
        )
    )


def _training_data(
    store: Store, layout: DataLayout, teacher: str, task_def: TaskDefinition, settings: Settings
) -> tuple[Path, Path, str]:
    """The teacher's train and validation examples written once under `studies/data/`; with
    their digest, which is in every arm key (new labels: the arms train again)."""
    with store.reader() as conn:
        splits = build_splits(
            conn,
            task_def,
            teacher,
            task_def.version,
            settings.distill.eval_fraction,
            settings.distill.validation_fraction,
        )
    if not splits.train:
        raise InputError(
            f"teacher {teacher} has no answers on training chunks for prompt {task_def.version}: run `make demo` "
            "(or ingest and annotate) first; `upscway query annotators` lists who answered what"
        )
    lines = [json.dumps(asdict(e), ensure_ascii=False) for e in splits.train + splits.validation]
    data_digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    folder = layout.studies / "data" / f"{hashlib.sha256(teacher.encode()).hexdigest()[:8]}-{data_digest[:12]}"
    if not (folder / "validation.jsonl").exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_examples(folder / "train.jsonl", splits.train)
        write_examples(folder / "validation.jsonl", splits.validation)
    return folder / "train.jsonl", folder / "validation.jsonl", data_digest


def _predictions(
    store: Store,
    run_id: str,
    annotator: str,
    gold: GoldSplit,
    settings: Settings,
    task_def: TaskDefinition,
    resources: Teachers,
) -> list[int]:
    """The annotator's label on each gold chunk (asked for where none is stored)."""
    ensure_answers(store, run_id, annotator, gold.hashes, settings.teacher, task_def, resources)
    answers = teacher_on_gold(answers_of(store, annotator, task_def.version, gold.hashes), gold, annotator)
    return [max(range(len(p)), key=p.__getitem__) for p in answers]


def _arm_jobs(
    spec: StudySpec,
    settings: Settings,
    layout: DataLayout,
    task_def: TaskDefinition,
    gold: GoldSplit,
    data: dict[str, tuple[Path, Path, str]],
    predictions: dict[str, list[int]],
) -> list[ArmJob]:
    """One job per arm and seed, each with its key (what it learns)."""
    jobs = []
    for arm in spec.expanded():
        s = arm.settings
        training = settings.distill.training().model_copy(
            update={
                "temperature": s.temperature,
                "alpha": s.alpha,
                "epochs": spec.budget.epochs,
                "confidence_weighting": s.confidence_weighting,
            }
        )
        student = s.student.base.replace("{data_dir}", str(layout.root))
        train_file, validation_file, data_digest = data[s.teacher]
        for seed in range(spec.budget.seeds):
            key = arm_key(s, seed, training, spec.budget.max_train_examples, data_digest, student)
            jobs.append(
                ArmJob(
                    arm=arm.name,
                    settings=s,
                    seed=seed,
                    key=key,
                    student=student,
                    out_dir=str(layout.studies / "arms" / key),
                    train_file=str(train_file),
                    validation_file=str(validation_file),
                    max_train_examples=spec.budget.max_train_examples,
                    training=training,
                    task=task_def,
                    gold_texts=gold.texts,
                    gold=gold.gold,
                    teacher_predictions=predictions[s.teacher],
                )
            )
    return jobs


@dataclass(frozen=True)
class StudyRequest:
    """The study to run: its spec (loaded, at the quick budget or not) and the file it came from."""

    spec: StudySpec
    spec_file: str
    quick: bool


@task(name="plan-study")
def plan_study(
    store: Store,
    layout: DataLayout,
    run_id: str,
    request: StudyRequest,
    settings: Settings,
    task_def: TaskDefinition,
    resources: Teachers,
) -> StudyPlan:
    """Resolve the teachers, fix the gold, write the training data, make the jobs, and record
    the study (status `running`)."""
    spec, spec_file, quick = request.spec, request.spec_file, request.quick
    names = {a.settings.teacher for a in spec.expanded()}
    teachers = {
        name: resolve_teacher(store, run_id, name, settings, task_def, resources)
        for name in names | {spec.base.teacher}
    }
    gold = study_gold(store, task_def, settings)
    predictions, data = {}, {}
    for name in names:
        predictions[name] = _predictions(store, run_id, teachers[name], gold, settings, task_def, resources)
        data[name] = _training_data(store, layout, teachers[name], task_def, settings)
    jobs = _arm_jobs(spec, settings, layout, task_def, gold, data, predictions)
    teacher = teachers[spec.base.teacher]
    with store.reader() as conn:
        latency = annotation_rows.mean_latency_ms(conn, teacher, task_def.version, gold.hashes)
    study_id = f"{spec.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:4]}"
    with store.transaction() as conn:
        study_rows.start(
            conn,
            study_rows.StudyStart(
                study_id=study_id,
                name=spec.name,
                spec_file=spec_file,
                spec=spec.model_dump(mode="json"),
                quick=quick,
                teacher=teacher,
                gold_chunks=len(gold.gold),
                run_id=run_id,
            ),
        )
    get_run_logger().info(
        "study %s: %d arms × %d seeds on %d gold chunks, against teacher %s",
        study_id,
        len(jobs) // spec.budget.seeds,
        spec.budget.seeds,
        len(gold.gold),
        teacher,
    )
    on_gold = predictions.get(spec.base.teacher) or _predictions(
        store, run_id, teacher, gold, settings, task_def, resources
    )
    return StudyPlan(
        study_id,
        spec,
        spec_file,
        teacher,
        1000 / latency if latency else None,
        on_gold,
        gold,
        jobs,
        layout.reports / f"study-{study_id}",
    )


@task(name="study-arm")
def study_arm(job: ArmJob) -> ArmResult:
    """One arm and seed: trained (or reused), scored and measured; its checkpoints removed
    once its student is complete (a study trains dozens, each checkpoint hundreds of MB)."""
    logger = get_run_logger()
    result = run_arm(
        job,
        say=logger.info,
        advance=lambda done, total: progress.report(f"train {job.arm} (seed {job.seed})", done, total),
    )
    shutil.rmtree(Path(job.out_dir) / "checkpoints", ignore_errors=True)
    logger.info(
        "%s seed %d (%s): accuracy %.3f on %d gold chunks",
        job.arm,
        job.seed,
        "trained" if result.trained else "reused",
        result.metrics["accuracy"],
        len(job.gold),
    )
    return result


def _record(store: Store, study_id: str, job: ArmJob, result: ArmResult) -> None:
    with store.transaction() as conn:
        study_rows.record_arm(
            conn,
            study_id,
            study_rows.ArmRow(
                result.arm,
                result.seed,
                result.key,
                job.settings.model_dump(mode="json"),
                result.trained,
                result.metrics,
                result.predictions,
                result.model_path,
            ),
        )


def run_arms(store: Store, plan: StudyPlan, fan_out: bool) -> int:
    """Every job of the plan, each recorded as it finishes; returns how many trained (the
    rest were reused). `fan_out`: submit them all to the run's (Dask) task runner. A failure
    marks the study failed (the arms recorded so far stay, and a rerun reuses them)."""
    trained, done, total = 0, 0, len(plan.jobs)
    progress.report("study arms", 0, total)
    try:
        if fan_out:
            jobs = {study_arm.submit(job): job for job in plan.jobs}
            finished = ((jobs[f], f.result()) for f in as_completed(list(jobs)))
        else:
            finished = ((job, study_arm(job)) for job in plan.jobs)
        for job, result in finished:
            _record(store, plan.study_id, job, result)
            trained, done = trained + result.trained, done + 1
            progress.report("study arms", done, total)
    except BaseException as exc:
        with store.transaction() as conn:
            study_rows.finish(
                conn, plan.study_id, "failed", {"error": f"{type(exc).__name__}: {exc}", "arms_recorded": done}, None
            )
        raise
    return trained


@task(name="report-study")
def report_study(store: Store, plan: StudyPlan, quick: bool, task_def: TaskDefinition) -> StudySummary:
    """The study's figures from its stored arms, its report written (and, plots inlined, a
    Prefect artifact of the run), its row completed; returns the run's summary."""
    with store.reader() as conn:
        rows = study_rows.arms(conn, plan.study_id)
    analysis = analyse(
        plan.spec, rows, plan.gold.gold, plan.teacher_chunks_per_s, plan.teacher_predictions, len(task_def.labels)
    )
    heading = StudyHeading(plan.study_id, plan.spec, quick, plan.teacher)
    report = write_study_report(plan.report_dir, heading, rows, plan.gold.gold, task_def.names, analysis)
    with store.transaction() as conn:
        study_rows.finish(conn, plan.study_id, "completed", analysis, str(report["markdown"]))
    create_markdown_artifact(
        artifact_markdown(report), key=f"study-{plan.study_id.lower()}", description=f"study {plan.spec.name}"
    )
    return StudySummary(
        study=plan.study_id,
        spec=plan.spec.name,
        arms=len(analysis["arms"]),
        seeds=analysis["seeds"],
        gold_chunks=len(plan.gold.gold),
        trained=analysis["trained"],
        reused=analysis["reused"],
        claims={c["says"]: c["verdict"] for c in analysis["claims"]},
        report=str(report["markdown"]),
    )
