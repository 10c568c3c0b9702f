"""Distillation chains as data (`deployments/chains.yaml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from upscway.config_files import load_yaml_model
from upscway.errors import InputError
from upscway.resources import resolve_project_file
from upscway.tasks.distill.kinds import Head

DEFAULT_CHAINS_FILE = Path("deployments/chains.yaml")


PROFILE_TEACHER = "{teacher}"


class TeacherRef(BaseModel):
    """A stage's teacher: a stored annotator's answers (`annotations`; `{teacher}`: the profile's
    own teacher, whichever backend it is), or an earlier stage's student (`stage`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    annotations: str | None = None
    stage: str | None = None

    def annotator(self, profile_teacher: str) -> str | None:
        """The annotator id of `annotations`, with `{teacher}` read as `profile_teacher`."""
        return profile_teacher if self.annotations == PROFILE_TEACHER else self.annotations

    @model_validator(mode="after")
    def _one(self) -> TeacherRef:
        if (self.annotations is None) == (self.stage is None):
            raise ValueError("a teacher is either `annotations: <annotator id>` or `stage: <earlier stage>`")
        return self


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["encoder", "causal-lm"]
    student: str
    keep_layers: int | None = None
    head: Head = "linear"
    teacher: TeacherRef

    @model_validator(mode="after")
    def _head(self) -> Stage:
        if self.head != "linear" and self.kind != "encoder":
            raise ValueError(f"stage {self.name}: a {self.head} head is an encoder's; a causal-lm student has none")
        return self

    def base_model(self, data_dir: Path) -> str:
        """`student` with `{data_dir}` replaced: a model converted under the data directory
        (`make real-models`) is named without knowing where that directory is."""
        return self.student.replace("{data_dir}", str(data_dir))


class ChainsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chains: dict[str, list[Stage]]


def load_chain(name: str, path: Path | str = DEFAULT_CHAINS_FILE) -> list[Stage]:
    path = resolve_project_file(path)
    chains = load_yaml_model(path, ChainsFile, "chains file").chains
    if name not in chains:
        raise InputError(f"no chain {name!r} in {path}; known: {', '.join(chains)}")
    stages = chains[name]
    seen: set[str] = set()
    for stage in stages:
        if stage.teacher.stage and stage.teacher.stage not in seen:
            raise InputError(
                f"chain {name}: stage {stage.name} is taught by {stage.teacher.stage!r}, which is not an earlier stage"
            )
        seen.add(stage.name)
    return stages
