"""Settings: defaults < profile TOML < `UPSCWAY_*` environment < explicit arguments (CLI flags).

A profile is `deployments/profiles/<name>.toml`, picked by `--profile` or `UPSCWAY_PROFILE`
(default `demo`). Nested fields take `__` in the environment, so
`UPSCWAY_TEACHER__BASE_URL=http://127.0.0.1:8000/v1` points the teacher at a local vLLM.
Code receives these objects as arguments; nothing reads settings from a global.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from upscway.config_files import describe
from upscway.errors import InputError
from upscway.resources import PROFILES_DIR

DEFAULT_PROFILE = "demo"
LOCK_MARGIN_S = 30.0  # a writer waits this much longer than the longest query a person may run


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


ENV_PREFIX, ENV_NESTING = "UPSCWAY_", "__"
# Read by the CLI itself (and `profile`, `data_dir`), or still read though deprecated.
NOT_SETTINGS = {"UPSCWAY_PROFILE", "UPSCWAY_DATA_DIR", "UPSCWAY_TEACHER__TASK_FILE"}


class Section(BaseModel):
    # Infinity and NaN are never a sensible timeout, size or rate: refused like any bad value.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StorageSettings(Section):
    lock_timeout_s: float = Field(
        120.0,
        gt=0,
        description="How long to wait for another process's DuckDB lock (at least sql.timeout_s + 30: an analyst's query never stops a writer).",
    )


class SqlSettings(Section):
    """Bounds on the SQL a person types (`upscway sql`, `upscway query`)."""

    timeout_s: float = Field(60.0, gt=0, description="A query still running after this long is stopped.")
    memory_limit_mb: int | None = Field(
        None, gt=0, description="DuckDB's memory limit for one query; default a quarter of the machine's memory."
    )

    def memory_limit(self) -> int:
        if self.memory_limit_mb:
            return self.memory_limit_mb
        return max(256, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4 // 2**20)


class IngestSettings(Section):
    feeds_file: Path = Field(
        Path("deployments/feeds.yaml"),
        description="YAML of the news sources (their feeds, sitemaps, rate limits) the ingest and backfill flows read; "
        "a `--feeds` parameter overrides it.",
    )
    fetcher: Literal["http", "snapshot"] = Field(
        "http", description="'http' fetches the live web; 'snapshot' reads saved pages from snapshot_dir (no network)."
    )
    snapshot_dir: Path | None = Field(
        None, description="Saved pages, laid out as <host>/<path>, for the snapshot fetcher."
    )
    user_agent: str = Field(
        "UPSCWayBot/0.1 (news tagging for UPSC aspirants; respects robots.txt)",
        description="User-Agent header of every request, and the agent whose robots.txt rules are obeyed.",
    )
    timeout_s: float = Field(
        20.0,
        gt=0,
        description="Seconds within which a request's whole response (headers and body) must arrive; a timeout is a "
        "transient failure.",
    )
    max_bytes: int = Field(5_000_000, gt=0, description="Largest feed or page read; larger responses are failures.")
    max_redirects: int = Field(
        5, ge=0, description="Redirects followed per fetch; a URL that redirects more often is a (permanent) failure."
    )
    respect_robots: bool = Field(
        True,
        description="Obey each host's robots.txt: disallowed URLs are failures, and a host whose robots.txt is "
        "unreachable is not crawled for now.",
    )
    allow_private_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs that may be fetched although loopback or private (e.g. 127.0.0.1/32 for a local server).",
    )
    batch_size: int = Field(
        100, gt=0, description="Pages per Prefect task (fewer, bigger task runs: less orchestration per page)."
    )
    fetch_concurrency: int = Field(4, gt=0, description="Pages fetched at once within one batch.")
    batches_per_load: int = Field(2, gt=0, description="Staged batches loaded per write transaction.")
    processes: int = Field(
        default_factory=lambda: usable_cores() if usable_cores() > 1 else 0,
        ge=0,
        description="Worker processes that scrape batches (fetch, extract, chunk); 0 = the flow's threads. "
        "Default: one per usable core when there are several (extraction is CPU-bound; threads share one core).",
    )
    workers: int = Field(
        default_factory=lambda data: max(2, 2 * data.get("processes", 0)),
        gt=0,
        description="Batches in flight at once. Default: two per worker process (one fetching while another extracts), at least 2.",
    )
    min_text_chars: int = Field(200, ge=0, description="Extracted text shorter than this is 'no extractable text'.")
    max_attempts: int = Field(
        5, gt=0, description="Attempts at a URL that fails transiently (5xx, 408, 429, timeouts) before it is given up."
    )
    retry_base_s: float = Field(
        900.0,
        ge=0,
        description="Wait before the first retry of a transient failure; doubled after each further failure.",
    )

    @field_validator("allow_private_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value


class ChunkSettings(Section):
    tokenizer: str = Field("minilm", description="'minilm' (packaged), a tokenizer.json / folder path, or a hub id.")
    target_tokens: int = Field(
        256,
        gt=8,
        description="Most tokens in a chunk (counted with the tokenizer); only a single sentence longer than this "
        "is cut.",
    )
    overlap_tokens: int = Field(
        32,
        ge=0,
        description="Most tokens of whole sentences that consecutive chunks share; smaller than target_tokens.",
    )

    @field_validator("overlap_tokens")
    @classmethod
    def _overlap_below_target(cls, value: int, info: Any) -> int:
        target = info.data.get("target_tokens")
        if target is not None and value >= target:
            raise ValueError(f"overlap_tokens ({value}) must be smaller than target_tokens ({target})")
        return value


class TaskSettings(Section):
    file: Path = Field(
        Path("deployments/tasks/upsc_gs.yaml"), description="The labelling task: labels, descriptions, prompt."
    )


# tasks/annotate/teachers.py builds each
TeacherBackend = Literal["openai", "transformers", "embedding", "encoder", "recorded"]


class TeacherSettings(Section):
    backend: TeacherBackend = Field(
        "embedding",
        description="Who answers: 'openai' (a server at base_url), 'transformers' (a causal LM in local_model), "
        "'embedding' (zero-shot MiniLM, no server), 'encoder' (a trained student in local_model) or 'recorded' "
        "(answers_file).",
    )
    annotator: str | None = Field(
        None, description="Name stored with the answers; default: derived from backend and model."
    )
    base_url: str | None = Field(
        None,
        description="API root of the OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1); the openai backend "
        "needs it.",
    )
    model: str = Field("Qwen/Qwen2.5-72B-Instruct", description="The model name the openai server serves.")
    local_model: Path | None = Field(
        None, description="Model folder: a causal LM (transformers) or a trained encoder student (encoder)."
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="The packaged MiniLM, or a folder (embedding backend)."
    )
    api_key_env: str = Field("UPSCWAY_TEACHER_API_KEY", description="Environment variable holding the API key.")
    api_key_secret: str | None = Field(None, description="Or: the name of a Prefect Secret block holding it.")
    concurrency: int = Field(
        16,
        gt=0,
        description="Requests the openai teacher sends at once within a batch (also its connection pool's size).",
    )
    timeout_s: float = Field(
        60.0, gt=0, description="A reply must arrive whole within this many seconds of its request."
    )
    max_reply_bytes: int = Field(
        1 << 20, gt=0, description="A larger reply is refused (that chunk's failure), read no further."
    )
    max_retries: int = Field(5, ge=0, description="Retries on 429, 5xx, timeouts and malformed answers.")
    backoff_base_s: float = Field(
        0.5,
        ge=0,
        description="Wait before the first retry of a request, doubled after each further one up to backoff_max_s "
        "(each wait jittered to 50-100% of it).",
    )
    backoff_max_s: float = Field(
        30.0,
        ge=0,
        description="Longest wait before a retry, in seconds; a server's Retry-After is honoured up to this.",
    )
    top_logprobs: int = Field(
        20,
        ge=1,
        le=20,
        description="Most likely answer tokens whose log-probabilities the server returns (1-20); the label "
        "distribution is read from them, a label missing there getting a share of the mass they leave.",
    )
    constrain_choices: bool = Field(
        True, description="Ask the server to answer with a label letter only (vLLM structured outputs)."
    )
    rationale: bool = Field(False, description="Let the model add a short rationale after the label.")
    rationale_max_tokens: int = Field(
        48,
        gt=0,
        description="Most tokens of a reply when rationale is on (the label letter and the rationale); else 1.",
    )
    price_per_1k_input: float = Field(
        0.0,
        ge=0,
        description="Price of 1,000 prompt tokens as the server counts them (0: free); each openai answer's cost "
        "and the cascade's estimated savings are computed with it.",
    )
    price_per_1k_output: float = Field(
        0.0,
        ge=0,
        description="Price of 1,000 completion tokens as the server counts them (0: free), like price_per_1k_input.",
    )
    batch_size: int = Field(32, gt=0, description="Chunks per annotation task (and per stored batch).")
    embedding_temperature: float = Field(
        0.05,
        gt=0,
        description="Softmax temperature over the embedding teacher's cosine similarities (a chunk to each label's "
        "best-matching phrase): lower is more confident. Part of its annotator name.",
    )
    answers_file: Path | None = Field(
        None,
        description="JSONL of answers computed elsewhere (the `annotate import` format); the recorded backend answers from it.",
    )


class LoraSettings(Section):
    rank: int = Field(
        16, gt=0, description="Rank r of the LoRA adapter: the inner dimension of its low-rank update matrices."
    )
    alpha: int = Field(32, gt=0, description="LoRA scaling: the adapter's update is multiplied by alpha / rank.")
    dropout: float = Field(
        0.05, ge=0, lt=1, description="Dropout probability on the adapter's input while training (0 to below 1)."
    )
    target_modules: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        description="Names of the causal LM's layers that get an adapter; a name the model lacks is skipped.",
    )


class TrainingSettings(Section):
    """The knobs the KD trainer reads (one object, saved in each model's train_config.json)."""

    temperature: float = Field(
        2.0,
        gt=0,
        description="T of the KD loss: the teacher's label log-probabilities and the student's logits are divided by "
        "it in the KL term (scaled by T²); above 1 softens both, so the student also learns how the teacher ranks the "
        "other labels.",
    )
    alpha: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the soft KL term against the hard cross-entropy (gold label, else the teacher's top "
        "one): loss = alpha·T²·KL + (1 − alpha)·CE; 1 is soft only, 0 hard only.",
    )
    learning_rate: float = Field(
        2e-4,
        gt=0,
        description="Peak learning rate of the trainer's AdamW (after warm-up, then decayed linearly to 0); "
        "a `head: probe` student's L-BFGS fit does not use it.",
    )
    epochs: float = Field(
        3.0,
        ge=0,
        description="Passes over the training examples. 0: no training; the student as built, only calibrated on "
        "validation (a `head: prototype` student is then the embedding teacher's zero-shot copy).",
    )
    warmup_ratio: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of the optimiser steps over which the learning rate rises linearly from 0 (then it decays "
        "linearly): without it a high rate can wreck a pretrained encoder in its first steps.",
    )
    batch_size: int = Field(
        16,
        gt=0,
        description="Examples per optimiser step (and per validation batch) of the trainer; a `head: probe` student "
        "fits on all its examples at once.",
    )
    max_length: int = Field(
        512,
        gt=8,
        description="Tokens of a chunk an encoder or probe student reads in training and validation (longer ones are "
        "truncated); a causal-LM student's prompt is never truncated.",
    )
    save_steps: int = Field(
        50, gt=0, description="Checkpoint every N optimiser steps; a restarted run resumes from the last."
    )
    confidence_weighting: Literal["off", "top_probability", "entropy"] = Field(
        "off",
        description="Weight each example's loss by the teacher's confidence in it: its top probability, or one minus "
        "its normalised entropy. Off by default: the weighting study did not show it helps (docs/results/studies.md).",
    )
    gatekeeper: float = Field(
        0.0,
        ge=0,
        description="Gatekeeper (arXiv 2502.19335): on each training example the student gets wrong, add this times "
        "KL(uniform || the student's distribution), so it is unsure where it errs and a cascade's confident share "
        "holds fewer errors. 0: off.",
    )
    probe_l2: float = Field(
        1e-3,
        ge=0,
        description="A `head: probe` student's L2 penalty on its linear layer (added to the mean KD loss); chosen on "
        "the news stream's first five nights among 1e-3, 1e-4 and 1e-5 (docs/results/stream-benchmark.md).",
    )
    lora: LoraSettings = Field(
        LoraSettings(), description="The LoRA adapter a causal-LM student trains (encoder students have none)."
    )


class DistillSettings(TrainingSettings):
    """The training knobs (flat in `[distill]`) and what the distill flow itself decides."""

    eval_fraction: float = Field(
        0.5, ge=0, lt=1, description="Share of articles whose gold chunks form the evaluation split."
    )
    validation_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of articles whose chunks form the validation split: a student's agreement with the "
        "teacher is measured there, and an encoder's temperature fitted. Articles in neither split train.",
    )
    chain: str = Field("demo", description="Default chain in `chains_file`.")
    min_new_teacher_labels: int = Field(
        500,
        ge=0,
        description="The nightly flow retrains when this many teacher labels arrived since the chain last trained.",
    )
    warm_start: bool = Field(
        False,
        description="Start a stage's training from the production student's weights when production is that stage "
        "of this chain (an encoder; an INT8 student's float parent), instead of from its base model: night after "
        "night the student keeps what it learnt and each retrain adds the new news.",
    )
    chains_file: Path = Field(
        Path("deployments/chains.yaml"),
        description="YAML of the distillation chains: each a list of stages naming a student and its teacher.",
    )

    def training(self) -> TrainingSettings:
        """Just the trainer's knobs."""
        return TrainingSettings.model_validate(self.model_dump(include=set(TrainingSettings.model_fields)))


