"""Distillation chains as data (`deployments/chains.yaml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from upscway.errors import InputError
from upscway.resources import resolve_project_file

DEFAULT_CHAINS_FILE = Path("deployments/chains.yaml")


class TeacherRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    annotations: str | None = None
    stage: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "TeacherRef":
        if (self.annotations is None) == (self.stage is None):
            raise ValueError("a teacher is either `annotations: <annotator id>` or `stage: <earlier stage>`")
        return self


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["encoder", "causal-lm"]
    student: str
    keep_layers: int | None = None
    teacher: TeacherRef


def load_chain(name: str, path: Path | str = DEFAULT_CHAINS_FILE) -> list[Stage]:
    path = resolve_project_file(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        chains = {key: [Stage.model_validate(s) for s in stages] for key, stages in (data.get("chains") or {}).items()}
    except FileNotFoundError:
        raise InputError(f"chains file {path} does not exist") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise InputError(f"chains file {path} is invalid: {exc}") from None
    if name not in chains:
        raise InputError(f"no chain {name!r} in {path}; known: {', '.join(chains)}")
    stages = chains[name]
    seen: set[str] = set()
    for stage in stages:
        if stage.teacher.stage and stage.teacher.stage not in seen:
            raise InputError(f"chain {name}: stage {stage.name} is taught by {stage.teacher.stage!r}, which is not an earlier stage")
        seen.add(stage.name)
    return stages
