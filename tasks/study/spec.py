"""A study spec (`deployments/studies/*.yaml`): the arms to train and compare, as data.

Every arm is the spec's `base` settings with some axes changed. The axes are the loss balance
`alpha`, the KD `temperature`, Gaussian `noise_sigma` on the teacher's logits, the `teacher`
(an annotator id in the store, `profile` for the profile's teacher, `production` for the
student that holds the production alias), the `student` (base model, layers kept, full or LoRA
tuning), `quantization` (none or INT8) and `confidence_weighting`. `grid` crosses lists of
values; `arms` adds single arms (overrides of `base`). Each arm trains with `budget.seeds`
seeds (`quick` instead with `--quick`). `reference` picks the arm the others are paired
against, and each claim (a finding of a reference report) names two arms and what the report
says about them, so the report can say whether our data reproduce it.

Every problem is an InputError naming the file and the key (`grid.temperature.2: ...`).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from upscway.config_files import describe, load_yaml_model
from upscway.resources import resolve_project_file
from upscway.tasks.distill.kinds import Head


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StudentSpec(_Frozen):
    """A student: its base model, the layers kept (an encoder, pruned from the top), and how
    it is tuned (an encoder in full, a causal LM with LoRA: what the trainer supports)."""

    base: str = Field("all-MiniLM-L6-v2", min_length=1)
    kind: Literal["encoder", "causal-lm"] = "encoder"
    keep_layers: int | None = Field(None, gt=0)
    head: Head = "linear"
    tuning: Literal["full", "lora"] = "full"

    @model_validator(mode="after")
    def _supported(self) -> StudentSpec:
        expected = "full" if self.kind == "encoder" else "lora"
        if self.tuning != expected:
            raise ValueError(f"a {self.kind} student is tuned {expected} here, not {self.tuning}")
        if self.keep_layers is not None and self.kind != "encoder":
            raise ValueError("keep_layers prunes an encoder; a causal-lm student keeps its layers")
        if self.head != "linear" and self.kind != "encoder":
            raise ValueError(f"a {self.head} head is an encoder's; a causal-lm student has none")
        return self

    @property
    def label(self) -> str:
        name = Path(self.base).name
        name = f"{name}[:{self.keep_layers}]" if self.keep_layers else name
        return f"{name}+{self.head}" if self.head != "linear" else name


class ArmSettings(_Frozen):
    """Everything one arm varies. The defaults are the demo chain's first student taught by
    the profile's teacher with the KD loss at T = 2, α = 0.5."""

    alpha: float = Field(0.5, ge=0, le=1)
    temperature: float = Field(2.0, gt=0)
    noise_sigma: float = Field(0.0, ge=0)
    teacher: str = Field("profile", min_length=1)
    student: StudentSpec = StudentSpec(keep_layers=3)
    quantization: Literal["none", "int8"] = "none"
    confidence_weighting: Literal["off", "top_probability", "entropy"] = "off"

    @model_validator(mode="after")
    def _quantizable(self) -> ArmSettings:
        if self.quantization == "int8" and self.student.kind != "encoder":
            raise ValueError("quantization int8 is for encoder students")
        return self

    def value(self, axis: str) -> str:
        """How the axis's value is shown in an arm's name."""
        value = getattr(self, axis)
        return (
            value.label if isinstance(value, StudentSpec) else f"{value:g}" if isinstance(value, float) else str(value)
        )


AXES = tuple(ArmSettings.model_fields)
SHORT = {"alpha": "α", "temperature": "T", "noise_sigma": "σ", "confidence_weighting": "weighting"}


def _axis(name: str):
    field = ArmSettings.model_fields[name]
    return Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation


_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
# The same axes, each optional (an arm's overrides, an arm selector) or a list (a grid), with
# the same constraints: a bad value is reported at its own key.
Overrides = create_model("Overrides", __config__=_FROZEN, **{a: (_axis(a) | None, None) for a in AXES})
Grid = create_model(
    "Grid", __config__=_FROZEN, **{a: (Annotated[list[_axis(a)], Field(min_length=1)] | None, None) for a in AXES}
)