class GateSettings(Section):
    min_relevance_accuracy: float = Field(
        0.75,
        description="The cascade at its certified threshold must call at least this share of the reported gold chunks "
        "rightly relevant or not relevant.",
    )
    min_precision: float = Field(
        0.45,
        description="Of the reported gold chunks the certified cascade calls relevant (any GS paper), at least this "
        "share must be relevant by gold.",
    )
    min_recall: float = Field(
        0.75,
        description="Of the reported gold chunks that are relevant, the certified cascade must call at least this "
        "share relevant.",
    )
    min_gs_accuracy: float = Field(
        0.70,
        description="Of the reported gold chunks that are relevant, the certified cascade must tag at least this share "
        "with their gold GS paper.",
    )
    confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="Level of the report's bootstrap intervals for the student alone (the gate judges the certificate).",
    )
    max_paper_drop: float = Field(
        0.15,
        ge=0,
        description="Per GS paper with support: the upper bound of the share of its calibration chunks the certified "
        "cascade loses (how far its accuracy on the paper can fall) must be at most this.",
    )
    min_cascade_offload: float = Field(
        0.2,
        ge=0,
        le=1,
        description="At the certified threshold, the student must decide at least this share of the chunks.",
    )
    min_gold_support: int = Field(
        100, ge=0, description="Reported gold chunks needed for any decision but insufficient-data."
    )
    min_support_per_paper: int = Field(
        20,
        ge=0,
        description="Chunks of a GS paper needed (reported gold, and calibration chunks for its guard) for it to be judged.",
    )


