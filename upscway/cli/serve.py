"""`upscway serve`: every deployment of `deployments/prefect.yaml`, served from one process.

The same file drives `prefect deploy` (work pool and workers); here it is read into
`RunnerDeployment`s and handed to `prefect.serve`, so schedules, parameters and descriptions
are defined once. Entrypoints `flows/<module>.py:<flow>` name modules of this package
(`upscway.flows.<module>`), so serving works from any working directory.
"""

from __future__ import annotations

import importlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval
from pydantic import BaseModel, ConfigDict, Field, model_validator

from upscway.config_files import load_yaml_model
from upscway.errors import InputError
from upscway.resources import resolve_project_file
from upscway.settings import Settings

DEPLOYMENTS_FILE = Path("deployments/prefect.yaml")


class ScheduleSpec(BaseModel):
    """A `schedules:` entry as `prefect deploy` reads it: a cron or an interval in seconds."""

    model_config = ConfigDict(extra="ignore")

    cron: str | None = None
    interval: float | None = Field(None, gt=0)
    anchor_date: datetime | None = None
    timezone: str | None = None
    active: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("a schedule needs exactly one of cron or interval")
        return self

    def to_prefect(self) -> Cron | Interval:
        if self.cron is not None:
            return Cron(self.cron, timezone=self.timezone, active=self.active)
        return Interval(self.interval, anchor_date=self.anchor_date, timezone=self.timezone, active=self.active)


class DeploymentSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")  # work_pool etc. matter to `prefect deploy` only

    name: str
    entrypoint: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    concurrency_limit: int | None = None
    schedules: list[ScheduleSpec] = Field(default_factory=list)


class PrefectFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    deployments: list[DeploymentSpec]


def load_flow(entrypoint: str) -> Flow:
    """The flow object an entrypoint `flows/<module>.py:<name>` points at."""
    path, _, name = entrypoint.partition(":")
    parts = Path(path).with_suffix("").parts
    if len(parts) != 2 or parts[0] != "flows" or not name:
        raise InputError(f"entrypoint {entrypoint!r}: expected flows/<module>.py:<flow>")
    try:
        found = getattr(importlib.import_module(f"upscway.flows.{parts[1]}"), name)
    except (ImportError, AttributeError):
        raise InputError(f"entrypoint {entrypoint!r}: no flow {name!r} in flows/{parts[1]}.py") from None
    if not isinstance(found, Flow):
        raise InputError(f"entrypoint {entrypoint!r}: {name} is not a flow")
    return found


def load_deployments(path: Path | str) -> list[RunnerDeployment]:
    """Deployments described in a prefect.yaml, ready for `prefect.serve`."""
    specs = load_yaml_model(path, PrefectFile, "deployments file").deployments
    deployments = []
    for spec in specs:
        flow_obj = load_flow(spec.entrypoint)
        deployments.append(
            flow_obj.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=spec.tags,
                parameters=spec.parameters,
                concurrency_limit=spec.concurrency_limit,
                schedules=[s.to_prefect() for s in spec.schedules],
            )
        )
    return deployments


def serve_deployments(settings: Settings, file: Path | str, limit: int | None) -> None:
    """Serve every deployment of `file` from this process until stopped. The served runs are
    child processes, which read this process's profile and data directory from the environment."""
    from prefect import serve

    from upscway.cli.local_api import prefect_api

    os.environ["UPSCWAY_PROFILE"] = settings.profile
    os.environ["UPSCWAY_DATA_DIR"] = str(settings.data_dir.resolve())
    deployments = load_deployments(resolve_project_file(file))
    with prefect_api(settings.prefect.startup_timeout_s, say=print):
        serve(*deployments, limit=limit)
