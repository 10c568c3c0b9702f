"""Converting GGUF-loaded weights into a folder that loads on its own (what `make real-models`
does to SmolLM2), checked on the tiny model dressed as a GGUF load."""

import json

import torch
from transformers import AutoModelForCausalLM

from tests.support.tiny_lm import build_tiny_lm
from upscway.tasks.distill.base_models import plain_copy, smollm2_folder


def test_a_gguf_loaded_model_is_saved_without_its_quantization_config_and_reloads_the_same(tmp_path):
    loaded = AutoModelForCausalLM.from_pretrained(build_tiny_lm(tmp_path / "base"))
    loaded.config.quantization_config = {"quant_method": "gguf", "gguf_file": "model.Q4_1.gguf", "dequantize": False}
    plain_copy(loaded).save_pretrained(tmp_path / "converted")

    assert "quantization_config" not in json.loads((tmp_path / "converted" / "config.json").read_text())
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "converted")
    ids = torch.tensor([[5, 17, 42, 7]])
    with torch.inference_mode():
        assert torch.equal(loaded(ids).logits, reloaded(ids).logits)


def test_the_converted_model_lives_under_the_data_directory(tmp_path):
    assert smollm2_folder(tmp_path) == tmp_path / "base-models" / "SmolLM2-135M-Instruct"