class CascadeSettings(Section):
    confidence_threshold: float | None = Field(
        None,
        ge=0,
        le=1.01,
        description="Below this top probability a chunk goes to the teacher. Unset: the threshold the production model's "
        "cascade was certified at when it was promoted (0.8 for a model promoted without one). Setting it voids the certificate.",
    )
    relevance_band: tuple[float, float] = Field(
        (0.35, 0.65), description="A relevance (1 - p(NOT_RELEVANT)) inside this band also goes to the teacher."
    )
    drift_tolerance: float = Field(
        0.15,
        ge=0,
        description="Warn when the student's mean confidence or deferral rate on a night's chunks differs from validation by more.",
    )
    max_loss: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="ε: the certificate bounds the accuracy the cascade loses against the teacher by this.",
    )
    risk_level: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description="δ: the certificate holds with probability at least 1 − this over the calibration sample.",
    )
    audit_rate: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Each night, this share of the texts the student decided (each drawn independently) is also "
        "answered by the teacher, for the live check (its detector and tonight's upper bound); the tags stay the "
        "student's. At 10,000 chunks a night and 90% offload, 0.2 keeps calm nights (1% disagreement) offloading "
        "about 92% of the time under withhold_unproven, and the detector's median delay for a rise to 4% at 3 nights "
        "or less at any age.",
    )
    calibration_rate: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Each night, this share of the articles (each drawn independently, before routing) is answered "
        "and decided by the teacher on every chunk, whatever the student thinks, stored with its inclusion "
        "probability and never trained on: the calibration draw new candidates are certified on while the cascade "
        "offloads, and the pool `gold export --strategy random|audit` draws from. Its cost is counted beside the "
        "savings.",
    )
    draw_seed: str | None = Field(
        None,
        description="Seeds the nightly calibration draw and audit. Unset: each night's run id (a fresh, unpredictable "
        "draw). Set (the demo, reproducible runs): this string with tonight's texts, so the same news gives the same "
        "draws; still independent of every label, so the guarantees hold, but fix it before seeing data.",
    )
    withhold_unproven: bool = Field(
        True,
        description="The burden of proof on \"holds\": a night's offload stands only while tonight's upper bound of the "
        "certified loss (at 1 - risk_level, from the audit) is at most max_loss; otherwise the teacher decides that "
        "night (not a fallback: the next night is judged afresh).",
    )
    drift_limit: float = Field(
        0.35,
        ge=0,
        description="When the student's mean confidence or deferral rate on a night moves from validation by more than "
        "this, tonight's news may not be like the certificate's: tonight's audit rises to drift_audit_rate and tonight's "
        "offload stands only if that audit proves its loss at most max_loss, whatever withhold_unproven says "
        "(drift_tolerance only warns).",
    )
    drift_audit_rate: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Tonight's audit rate on a night whose scores moved past drift_limit (audit_rate when that is "
        "higher): a harmless shift costs these audit requests, not the night's offload. At 0.5 a night of 500 chunks "
        "the student decides proves a loss of at most 0.02 when its audit finds no disagreement.",
    )
    calibration_fraction: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Share of evaluation-split articles whose random gold calibrates the certificate; the "
        "rest of the evaluation gold is what the report and the seed criteria are computed on.",
    )
    student_languages: tuple[str, ...] = Field(
        ("en",),
        description="Languages the students serve (ISO 639-1 codes, as identified from each article's text at "
        "ingest). Chunks of articles in other languages are never decided or trained on by a student (see other_languages); "
        "an article of unknown language (stored before languages were identified) is served as before.",
    )
    other_languages: Literal["teacher", "skip"] = Field(
        "teacher",
        description="Chunks in a language the students do not serve: 'teacher' has the teacher decide them, 'skip' "
        "leaves them untagged. Either way the tag run's summary counts them by language.",
    )

    @field_validator("student_languages")
    @classmethod
    def _primary_subtags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """'en-IN' and 'EN' are 'en': stored languages are bare lower-case ISO 639-1 codes."""
        codes = tuple(dict.fromkeys(v.strip().lower().replace("_", "-").split("-")[0] for v in value))
        if not all(codes):
            raise ValueError("an empty language code")
        return codes


