#!/usr/bin/env python3
"""Writes Tests/Fixtures/minilm/gpt2_tiny.json: a randomly initialized tiny GPT-2 (transformers GPT2LMHeadModel)
as config + tensors in Hugging Face names + the logits of one token sequence. Used only to generate the fixture."""
import json
import os

import torch
from transformers import GPT2Config, GPT2LMHeadModel

torch.manual_seed(0)
config = GPT2Config(vocab_size=37, n_positions=16, n_embd=16, n_layer=2, n_head=2, resid_pdrop=0, embd_pdrop=0,
                    attn_pdrop=0)
model = GPT2LMHeadModel(config).eval()
with torch.no_grad():
    for p in model.parameters():  # LayerNorms start at 1/0: perturb so the test sees every tensor
        p.add_(torch.randn_like(p) * 0.05)
ids = [3, 14, 15, 9, 2, 6, 5, 35, 8, 9, 7, 9]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight" and not k.endswith(".attn.bias")
         and not k.endswith(".attn.masked_bias")}
doc = {
    "config": {k: getattr(config, k) for k in ["model_type", "vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                                                "n_inner", "activation_function", "layer_norm_epsilon"]},
    "tensors": {k: {"shape": list(v.shape), "data": [float(f"{x:.8g}") for x in v.flatten().tolist()]}
                for k, v in state.items()},
    "ids": ids,
    "logits": [[float(f"{x:.8g}") for x in row] for row in logits.tolist()],
}
out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "minilm", "gpt2_tiny.json")
with open(out, "w") as f:
    json.dump(doc, f)
print("wrote", out, len(state), "tensors")
