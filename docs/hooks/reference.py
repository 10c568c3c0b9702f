"""MkDocs hook: add the generated reference pages (tools/reference_pages.py) to the site."""

import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.reference_pages import pages  # noqa: E402


def on_files(files, config):
    for uri, content in pages(ROOT).items():
        files.append(File.generated(config, uri, content=content))
    return files
