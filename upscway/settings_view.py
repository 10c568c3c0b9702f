"""The effective settings, one dotted key a line, and where each value came from (`upscway settings show`).

How it works. The values are those of `load_settings` itself (same validation, same errors). The
sources are pydantic-settings' own: this module builds the four built-in sources as
`Settings.__init__` does (init arguments, `UPSCWAY_*` environment, .env, secrets directory, all
configured from `Settings.model_config`) and hands them to `Settings.settings_customise_sources`,
which returns them in the project's order of priority, highest first (today: the explicit
arguments, then the environment, then the profile TOML). Calling each source gives the dict it
contributes; pydantic-settings merges them by `deep_update`, a higher source's table merged into a
lower one's key by key and anything else replacing it whole. This module merges the same dicts the
same way, each value replaced by the label of its source, so the merged tree says, per key, which
source won. A key no source sets is `default` (a computed default, such as `ingest.workers`, too).

The labels: `flag --data-dir` or `environment UPSCWAY_DATA_DIR` for an explicit argument (as the
caller says it was given; `argument NAME` otherwise), `environment UPSCWAY_X__Y` (the most specific
variable set: a whole section given as JSON, `UPSCWAY_X`, names the section's variable), and
`profile NAME (FILE)` for the profile TOML.

Secrets are masked: a value of a pydantic secret type, or of a key with a part (between dots and
underscores) such as key, token, password or secret, prints as `********` when set (`null` when
not). The API key itself is not a setting (the teacher reads it from the variable `teacher.api_key_env`
names) and never shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Secret, SecretBytes, SecretStr
from pydantic_settings import (
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)

from upscway.settings import Settings, load_settings

DEFAULT = "default"
MASK = "********"
SECRET_WORDS = frozenset({"key", "token", "password", "passwd", "secret", "secrets", "credentials"})
# Settings._deprecated_task_file moves teacher.task_file to task.file when task.file is not set.
MOVED = {("task", "file"): ("teacher", "task_file")}

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    key: str  # dotted, e.g. cascade.max_loss
    value: str  # as JSON, or MASK
    source: str  # DEFAULT, `profile demo (FILE)`, `environment UPSCWAY_X__Y`, `flag --data-dir`


class _Origin:
    """A source's label in place of the value it contributes."""

    def __init__(self, label: str):
        self.label = label


def explain(
    profile: str | None = None,
    data_dir: Path | str | None = None,
    *,
    given_by: Mapping[str, str] | None = None,
    **overrides: Any,
) -> list[Setting]:
    """Every setting of `load_settings(profile, data_dir, **overrides)`, in the order the fields are
    declared, with its source. `given_by` labels explicit arguments, e.g. {"data_dir": "flag --data-dir"}."""
    settings = load_settings(profile, data_dir, **overrides)
    # The explicit arguments as load_settings passes them to Settings (only their names matter here).
    init_kwargs: dict[str, Any] = dict(overrides)
    if profile is not None:
        init_kwargs["profile"] = profile
    if data_dir is not None:
        init_kwargs["data_dir"] = Path(data_dir)
    origins = _merged_origins(init_kwargs, dict(given_by or {}))
    dumped = settings.model_dump(mode="json")
    return [
        Setting(".".join(path), _render(path, raw, plain), _source_of(path, origins))
        for path, raw, plain in _leaves(settings, dumped)
    ]


def lines(settings: list[Setting], sources: bool = False) -> list[str]:
    """`key = value` lines; with `sources`, each followed by `# source`, aligned."""
    pairs = [f"{s.key} = {s.value}" for s in settings]
    if not sources:
        return pairs
    width = min(max((len(p) for p in pairs), default=0), 64)
    return [f"{p.ljust(width)}  # {s.source}" for p, s in zip(pairs, settings)]


def is_secret(path: Path_, value: Any) -> bool:
    """A value of a pydantic secret type, or under a name with a secret-like part (`api_key_secret`
    is; `target_tokens` and `tokenizer` are not, nor `api_key_env`: it names the variable that
    holds the key, which is what a reader needs to see)."""
    if isinstance(value, (SecretStr, SecretBytes, Secret)):
        return True
    if path and str(path[-1]).lower().endswith("_env"):
        return False
    return any(SECRET_WORDS & set(part.lower().split("_")) for part in path)


