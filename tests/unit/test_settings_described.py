"""Every setting says what it does: each field of `Settings`, and of every section reachable
from it, has a non-empty description."""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel, Field

from upscway.settings import Settings


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside Optional/unions, Annotated,
    lists, tuples and dict values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def undescribed(model: type[BaseModel], prefix: str = "", seen: frozenset[type] = frozenset()) -> list[str]:
    """Dotted paths of the fields of `model` and of its nested models that lack a description."""
    missing, seen = [], seen | {model}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if not (field.description or "").strip():
            missing.append(path)
        for nested in _models_in(field.annotation):
            if nested not in seen:  # a model that holds itself is not walked again
                missing += undescribed(nested, f"{path}.", seen)
    return missing


def test_every_setting_has_a_description():
    missing = undescribed(Settings)
    assert not missing, f"settings without a description: {', '.join(missing)}"


class _Inner(BaseModel):
    described: int = Field(1, description="Has one.")
    bare: int = 2


class _Outer(BaseModel):
    name: str = Field("x", description="Has one.")
    inner: _Inner | None = Field(None, description="A nested section.")
    many: dict[str, list[_Inner]] = Field(default_factory=dict, description="Nested in a container.")
    blank: str = Field("", description="  ")


def test_the_walker_names_each_undescribed_field_by_its_path():
    assert undescribed(_Outer) == ["inner.bare", "many.bare", "blank"]
