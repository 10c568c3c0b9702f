"""Reading a YAML configuration file into a pydantic model, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from upscway.errors import InputError

M = TypeVar("M", bound=BaseModel)


def describe(error: ValidationError) -> str:
    """`field.path: message; ...` for every problem pydantic found (a default that was not
    computed because another field was invalid is that field's problem, not another one)."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors() if e["type"] != "default_factory_not_called")


def load_yaml_model(path: Path | str, model: type[M], what: str) -> M:
    """`model` validated from the YAML file at `path`; every problem is an InputError that
    says which `what` file ("feeds file", "task file") and what is wrong in it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{what} {path} is not valid YAML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{what} {path} is invalid: {describe(exc)}") from None
