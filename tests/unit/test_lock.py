"""requirements.lock is the install: it agrees with pyproject.toml, and this environment is it.

`make setup` installs exactly the lock (pip-sync), so a dependency added to pyproject.toml
without `make lock`, a pin changed on one side only, or a package installed by hand shows
up here instead of as a difference between one machine and the next.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "upscway"


def locked() -> dict[str, tuple[str, set[str]]]:
    """name → (version, who asked for it) from the pip-compile output."""
    pins: dict[str, tuple[str, set[str]]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if pin := re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip()):
            name = canonicalize_name(pin[1])
            pins[name] = (pin[2], set())
        elif name and (via := re.fullmatch(r"#\s+(?:via\s+)?(\S+)(?: \(pyproject\.toml\))?", line.strip())):
            pins[name][1].add(canonicalize_name(via[1]))
    return pins


def direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_every_dependency_of_pyproject_is_locked_at_a_version_it_allows():
    pins = locked()
    for requirement in direct_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is in pyproject.toml but not in requirements.lock: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"pyproject.toml asks for {requirement}, requirements.lock pins {version}: run `make lock`"
        )


def test_the_lock_asks_for_nothing_pyproject_dropped():
    direct = {canonicalize_name(r.name) for r in direct_requirements()}
    stale = sorted(name for name, (_, via) in locked().items() if PROJECT in via and name not in direct)
    assert not stale, f"requirements.lock still pins {stale} for upscway: run `make lock`"


def test_this_environment_is_exactly_the_lock():
    pins = {name: version for name, (version, _) in locked().items()}
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if canonicalize_name(d.metadata["Name"]) != PROJECT
    }
    assert installed == pins, {
        "installed, not locked": sorted(set(installed) - set(pins)),
        "locked, not installed": sorted(set(pins) - set(installed)),
        "other version": sorted(
            f"{n} {installed[n]} != {pins[n]}" for n in set(pins) & set(installed) if installed[n] != pins[n]
        ),
    }
