"""A labelling task as data: ordered labels, their descriptions and verbalizers, the prompt,
and a version derived from all of it, so a changed prompt never mixes with stored answers."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from upscway.config_files import load_yaml_model
from upscway.errors import InputError
from upscway.resources import resolve_project_file

LOGGER = logging.getLogger(__name__)

DEFAULT_TASK_FILE = Path("deployments/tasks/upsc_gs.yaml")


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    verbalizer: str = Field(min_length=1, max_length=4)
    description: str = Field(min_length=10)


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    user: str
    rationale_user: str | None = None


class TaskDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    labels: tuple[Label, ...] = Field(min_length=2)
    not_relevant: str | None = Field(
        None,
        description="The label that means 'serves none' (relevance is 1 − its probability); default: the first label.",
    )
    prompt: Prompt

    @model_validator(mode="after")
    def _distinct(self) -> TaskDefinition:
        for attr in ("name", "verbalizer"):
            values = [getattr(label, attr) for label in self.labels]
            if len(set(values)) != len(values):
                raise ValueError(f"label {attr}s must be distinct, got {values}")
        if "{text}" not in self.prompt.user:
            raise ValueError("prompt.user must contain {text}")
        if self.not_relevant is not None and self.not_relevant not in self.names:
            raise ValueError(f"not_relevant {self.not_relevant!r} is not one of the labels {self.names}")
        return self

    @property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the task's canonical JSON; `not_relevant` naming
        the first label is the default spelt out, so it does not change the version."""
        fields = self.model_dump(mode="json")
        if self.not_relevant_index == 0:
            fields.pop("not_relevant")
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    @property
    def not_relevant_index(self) -> int:
        """The index of the label that means "serves none"."""
        return 0 if self.not_relevant is None else self.names.index(self.not_relevant)

    @property
    def verbalizers(self) -> list[str]:
        return [label.verbalizer for label in self.labels]

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise InputError(f"{name!r} is not a label of task {self.name} ({', '.join(self.names)})") from None

    def system_prompt(self) -> str:
        """The system prompt with the label lines; `{not_relevant_verbalizer}` is the letter of
        the label that serves none (`{first_verbalizer}` is the same letter under its older
        name, which upsc_gs.yaml keeps: renaming it would change the task's version and orphan
        every stored answer)."""
        lines = "\n".join(f"{label.verbalizer} = {label.name}: {label.description}" for label in self.labels)
        none = self.labels[self.not_relevant_index].verbalizer
        return self.prompt.system.format(label_lines=lines, not_relevant_verbalizer=none, first_verbalizer=none)

    def user_prompt(self, text: str, rationale: bool = False) -> str:
        # The chunk cannot close its own delimiter and smuggle text outside it.
        safe = text.replace("</chunk>", "<\\/chunk>")
        template = self.prompt.rationale_user if rationale and self.prompt.rationale_user else self.prompt.user
        return template.format(text=safe)

    def messages(self, text: str, rationale: bool = False) -> list[dict[str, str]]:
        """Chat messages: the static system prompt first (identical across requests, so a
        server's prefix cache serves it), the untrusted chunk last."""
        return [
            {"role": "system", "content": self.system_prompt()},
            {"role": "user", "content": self.user_prompt(text, rationale)},
        ]


def load_task(path: Path | str = DEFAULT_TASK_FILE) -> TaskDefinition:
    return load_yaml_model(resolve_project_file(path), TaskDefinition, "task file")


PROB_SLACK = 1e-6  # rounding a probability may cross 0 or 1 by; more is not a probability


@dataclass
class SoftLabel:
    """One teacher's answer for one chunk: a distribution over the task's labels.

    Built only from finite numbers: probabilities in [0, 1] that sum to 1 and finite counts,
    cost and latency; anything else is a ValueError naming the field (the last line of defence
    before a NaN becomes a stored label, a student's target or a metric)."""

    probs: list[float]
    rationale: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    off_label_mass: float = 0.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        probs = self.probs
        if not probs or not all(_finite(p) and -PROB_SLACK <= p <= 1 + PROB_SLACK for p in probs):
            raise ValueError(f"probabilities must be finite numbers in [0, 1], got {_short(probs)}")
        if abs(math.fsum(probs) - 1.0) > 1e-3:
            raise ValueError(f"probabilities must sum to 1, got {_short(probs)} (sum {math.fsum(probs):.6g})")
        for name in ("cost", "latency_s", "off_label_mass", "tokens_in", "tokens_out"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number at least 0, got {value!r}")

    @property
    def label(self) -> int:
        return max(range(len(self.probs)), key=self.probs.__getitem__)

    @property
    def confidence(self) -> float:
        return max(self.probs)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(values: list) -> str:
    return repr(values[:8]) + (" ..." if len(values) > 8 else "")
