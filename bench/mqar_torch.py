#!/usr/bin/env python3
"""MQAR on a plain 2-layer softmax decoder in PyTorch: the cross-check for Strata's `strata tasks run mqar`.

The same sequence layout as Strata's `mqar` task (vocabulary 128: filler 0, keys 1..63, values 64..127;
8 key-value pairs, then the 8 keys again at random slot pairs among filler, each followed by its value; loss
and accuracy at the reappearing keys) and the shape of configs/catalog/baseline.json at width 64, 2 layers,
2 heads (pre-LayerNorm, learned positions, GELU MLP), AdamW with warmup and cosine. It shows that a plain
decoder learns this setting slowly in PyTorch too (docs/tasks.md, "MQAR").

    /work/venv-torch/bin/python bench/mqar_torch.py --steps 1500 --lr 3e-3 --batch 16
"""
import argparse
import math
import time

import torch
import torch.nn as nn

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
V, P, T = 128, 8, 64
steps, lr, B = args.steps, args.lr, args.batch
g = torch.Generator().manual_seed(0)
def batch(n):
    inp = torch.zeros(n, T, dtype=torch.long); tgt = torch.full((n, T), -100)
    for b in range(n):
        keys = torch.randperm(V//2-1, generator=g)[:P] + 1
        vals = V//2 + torch.randint(0, V - V//2, (P,), generator=g)
        inp[b, 0:2*P:2] = keys; inp[b, 1:2*P:2] = vals
        slots = (T - 2*P)//2
        picked = torch.randperm(P, generator=g)[:P]
        ch = torch.randperm(slots, generator=g)[:P].sort().values
        for q, s in zip(picked, ch):
            p = 2*P + 2*s
            inp[b, p] = keys[q]; inp[b, p+1] = vals[q]; tgt[b, p] = vals[q]
    return inp, tgt
class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.ln1 = nn.LayerNorm(d); s.ln2 = nn.LayerNorm(d); s.h = h
        s.qkv = nn.Linear(d, 3*d); s.o = nn.Linear(d, d); s.mlp = nn.Sequential(nn.Linear(d, 4*d), nn.GELU(), nn.Linear(4*d, d))
    def forward(s, x):
        Bn, Tn, D = x.shape
        q, k, v = s.qkv(s.ln1(x)).view(Bn, Tn, 3, s.h, D//s.h).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.o(a.transpose(1, 2).reshape(Bn, Tn, D))
        return x + s.mlp(s.ln2(x))
class M(nn.Module):
    def __init__(s, d=64, L=2, h=2):
        super().__init__(); s.e = nn.Embedding(V, d); s.p = nn.Parameter(torch.randn(T, d) * 0.02)
        s.b = nn.ModuleList([Block(d, h) for _ in range(L)]); s.ln = nn.LayerNorm(d); s.head = nn.Linear(d, V)
    def forward(s, x):
        h = s.e(x) + s.p[:x.shape[1]]
        for b in s.b: h = b(h)
        return s.head(s.ln(h))
torch.manual_seed(0)
m = M(); opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.1)
t0 = time.time()
for i in range(steps):
    x, y = batch(B)
    lr_i = lr * min(1, (i+1)/100) * 0.5 * (1 + math.cos(math.pi * i / steps))
    for gr in opt.param_groups: gr['lr'] = lr_i
    loss = nn.functional.cross_entropy(m(x).view(-1, V), y.view(-1), ignore_index=-100)
    opt.zero_grad(); loss.backward(); opt.step()
    if i % 250 == 0: print(i, loss.item(), flush=True)
with torch.no_grad():
    x, y = batch(512); pred = m(x).argmax(-1); mask = y != -100
    print("acc", (pred[mask] == y[mask]).float().mean().item(), "time", time.time() - t0)