def _sources(init_kwargs: dict[str, Any]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources pydantic-settings reads for Settings(**init_kwargs), highest priority first."""
    return Settings.settings_customise_sources(
        Settings,
        init_settings=InitSettingsSource(Settings, init_kwargs=init_kwargs),
        env_settings=EnvSettingsSource(Settings),
        dotenv_settings=DotEnvSettingsSource(Settings),
        file_secret_settings=SecretsSettingsSource(Settings),
    )


def _merged_origins(init_kwargs: dict[str, Any], given_by: dict[str, str]) -> dict[str, Any]:
    """The sources' dicts merged as pydantic-settings merges them, each value its source's label."""
    merged: dict[str, Any] = {}
    for source in _sources(init_kwargs):  # highest first: each lower one is merged under the result
        merged = _deep_update(_tagged(source(), (), _labeller(source, given_by)), merged)
    return merged


def _labeller(source: PydanticBaseSettingsSource, given_by: dict[str, str]):
    """path -> the label of the value `source` gives at that path."""
    if isinstance(source, TomlConfigSettingsSource):  # (a file source is an InitSettingsSource too)
        files = source.toml_file_path if isinstance(source.toml_file_path, (list, tuple)) else [source.toml_file_path]
        label = f"profile {Path(files[-1]).stem} ({', '.join(_shown(Path(f)) for f in files)})"
        return lambda path: label
    if type(source) is InitSettingsSource:
        return lambda path: given_by.get(path[0], f"argument {path[0]}")
    if type(source) is EnvSettingsSource:  # (DotEnvSettingsSource is one too)
        return lambda path: f"environment {_variable(source, path)}"
    return lambda path: type(source).__name__


def _variable(source: EnvSettingsSource, path: Path_) -> str:
    """The most specific environment variable set for `path` (a section's own variable holds it as JSON)."""
    nesting = source.env_nested_delimiter or ""
    for end in range(len(path), 0, -1):
        name = source.env_prefix + nesting.join(path[:end])
        for actual in os.environ:
            if actual == name or (not source.case_sensitive and actual.lower() == name.lower()):
                return actual
    return (source.env_prefix + nesting.join(path)).upper()


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _tagged(value: Any, path: Path_, label) -> Any:
    if isinstance(value, dict):
        return {key: _tagged(item, (*path, str(key)), label) for key, item in value.items()}
    return _Origin(label(path))


def _deep_update(lower: dict[str, Any], higher: dict[str, Any]) -> dict[str, Any]:
    """pydantic-settings' merge (pydantic's deep_update): tables merge key by key, anything else replaces."""
    result = dict(lower)
    for key, value in higher.items():
        if isinstance(result.get(key), dict) and isinstance(value, dict):
            result[key] = _deep_update(result[key], value)
        else:
            result[key] = value
    return result


def _origin(path: Path_, merged: dict[str, Any]) -> str | None:
    node: Any = merged
    for part in path:
        if isinstance(node, _Origin):  # a whole section given as one value
            return node.label
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, _Origin):
        return node.label
    found = list(dict.fromkeys(_labels(node)))  # a table-valued field: its keys' sources
    return ", ".join(found) or None


def _labels(node: Any) -> Iterator[str]:
    if isinstance(node, _Origin):
        yield node.label
    elif isinstance(node, dict):
        for item in node.values():
            yield from _labels(item)


def _source_of(path: Path_, merged: dict[str, Any]) -> str:
    found = _origin(path, merged)
    if found is None and path in MOVED:
        found = _origin(MOVED[path], merged)
    return found or DEFAULT


def _leaves(model: BaseModel, dumped: dict[str, Any], path: Path_ = ()) -> Iterator[tuple[Path_, Any, Any]]:
    """(path, value, its JSON form) of every field that is not a section."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _leaves(value, dumped[name], (*path, name))
        else:
            yield (*path, name), value, dumped[name]


def _render(path: Path_, value: Any, plain: Any) -> str:
    if value is not None and is_secret(path, value):
        return MASK
    return json.dumps(plain, ensure_ascii=False)
