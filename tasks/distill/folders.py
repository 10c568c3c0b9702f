"""Whether a registered model's folder can be loaded, said before a library fails on it.

A model folder that was removed or moved makes transformers read its path as a hub repository
id ("Repo id must be in the form …"), and a truncated weights file fails inside safetensors
("header too large") naming neither the model nor the file. These checks name both, in one
line: a `ModelFilesError` is an InputError, so the CLI exits 2 with it and a flow run fails
with it as its reason. They read a few bytes of each weights file, never the weights.
"""

from __future__ import annotations

import json
import pickle
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from upscway.errors import InputError
from upscway.storage.models import ModelRecord

WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "adapter_model.bin", "quantized-int8.pt")
RESTORE = "restore it from a backup, or use another model (`upscway models list`)"


class ModelFilesError(InputError):
    """A registered model's folder or weights cannot be read: the message names the model and the path."""


def safetensors_problem(file: Path) -> str | None:
    """Why a .safetensors file is not whole (None: it is): its 8-byte header length, the JSON
    header and the byte ranges the header lists must all fit in the file."""
    size = file.stat().st_size
    with open(file, "rb") as handle:
        if size < 8:
            return f"{size} bytes, shorter than its header"
        length = struct.unpack("<Q", handle.read(8))[0]
        if 8 + length > size:
            return f"cut short: {size} bytes, but its header alone says {8 + length}"
        try:
            header = json.loads(handle.read(length))
            end = max((t["data_offsets"][1] for name, t in header.items() if name != "__metadata__"), default=0)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return "its header is not readable"
    if 8 + length + end > size:
        return f"cut short: {size} bytes of the {8 + length + end} its header lists"
    return None


def folder_problem(model: ModelRecord, folder: Path | None = None) -> str | None:
    """Why `model`'s folder (or `folder`, one made from it) cannot be loaded, in one line naming
    the model and the path; None when it can be tried."""
    folder = Path(folder or model.path)
    if not folder.is_dir():
        return f"model {model.id}: its folder {folder} is missing (moved or deleted?): {RESTORE}"
    weights = sorted({f for pattern in WEIGHTS for f in folder.glob(pattern)})
    if not weights:
        return f"model {model.id}: its folder {folder} holds no weights (one of {', '.join(WEIGHTS)}): {RESTORE}"
    for file in (f for f in weights if f.suffix == ".safetensors"):
        problem = safetensors_problem(file)
        if problem:
            return f"model {model.id}: its weights {file} are damaged ({problem}): {RESTORE}"
    return None


def check_folder(model: ModelRecord, folder: Path | None = None) -> Path:
    """The folder, if it can be tried; else a ModelFilesError saying why."""
    problem = folder_problem(model, folder)
    if problem:
        raise ModelFilesError(problem)
    return Path(folder or model.path)


@contextmanager
def loading(model: ModelRecord, folder: Path) -> Iterator[None]:
    """Around a library's load of `folder`: a failure to read its files (not running out of
    memory) becomes one line naming the model and the folder."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as exc:
        if "out of memory" in str(exc).lower():
            raise
        first = (str(exc).splitlines() or [""])[0][:300]
        raise ModelFilesError(
            f"model {model.id} cannot be loaded from {folder}: {type(exc).__name__}: {first}: {RESTORE}"
        ) from exc
