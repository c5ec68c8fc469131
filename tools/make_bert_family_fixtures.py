#!/usr/bin/env python3
"""Writes tiny random BERT and RoBERTa fixtures under Tests/Fixtures/hf-tiny/ for the importer tests:
  bert-pair/  a BertModel (type_vocab_size 2) and its last hidden states for sentence pairs
              [CLS] A [SEP] B [SEP] with token types 0...0 1...1 (right-padded batch with an attention mask);
  roberta/    a RobertaModel (pad_token_id 1, so positions start at 2) saved with the "roberta." prefix a
              RobertaForX checkpoint carries, and its last hidden states for a right-padded batch.
Each directory holds config.json, model.safetensors and expected.json ({ids, mask, types, hidden [B][T][C]}).
Parameters are redrawn N(0, 0.3) so that every tensor visibly matters. Strata runs no Python; this script only
regenerates the committed fixtures: /work/venv-torch/bin/python tools/make_bert_family_fixtures.py
"""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "Fixtures", "hf-tiny")
COMMON = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
              hidden_act="gelu", layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def write(name, model, config, ids, mask, types, prefix=""):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    model.eval()
    with torch.no_grad():
        kwargs = dict(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
        if types is not None:
            kwargs["token_type_ids"] = torch.tensor(types)
        hidden = model(**kwargs).last_hidden_state
    state = {prefix + k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, "model.safetensors"))
    cfg = config.to_dict()
    keep = ["model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "hidden_act", "layer_norm_eps", "max_position_embeddings", "type_vocab_size", "pad_token_id",
            "position_embedding_type"]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({k: cfg[k] for k in keep if k in cfg}, f, indent=1)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"ids": ids, "mask": mask, "types": types,
                   "hidden": [[[round(float(x), 7) for x in tok] for tok in seq] for seq in hidden.tolist()]}, f)
    print(name, "hidden", tuple(hidden.shape), "tensors", len(state))


def main():
    bert_config = BertConfig(max_position_embeddings=16, type_vocab_size=2, pad_token_id=0, **COMMON)
    torch.manual_seed(0)
    bert = BertModel(bert_config, add_pooling_layer=True)
    randomize(bert, 1)
    # [CLS]=2, [SEP]=3; sentence A then B; the second pair is shorter and padded with 0.
    ids = [[2, 11, 12, 13, 3, 21, 22, 23, 24, 3], [2, 30, 31, 3, 35, 3, 0, 0, 0, 0]]
    types = [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]]
    mask = [[1] * 10, [1] * 6 + [0] * 4]
    write("bert-pair", bert, bert_config, ids, mask, types, prefix="bert.")

    roberta_config = RobertaConfig(max_position_embeddings=14, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
                                   eos_token_id=2, **COMMON)
    torch.manual_seed(0)
    roberta = RobertaModel(roberta_config, add_pooling_layer=True)
    randomize(roberta, 2)
    # <s>=0, </s>=2, <pad>=1; 12 usable positions (14 rows − padding_idx − 1).
    ids = [[0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 2], [0, 20, 21, 22, 2, 1, 1, 1, 1, 1, 1, 1]]
    mask = [[1] * 12, [1] * 5 + [0] * 7]
    write("roberta", roberta, roberta_config, ids, mask, None, prefix="roberta.")


if __name__ == "__main__":
    main()
