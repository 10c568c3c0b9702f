"""Where the project's own files (SQL, profiles, feeds, demo data) live, installed or not.

The repository's sql/ and deployments/ are installed as the packages `upscway.sql` and
`upscway.deployments`, so the same lookup works from an editable checkout and from a wheel.
"""

from __future__ import annotations

from pathlib import Path

import upscway.deployments
import upscway.sql

SQL_DIR = Path(upscway.sql.__file__).resolve().parent
DEPLOYMENTS_DIR = Path(upscway.deployments.__file__).resolve().parent
PROFILES_DIR = DEPLOYMENTS_DIR / "profiles"


def resolve_project_file(path: Path | str) -> Path:
    """Return `path` as given when it exists, else the same relative path inside the project.

    `deployments/feeds.yaml` then works from any working directory, while a user's own file
    always wins.
    """
    path = Path(path)
    if path.exists() or path.is_absolute():
        return path
    parts = path.parts
    if parts and parts[0] == "deployments":
        candidate = DEPLOYMENTS_DIR.joinpath(*parts[1:])
        if candidate.exists():
            return candidate
    return path
