"""The nightly flow's parameters as pydantic models: the Prefect UI draws a form for each (a
section per step, with these descriptions), and a deployment's `parameters` are validated
against them before a run starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
        None, ge=0, description="Retrain when at least this many teacher labels arrived since the chain last trained "
        "(default: the profile's distill.min_new_teacher_labels; 0 = always)."
    )


class PromoteStep(_Step):
    """Evaluate the chain's last student on gold and move `production` to it if the gate passes."""