RETIRED = {
    ("gate", "max_gap_to_teacher"): "the gate promotes on the cascade's certificate, whose bound is cascade.max_loss",
    ("cascade", "accuracy_tolerance"): "the threshold is certified at cascade.max_loss, not chosen on gold",
}


class LimitsSettings(Section):
    """Prefect global concurrency limits, shared by every flow run that talks to one Prefect API."""

    enabled: bool = Field(False, description="Enforce them: for runs of several processes sharing a Prefect server.")
    teacher_requests: int = Field(32, gt=0, description="Teacher requests in flight across all runs and processes.")
    duckdb_writer: int = Field(1, gt=0, description="Bulk writers at once (DuckDB has one writing process per file).")


class RunnerSettings(Section):
    """Where ingest and annotate batches run: this process's threads, or a Dask cluster."""

    kind: Literal["threads", "dask"] = Field(
        "threads",
        description="'threads': a flow's batches (ingest, backfill, annotate, tag, study arms) run in its own thread "
        "pool; 'dask': on a Dask cluster (dask_address, else a local one).",
    )
    dask_address: str | None = Field(
        None, description="Scheduler of an existing cluster (tcp://host:8786); none = a local one."
    )
    dask_workers: int = Field(2, gt=0, description="Workers of the local cluster started when no address is given.")


