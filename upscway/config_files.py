"""Reading a YAML configuration file into a pydantic model, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from upscway.errors import InputError
from upscway.inputs import read_text

M = TypeVar("M", bound=BaseModel)


def describe(error: ValidationError) -> str:
    """`field.path: message; ...` for every problem pydantic found (a default that was not
    computed because another field was invalid is that field's problem, not another one)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
        for e in error.errors()
        if e["type"] != "default_factory_not_called"
    )


def load_yaml_model(path: Path | str, model: type[M], what: str) -> M:
    """`model` validated from the YAML file at `path` (read through `read_text`: a regular file
    of bounded size); every problem is an InputError that says which `what` file ("feeds file",
    "task file") and what is wrong in it, nesting too deep for the parser included."""
    text = read_text(path, what)
    try:
        return model.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise InputError(f"{what} {path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise InputError(f"{what} {path} is invalid: {describe(exc)}") from None
    except RecursionError:
        raise InputError(f"{what} {path} is nested too deeply to be a {what}") from None