class Budget(_Frozen):
    seeds: int = Field(3, ge=2, description="Training seeds per arm (at least 2: a standard deviation needs two).")
    epochs: float = Field(10.0, gt=0)
    max_train_examples: int | None = Field(
        None, gt=0, description="Train on at most this many examples (the first, in a fixed order)."
    )


class Claim(_Frozen):
    """A finding of a reference report, as a comparison of two arms on the gold accuracy:
    `better` (the arm beats `against`), `worse`, or `not_worse` (it loses at most `margin`)."""

    says: str
    source: str
    arm: Overrides  # type: ignore[valid-type]
    against: Overrides  # type: ignore[valid-type]
    expect: Literal["better", "worse", "not_worse"]
    margin: float = Field(0.0, ge=0, le=1)


class Arm(_Frozen):
    name: str
    settings: ArmSettings


class StudySpec(_Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    base: ArmSettings = ArmSettings()
    grid: Grid = Grid()  # type: ignore[valid-type]
    arms: list[Overrides] = []  # type: ignore[valid-type]
    reference: Overrides = Overrides()  # type: ignore[valid-type]
    budget: Budget = Budget()
    quick: Budget = Budget(seeds=2, epochs=2, max_train_examples=160)
    claims: list[Claim] = []

    @model_validator(mode="after")
    def _arms_resolve(self) -> StudySpec:
        arms = self.expanded()
        if len(arms) < 2:
            raise ValueError("a study needs at least two distinct arms (grid and arms give one)")
        self.select(self.reference, "reference")
        for i, claim in enumerate(self.claims):
            self.select(claim.arm, f"claims.{i}.arm")
            self.select(claim.against, f"claims.{i}.against")
        return self

    def _settings(self) -> list[ArmSettings]:
        """Every arm's settings, in the spec's order, without repeats."""
        grid = {a: v for a, v in self.grid.model_dump(exclude_none=True).items()}
        combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else []
        extra = [o.model_dump(exclude_none=True) for o in self.arms]
        base = self.base.model_dump()
        found: list[ArmSettings] = []
        for i, overrides in enumerate(combos + extra):
            try:
                settings = ArmSettings.model_validate({**base, **overrides})
            except ValidationError as exc:
                where = f"arms.{i - len(combos)}" if i >= len(combos) else "grid"
                raise ValueError(f"{where}: {describe(exc)}") from None
            if settings not in found:
                found.append(settings)
        return found

    def expanded(self) -> list[Arm]:
        """The arms, each named by its values on the axes that vary across the study."""
        settings = self._settings()
        varying = [a for a in AXES if len({s.value(a) for s in settings}) > 1]
        return [Arm(name=", ".join(f"{SHORT.get(a, a)}={s.value(a)}" for a in varying), settings=s) for s in settings]

    def select(self, selector, key: str) -> Arm:
        """The one arm whose settings have the selector's values (an empty one: the base arm)."""
        wanted = selector.model_dump(exclude_none=True)
        target = ArmSettings.model_validate({**self.base.model_dump(), **wanted})
        matches = [arm for arm in self.expanded() if arm.settings == target]
        if not matches:
            shown = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "the base settings"
            raise ValueError(f"{key}: no arm of the study has {shown}")
        return matches[0]

    def for_run(self, quick: bool) -> StudySpec:
        """The spec as run: with `--quick`, the quick budget in place of the full one."""
        return self.model_copy(update={"budget": self.quick}) if quick else self


def load_spec(path: Path | str, quick: bool = False) -> StudySpec:
    """The validated spec at `path` (relative paths also found under the project), as run."""
    return load_yaml_model(resolve_project_file(path), StudySpec, "study spec").for_run(quick)