class PrefectSettings(Section):
    """How a command reaches Prefect when PREFECT_API_URL is unset (a temporary server)."""

    startup_timeout_s: float = Field(
        300.0,
        gt=0,
        description="How long to wait for the temporary Prefect API server to start (a busy machine needs more than 20 s).",
    )


class InputsSettings(Section):
    """Where a run of a Prefect deployment may read the files its parameters name (upscway/inputs.py)."""

    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Folders besides the data folder and deployments/ (a command run in this process reads any file its user names).",
    )


class _ProfileSource(TomlConfigSettingsSource):
    """The profile TOML, named by the `profile` argument or `UPSCWAY_PROFILE`."""

    def __init__(self, settings_cls: type[BaseSettings], profile: str):
        super().__init__(settings_cls, toml_file=profile_path(profile))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTING, extra="forbid", allow_inf_nan=False
    )

    profile: str = Field(
        DEFAULT_PROFILE,
        description="The profile: deployments/profiles/<name>.toml sets what arguments and the environment do not "
        "(`--profile` or UPSCWAY_PROFILE).",
    )
    data_dir: Path = Field(
        Path("data"),
        description="The data folder: the DuckDB file upscway.duckdb, staged batches, models, reports and studies; "
        "made absolute.",
    )
    storage: StorageSettings = Field(
        StorageSettings(), description="How long to wait for another process's lock on the DuckDB file."
    )
    sql: SqlSettings = Field(
        SqlSettings(), description="Bounds on the SQL a person types (`upscway sql`, `upscway query`)."
    )
    task: TaskSettings = Field(TaskSettings(), description="The labelling task: its labels, descriptions and prompt.")
    ingest: IngestSettings = Field(
        IngestSettings(), description="Fetching feeds and pages, extracting their text, and the scraping workers."
    )
    chunk: ChunkSettings = Field(ChunkSettings(), description="How an article's text is cut into token-bounded chunks.")
    teacher: TeacherSettings = Field(
        TeacherSettings(), description="The teacher that labels chunks: its backend, model, server and request limits."
    )
    distill: DistillSettings = Field(
        DistillSettings(),
        description="Training students (the KD trainer's knobs), the data splits, and which chain trains when.",
    )
    gate: GateSettings = Field(
        GateSettings(), description="The promotion gate: what a student's certified cascade must reach to be promoted."
    )
    cascade: CascadeSettings = Field(
        CascadeSettings(),
        description="Routing chunks between student and teacher: the certificate, the nightly audit and the "
        "calibration draw.",
    )
    limits: LimitsSettings = Field(
        LimitsSettings(), description="Prefect global concurrency limits shared by every run on one Prefect API."
    )
    runner: RunnerSettings = Field(
        RunnerSettings(), description="Where ingest, backfill, annotate and tag batches and study arms run."
    )
    prefect: PrefectSettings = Field(
        PrefectSettings(), description="How a command reaches Prefect when PREFECT_API_URL is unset."
    )
    inputs: InputsSettings = Field(
        InputsSettings(), description="Where a Prefect deployment's run may read the files its parameters name."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Absolute, so the paths stored under it (a model's folder) hold from any directory."""
        return value.expanduser().absolute()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        profile = init_settings.init_kwargs.get("profile") or os.environ.get("UPSCWAY_PROFILE") or DEFAULT_PROFILE
        return (init_settings, env_settings, _ProfileSource(settings_cls, profile))

    @model_validator(mode="after")
    def _writers_outwait_queries(self) -> Settings:
        if self.storage.lock_timeout_s < self.sql.timeout_s + LOCK_MARGIN_S:
            raise ValueError(
                f"storage.lock_timeout_s ({self.storage.lock_timeout_s:g}) must be at least sql.timeout_s ({self.sql.timeout_s:g}) "
                f"+ {LOCK_MARGIN_S:g} s, so that a writer outwaits any query a person runs"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _retired_settings(cls, data: Any) -> Any:
        """Settings the certificate replaced are ignored, with a warning naming what replaced them
        (a profile written for an older version still loads)."""
        if not isinstance(data, dict):
            return data
        for (section, key), instead in RETIRED.items():
            values = data.get(section)
            if isinstance(values, dict) and key in values:
                data = {**data, section: {k: v for k, v in values.items() if k != key}}
                warnings.warn(
                    f"the setting {section}.{key} is no longer used and is ignored: {instead}",
                    FutureWarning,
                    stacklevel=2,
                )
        return data

    @model_validator(mode="before")
    @classmethod
    def _deprecated_task_file(cls, data: Any) -> Any:
        """`teacher.task_file` (before `[task] file`) is still read, with a warning."""
        teacher = data.get("teacher") if isinstance(data, dict) else None
        if isinstance(teacher, dict) and "task_file" in teacher:
            teacher = dict(teacher)
            old = teacher.pop("task_file")
            warnings.warn(
                "the setting teacher.task_file (UPSCWAY_TEACHER__TASK_FILE) is deprecated: "
                "use [task] file (UPSCWAY_TASK__FILE)",
                FutureWarning,
                stacklevel=2,
            )
            task = dict(data.get("task") or {})
            task.setdefault("file", old)
            data = {**data, "teacher": teacher, "task": task}
        return data

    @property
    def database_path(self) -> Path:
        return self.data_dir / "upscway.duckdb"


def profile_path(name: str) -> Path:
    """The TOML of the profile `name`: one of the files in deployments/profiles/, named by its
    stem; anything else (a path, `../x`: a flow's `profile` parameter comes from the Prefect UI
    too) is an unknown profile."""
    known = sorted(p.stem for p in PROFILES_DIR.glob("*.toml") if p.is_file())
    if name not in known:
        raise InputError(f"unknown profile {name!r}: expected one of {', '.join(known)} (files in {PROFILES_DIR})")
    return PROFILES_DIR / f"{name}.toml"


def load_settings(profile: str | None = None, data_dir: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings for a profile; explicit arguments win over the environment and the profile.

    Raises InputError naming the profile and the offending field when validation fails.
    """
    kwargs: dict[str, Any] = dict(overrides)
    if profile is not None:
        kwargs["profile"] = profile
    if data_dir is not None:
        kwargs["data_dir"] = Path(data_dir)
    name = profile or os.environ.get("UPSCWAY_PROFILE") or DEFAULT_PROFILE
    try:
        settings = Settings(**kwargs)
    except ValidationError as exc:
        raise InputError(f"invalid settings (profile {name!r}, environment UPSCWAY_*): {describe(exc)}") from None
    except SettingsError as exc:  # a value pydantic-settings could not even parse (a list as plain text, broken JSON)
        raise InputError(f"invalid settings (profile {name!r}): {_unparsable(exc)}") from None
    unknown = unknown_variables(os.environ, settings)
    if unknown:
        raise InputError("; ".join(unknown))
    return settings


def _unparsable(exc: SettingsError) -> str:
    """Which variable held the value that could not be parsed, and what such a value looks like."""
    text = str(exc)
    section = text.split('field "', 1)[1].split('"', 1)[0] if 'field "' in text else ""
    culprits = sorted(k for k in os.environ if k.upper().startswith(f"{ENV_PREFIX}{section.upper()}"))
    where = ", ".join(culprits) or "the environment"
    return (
        f"{where}: {text}; a list or table is given as JSON, e.g. "
        f"{ENV_PREFIX}INGEST{ENV_NESTING}ALLOW_PRIVATE_NETWORKS='[\"127.0.0.1/32\"]'"
    )


def setting_variables(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> set[str]:
    """Every environment variable that sets a field (a section's name sets it whole, as JSON)."""
    names = set()
    for field_name, field in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        names.add(name)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= setting_variables(kind, name + ENV_NESTING)
    return names


def unknown_variables(environ: dict[str, str], settings: Settings) -> list[str]:
    """`UPSCWAY_*` variables that set nothing (a typo would otherwise be ignored), each with the
    nearest real name. The API key variables (the default one and the one the teacher names) are
    not settings and are allowed."""
    keys = {TeacherSettings.model_fields["api_key_env"].default, settings.teacher.api_key_env}
    retired = {f"{ENV_PREFIX}{section.upper()}{ENV_NESTING}{key.upper()}" for section, key in RETIRED}
    known = setting_variables() | NOT_SETTINGS | retired | {key.upper() for key in keys}
    found = []
    for name in sorted(environ):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            near = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            found.append(f"unknown setting {name} in the environment" + (f" (did you mean {near[0]}?)" if near else ""))
    return found
