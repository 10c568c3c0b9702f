"""What every benchmark script does first and last: run offline, find the project, print JSON.

Import it before anything from the project: `from common import ROOT, emit` (the scripts run
as files, so this folder is on sys.path).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


# The demo profile's first steps on its Indian news (the store the benchmarks build; `make demo`
# adds the wire and production's ε, see the Makefile): the bundled gold, then a first night.
DEMO_FIRST_NIGHT = (
    ["gold", "import", str(ROOT / "deployments" / "demo" / "gold.csv")],
    ["run", "nightly", "--limit", "120"],
)


def emit(result: dict, out: Path | None) -> None:
    """Print the result as JSON, and write it to `out` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")
