#!/usr/bin/env python3
"""Writes Tests/Fixtures/llama/: two tiny random transformers LlamaForCausalLM models as real Hugging Face
directories (config.json + model.safetensors, exactly what save_pretrained writes) and logits.json, the logits
that transformers computes for a few token sequences after loading each directory back in float32.

  gqa_untied: 2 layers, hidden 64, 4 heads, 2 kv heads (GQA), intermediate 160, vocab 300, untied lm_head,
              rope_theta 5000, rms_norm_eps 1e-6; weights rounded to bfloat16 and stored as BF16 (half the bytes,
              and the loaded float32 model is the same function).
  tied_mha:   2 layers, hidden 32, 2 heads (kv = heads), intermediate 96, vocab 300, tied embeddings,
              default rope_theta 10000, rms_norm_eps 1e-5, stored as F32.
  mistral_mqa: a MistralForCausalLM (model_type mistral, sliding window longer than the context): 1 layer,
              hidden 32, 2 heads, 1 kv head (multi-query), intermediate 64, untied, F32; logits of the first
              sequence only.

Used only to generate the fixture (Python is never needed at run time):
  /work/venv-torch/bin/python tools/make_llama_fixture.py
"""
import json
import os
import shutil

import torch
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "llama")
IDS = [[3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26, 43, 38, 32, 79, 50, 28, 84, 197, 169, 39, 93, 299],
       [0, 1, 2, 3, 4, 5, 6],
       [271, 82, 81, 82, 84, 5]]


def make(name, seed, dtype, family=(LlamaConfig, LlamaForCausalLM), sequences=IDS, **kw):
    torch.manual_seed(seed)
    config = family[0](vocab_size=300, max_position_embeddings=64, initializer_range=0.1, **kw)
    model = family[1](config).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):  # RMSNorm gains start at 1: perturb so the test sees every tensor
                p.add_(torch.randn_like(p) * 0.2)
            if dtype == torch.bfloat16:
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    model.to(dtype).save_pretrained(out)
    for extra in os.listdir(out):  # keep only what the test reads
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out, extra))
    back = family[1].from_pretrained(out, dtype=torch.float32).eval()
    rows = []
    with torch.no_grad():
        for ids in sequences:
            logits = back(torch.tensor([ids])).logits[0]
            rows.append([[float(f"{x:.8g}") for x in row] for row in logits.tolist()])
    return {"ids": sequences, "logits": rows}


doc = {
    "gqa_untied": make("gqa_untied", 0, torch.bfloat16, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, rope_theta=5000.0,
                       rms_norm_eps=1e-6),
    "tied_mha": make("tied_mha", 1, torch.float32, hidden_size=32, intermediate_size=96, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True, rms_norm_eps=1e-5),
    "mistral_mqa": make("mistral_mqa", 2, torch.float32, family=(MistralConfig, MistralForCausalLM), sequences=IDS[:1],
                        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                        num_key_value_heads=1, tie_word_embeddings=False, sliding_window=4096),
}
with open(os.path.join(ROOT, "logits.json"), "w") as f:
    json.dump(doc, f)
print("wrote", ROOT)
