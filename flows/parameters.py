"""Flow parameters. The nightly flow's are pydantic models: the Prefect UI draws a form for
each (a section per step, with these descriptions), and a deployment's `parameters` are
validated against them before a run starts.

A parameter that names a file (`--feeds`, `--spec`, `--urls`, `--html-dir`) goes through
`parameter_file` at the start of its flow, so a run started from the CLI and one started from
the Prefect UI are checked by the same code. Who may name which file: a flow called in this
process (the CLI, a test, a notebook) reads whatever its caller names, since the caller runs
with its own rights and could open the file itself; confining it would protect nothing and
would refuse a person's own files (a feeds file in their home, a pytest `tmp_path`). A run of a
Prefect deployment (started from the UI's form, `prefect deployment run`, a schedule or an
automation) takes its parameters from whoever can reach the Prefect API and reads them with
the serving process's rights: a file it names must lie under an allowed root (`allowed_roots`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from upscway.errors import InputError
from upscway.resources import DEPLOYMENTS_DIR, resolve_project_file
from upscway.settings import Settings

SKIPPABLE = ("ingest", "tag", "distill", "promote")  # the steps a nightly run can be told to leave out


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run this step.")


class IngestStep(_Step):
    source: str | None = Field(None, description="Only this source of the feeds file (default: every enabled source).")
    limit: int | None = Field(None, ge=1, description="Fetch at most this many new pages.")


class TagStep(_Step):
    since: str | None = Field(None, description="Only chunks of articles published on or after YYYY-MM-DD.")
    limit: int | None = Field(None, ge=1, description="Tag at most this many chunks.")


class DistillStep(_Step):
    chain: str | None = Field(None, description="Chain in deployments/chains.yaml (default: the profile's).")
    min_new_teacher_labels: int | None = Field(
        None,
        ge=0,
        description="Retrain when at least this many teacher labels arrived since the chain last trained "
        "(default: the profile's distill.min_new_teacher_labels; 0 = always).",
    )


class PromoteStep(_Step):
    """Evaluate the chain's last student on gold and move `production` to it if the gate passes."""


def allowed_roots(settings: Settings) -> list[Path]:
    """The folders a deployment's run may read parameter files from: the data folder, the
    project's deployments/ (the bundled feeds, specs and demo data) and `inputs.allowed_roots`."""
    return [settings.data_dir, DEPLOYMENTS_DIR, *settings.inputs.allowed_roots]


def deployment_run() -> bool:
    """Whether this code runs in a run of a Prefect deployment, or in a subflow of one."""
    from prefect.runtime import deployment

    return deployment.id is not None


def parameter_file(settings: Settings, flag: str, value: str | Path | None) -> Path | None:
    """The file (or folder) the parameter `flag` names, as the run will read it
    (`resolve_project_file`), or None when it is not given. In a deployment's run it must lie,
    links resolved, under one of `allowed_roots`, or an InputError names the parameter."""
    if value is None or value == "":
        return None
    path = resolve_project_file(value)
    if deployment_run():
        roots = [Path(root).expanduser().resolve() for root in allowed_roots(settings)]
        if not any(path.resolve().is_relative_to(root) for root in roots):
            shown = ", ".join(map(str, roots))
            raise InputError(
                f"{flag} {value}: a deployment's run reads files only under {shown} (inputs.allowed_roots adds folders)"
            )
    return path


def check_data_dir(settings: Settings, served: Settings) -> None:
    """A deployment's run may not move the data folder: `data_dir` is a parameter anyone who can
    reach the Prefect API can set, and the data folder is both where the run writes and one of
    the roots it may read from, so a run pointing it at `/` or `/etc` would widen its own
    confinement. `served` is the serving process's own settings (the same profile, no
    `data_dir`); a run whose data folder differs is an InputError naming the parameter."""
    if deployment_run() and settings.data_dir.resolve() != served.data_dir.resolve():
        raise InputError(
            f"data_dir {settings.data_dir}: a deployment's run uses the data folder it was served with "
            f"({served.data_dir.resolve()}); serve another data folder to run on it"
        )
