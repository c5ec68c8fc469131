#!/usr/bin/env python3
"""MQAR in PyTorch: the cross-check for Strata's `strata tasks run mqar` (docs/tasks.md, "MQAR").

Two model families:

* `--mixer baseline` (the default): a plain 2-layer softmax decoder, the shape of configs/catalog/baseline.json
  at width 64, 2 heads (pre-LayerNorm, learned positions, GELU MLP), with its own generator of Strata's sequence
  layout. It shows that a plain decoder learns this setting slowly in PyTorch too.
* `--mixer softmax_attention | gla | mamba2`: Zoology's MQAR model, configs/tasks/mqar-<mixer>.json written again
  from the papers' formulations: width 64, one head, learned positions, pre-LayerNorm, no MLPs, layer 0 a BaseConv
  (gated short convolution, kernel 3), layer 1 the mixer under test, final LayerNorm, tied embeddings. The training
  and test sequences are Strata's, bit for bit (Strata's RNG and its `MQARTask` generator, the training and
  evaluation streams of `TaskRunner` for `--seed`), and so are the optimizer (AdamW 0.9/0.95, eps 1e-8, decay on
  matrix weights only, warmup 20 then cosine to 10%, global clip 1) and the evaluation (`--eval-batches` × `--batch`
  held-out sequences, accuracy at the reappearing keys). Only the weight initialization differs (same
  distributions, PyTorch's generator).

    /work/venv-torch/bin/python bench/mqar_torch.py                                   # baseline, 1,500 steps
    /work/venv-torch/bin/python bench/mqar_torch.py --mixer gla --steps 1500           # Zoology shape
    /work/venv-torch/bin/python bench/mqar_torch.py --mixer mamba2 --steps 6000 --lr 3e-3

The matching Strata command: `strata tasks run mqar configs/tasks/mqar-<mixer>.json --knob pairs=8
--knob length=64 --lr 3e-3 --steps N --threads 1`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_common import StrataRNG, MASK64, cosine_multiplier, clip_grad_norm

MIXERS = ["baseline", "softmax_attention", "gla", "mamba2"]
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--mixer", choices=MIXERS, default="baseline")
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--seed", type=int, default=1, help="Strata's --seed: selects the training and test streams")
ap.add_argument("--init-seed", type=int, default=0, help="PyTorch's generator for the weights")
ap.add_argument("--eval-batches", type=int, default=8)
ap.add_argument("--pairs", type=int, default=8)
ap.add_argument("--length", type=int, default=64)
ap.add_argument("--vocab", type=int, default=128)
ap.add_argument("--dim", type=int, default=64)
ap.add_argument("--state", type=int, default=16, help="mamba2: state size N per head")
ap.add_argument("--tau", type=float, default=16, help="gla: gate temperature")
ap.add_argument("--log-every", type=int, default=250)
ap.add_argument("--strata-weights", metavar="FILE", help="instead of training: load these Strata weights (safetensors, "
                "as bench/mqar_strata_dump.swift writes them) and compare logits on the first test batch with --strata-logits")
ap.add_argument("--strata-logits", metavar="FILE", help="Strata's logits [16, T, V] (float32, raw) for --strata-weights")
args = ap.parse_args()
torch.set_num_threads(args.threads)
V, P, T, C = args.vocab, args.pairs, args.length, args.dim


# ---------------------------------------------------------------------------------------------------------
# Strata's MQARTask.batch (Sources/StrataTrain/Tasks/RecallTasks.swift) on Strata's RNG, bit for bit.

class TaskRNG(StrataRNG):
    def below(self, n):
        return self.next() % n

    def distinct(self, k, n):
        pool = list(range(n))
        for i in range(k):
            j = i + self.below(n - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def strata_batch(rng, n, queries=None):
    queries = queries or P
    inp = torch.zeros(n, T, dtype=torch.long)
    tgt = torch.full((n, T), -100, dtype=torch.long)
    key_count, value_count = V // 2 - 1, V - V // 2
    for b in range(n):
        keys = [k + 1 for k in rng.distinct(P, key_count)]
        vals = [V // 2 + rng.below(value_count) for _ in range(P)]
        for i in range(P):
            inp[b, 2 * i], inp[b, 2 * i + 1] = keys[i], vals[i]
        start = 2 * P
        slots = (T - start) // 2
        picked = rng.distinct(queries, P)
        chosen = sorted(rng.distinct(queries, slots))
        for q, s in zip(picked, chosen):
            p = start + 2 * s
            inp[b, p], inp[b, p + 1], tgt[b, p] = keys[q], vals[q], vals[q]
    return inp, tgt


def training_rng(seed):   # TaskRunner.trainingRNG
    return TaskRNG((seed * 0x9E3779B97F4A7C15 + 1) & MASK64)


def evaluation_rng(seed):  # TaskRunner.evaluationRNG
    return TaskRNG((seed * 0xD1B54A32D192ED03 + 0x7E57) & MASK64)


# ---------------------------------------------------------------------------------------------------------
# Zoology's MQAR model as configs/tasks/mqar-<mixer>.json builds it in Strata (init as in the Strata sources).

STD = 0.02
RESIDUAL_STD = STD / math.sqrt(2 * 2)   # GPT-2's 1/sqrt(2L), L = 2 (BuildContext.residualInitStd)


def linear(i, o, bias, std):
    m = nn.Linear(i, o, bias=bias)
    nn.init.normal_(m.weight, std=std)
    if bias:
        nn.init.uniform_(m.bias, -1 / math.sqrt(i), 1 / math.sqrt(i))   # Strata's default bias init
    return m


class ShortConv(nn.Module):
    """Causal depthwise conv, y_t = b + sum_i w_i * x_{t-K+1+i}; PyTorch's fan-in bound 1/sqrt(K) (ShortConvolution)."""

    def __init__(self, ch, k):
        super().__init__()
        bound = 1 / math.sqrt(k)
        self.k = k
        self.weight = nn.Parameter(torch.empty(ch, 1, k).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(ch).uniform_(-bound, bound))

    def forward(self, x):                      # [B, T, ch]
        y = F.conv1d(F.pad(x.transpose(1, 2), (self.k - 1, 0)), self.weight, self.bias, groups=x.shape[-1])
        return y.transpose(1, 2)


class BaseConv(nn.Module):
    """Zoology's BaseConv: (x W + b1) * (h * x + b2)."""

    def __init__(self):
        super().__init__()
        self.proj = linear(C, C, True, STD)
        self.conv = ShortConv(C, 3)

    def forward(self, x):
        return self.proj(x) * self.conv(x)


class Softmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = linear(C, 3 * C, False, STD)
        self.o = linear(C, C, False, RESIDUAL_STD)

    def forward(self, x):
        q, k, v = self.qkv(x).unsqueeze(1).chunk(3, dim=-1)          # one head: [B, 1, T, C]
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(a.squeeze(1))


class GLA(nn.Module):
    """Gated linear attention (Yang et al., 2024), one head: S_t = diag(a_t) S_{t-1} + k_t^T v_t, o_t = q_t S_t,
    a_t = sigmoid(x W_a1 W_a2 + b)^(1/tau) (rank 16), d_k = d/2, d_v = d, q scaled by d_k^-1/2,
    y = (LayerNorm_head(o) * swish(x W_r)) W_o. The recurrence runs step by step, as written (at T = 64 and a
    32 x 64 state this is cheaper on one thread than the [T, T, d_k] parallel form)."""

    def __init__(self, rank=16):
        super().__init__()
        self.dk, self.dv, self.rank = C // 2, C, rank
        self.proj = linear(C, 2 * self.dk + 2 * self.dv + rank, False, STD)
        self.gate = linear(rank, self.dk, True, STD)
        nn.init.zeros_(self.gate.bias)
        self.norm = nn.LayerNorm(self.dv, eps=1e-5)
        self.o = linear(self.dv, C, False, RESIDUAL_STD)

    def forward(self, x):
        q, k, v, r, g = self.proj(x).split([self.dk, self.dk, self.dv, self.dv, self.rank], dim=-1)
        q = q / math.sqrt(self.dk)
        log_a = F.logsigmoid(self.gate(g)) / args.tau                     # [B, T, dk], <= 0
        a = log_a.exp()
        S = x.new_zeros(x.shape[0], self.dk, self.dv)
        outs = []
        for t in range(x.shape[1]):                                       # the recurrent form, as written
            S = a[:, t, :, None] * S + k[:, t, :, None] * v[:, t, None, :]
            outs.append((q[:, t, None, :] @ S).squeeze(1))
        o = torch.stack(outs, dim=1)                                      # [B, T, dv]
        return self.o(self.norm(o) * F.silu(r))


class Mamba2(nn.Module):
    """Mamba-2 / SSD (Dao & Gu, 2024) as in mamba_ssm's Mamba2 (ngroups 1, rmsnorm, norm_before_gate False):
    in_proj -> (z, xBC, dt); causal depthwise conv (k 4, bias) + SiLU on xBC; dt = softplus(dt + dt_bias);
    A = -exp(A_log); per head h_t = exp(dt A) h_{t-1} + B_t (dt x_t)^T, y_t = C_t^T h_t + D x_t;
    out_proj(RMSNorm(y * silu(z))). Parallel (quadratic) form with the mask exp(segsum(dt A))."""

    def __init__(self, expand=2, headdim=64):
        super().__init__()
        self.inner, self.n = expand * C, args.state
        self.p = min(headdim, self.inner)
        self.h = self.inner // self.p
        self.in_proj = linear(C, 2 * self.inner + 2 * self.n + self.h, False, STD)
        self.conv = ShortConv(self.inner + 2 * self.n, 4)
        self.A_log = nn.Parameter(torch.empty(self.h).uniform_(1, 16).log())
        dt = torch.exp(torch.rand(self.h) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.D = nn.Parameter(torch.ones(self.h))
        self.norm_weight = nn.Parameter(torch.ones(self.inner))
        self.out_proj = linear(self.inner, C, False, RESIDUAL_STD)

    def forward(self, x):
        Bn, Tn, _ = x.shape
        z, xbc, dt = self.in_proj(x).split([self.inner, self.inner + 2 * self.n, self.h], dim=-1)
        u, Bm, Cm = F.silu(self.conv(xbc)).split([self.inner, self.n, self.n], dim=-1)
        u = u.view(Bn, Tn, self.h, self.p).transpose(1, 2)                # [B, H, T, P]
        dt = F.softplus(dt + self.dt_bias).transpose(1, 2)                # [B, H, T]
        g = (dt * -self.A_log.exp()[None, :, None]).cumsum(-1)            # cumulative log-decay
        mask = torch.ones(Tn, Tn, dtype=torch.bool).tril()
        L = (g.unsqueeze(-1) - g.unsqueeze(-2)).masked_fill(~mask, float("-inf")).exp()   # [B, H, t, s]
        scores = (Cm @ Bm.transpose(1, 2)).unsqueeze(1) * L
        y = scores @ (u * dt.unsqueeze(-1)) + u * self.D[None, :, None, None]
        y = y.transpose(1, 2).reshape(Bn, Tn, self.inner) * F.silu(z)
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5) * self.norm_weight
        return self.out_proj(y)


class ZoologyModel(nn.Module):
    def __init__(self, mixer):
        super().__init__()
        self.e = nn.Embedding(V, C)
        nn.init.normal_(self.e.weight, std=STD)
        self.pos = nn.Parameter(torch.randn(T, C) * STD)
        self.mixers = nn.ModuleList([BaseConv(), {"softmax_attention": Softmax, "gla": GLA, "mamba2": Mamba2}[mixer]()])
        self.norms = nn.ModuleList([nn.LayerNorm(C, eps=1e-5) for _ in range(2)])
        self.final = nn.LayerNorm(C, eps=1e-5)

    def forward(self, ids):
        h = self.e(ids) + self.pos[: ids.shape[1]]
        for n, m in zip(self.norms, self.mixers):
            h = h + m(n(h))
        return self.final(h) @ self.e.weight.t()


def matrix_weights(model):
    """Parameters with Strata's `.weight` role (decayed): Linear weights and short-conv taps."""
    return [p for n, p in model.named_parameters()
            if (n.endswith(".weight") and p.dim() >= 2 and not n.startswith("e.")) or n.endswith("conv.weight")]


def run_zoology():
    torch.manual_seed(args.init_seed)
    model = ZoologyModel(args.mixer)
    decay = matrix_weights(model)
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    params = list(model.parameters())
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    print(f"mqar {args.mixer}: {sum(p.numel() for p in params):,} parameters, {args.steps} steps x {args.batch} x {T}",
          flush=True)
    rng = training_rng(args.seed)
    t0 = time.time()
    window = []
    for i in range(args.steps):
        for gr in opt.param_groups:
            gr["lr"] = args.lr * cosine_multiplier(i, args.steps, warmup=20, min_ratio=0.1)
        x, y = strata_batch(rng, args.batch)
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm(params, 1.0)
        opt.step()
        window.append(loss.item())
        if (i + 1) % args.log_every == 0 or i + 1 == args.steps:
            print(f"step {i + 1} loss {sum(window) / len(window):.4f}", flush=True)
            window = []
    train_s = time.time() - t0
    erng = evaluation_rng(args.seed)
    correct = scored = 0
    loss_sum = 0.0
    with torch.no_grad():
        for _ in range(args.eval_batches):
            x, y = strata_batch(erng, args.batch)
            logits = model(x)
            loss_sum += F.cross_entropy(logits.view(-1, V), y.view(-1), ignore_index=-100).item()
            mask = y != -100
            correct += (logits.argmax(-1)[mask] == y[mask]).sum().item()
            scored += mask.sum().item()
    print(f"acc {correct / scored:.4f} ({correct}/{scored})  test_loss {loss_sum / args.eval_batches:.4f}  "
          f"time {train_s:.0f}s", flush=True)


# ---------------------------------------------------------------------------------------------------------
# The plain 2-layer decoder (configs/catalog/baseline.json at width 64), kept as it was.

def run_baseline():
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


def check_against_strata():
    """Same weights, same inputs: Strata's logits against this script's forward pass."""
    import numpy as np
    from safetensors.numpy import load_file
    d = {k: torch.from_numpy(v.copy()) for k, v in load_file(args.strata_weights).items()}
    conv = lambda w: w.t()[:, None, :].contiguous()          # Strata [K, ch] -> PyTorch [ch, 1, K]
    sd = {"e.weight": d["tokenEmbedding.weight"], "pos": d["positional.weight"],
          "final.weight": d["finalNorm.weight"], "final.bias": d["finalNorm.bias"],
          "mixers.0.proj.weight": d["blocks.0.mixer.projection.weight"], "mixers.0.proj.bias": d["blocks.0.mixer.projection.bias"],
          "mixers.0.conv.weight": conv(d["blocks.0.mixer.conv.weight"]), "mixers.0.conv.bias": d["blocks.0.mixer.conv.bias"]}
    for i in range(2):
        sd[f"norms.{i}.weight"] = d[f"blocks.{i}.mixerSite.inputNorm.weight"]
        sd[f"norms.{i}.bias"] = d[f"blocks.{i}.mixerSite.inputNorm.bias"]
    p = "blocks.1.mixer."
    if args.mixer == "gla":
        sd.update({"mixers.1.proj.weight": d[p + "proj.weight"], "mixers.1.gate.weight": d[p + "gate.weight"],
                   "mixers.1.gate.bias": d[p + "gate.bias"], "mixers.1.norm.weight": d[p + "norm.weight"].flatten(),
                   "mixers.1.norm.bias": d[p + "norm.bias"].flatten(), "mixers.1.o.weight": d[p + "out.weight"]})
    elif args.mixer == "mamba2":
        sd.update({"mixers.1.in_proj.weight": d[p + "inProjection.weight"], "mixers.1.conv.weight": conv(d[p + "conv.weight"]),
                   "mixers.1.conv.bias": d[p + "conv.bias"], "mixers.1.A_log": d[p + "aLog"], "mixers.1.dt_bias": d[p + "dtBias"],
                   "mixers.1.D": d[p + "skip"], "mixers.1.norm_weight": d[p + "normWeight"],
                   "mixers.1.out_proj.weight": d[p + "outProjection.weight"]})
    else:
        sd.update({"mixers.1.qkv.weight": d[p + "qkv.weight"], "mixers.1.o.weight": d[p + "out.weight"]})
    model = ZoologyModel(args.mixer)
    model.load_state_dict(sd, strict=True)
    x, _ = strata_batch(evaluation_rng(args.seed), 16)
    with torch.no_grad():
        ref = model(x).numpy()
        for n, prm in model.mixers[1].named_parameters():   # the same model without its layer-1 mixer
            if n in ("o.weight", "out_proj.weight"):
                prm.zero_()
        without = model(x).numpy()
    import os
    batches = os.path.join(os.path.dirname(args.strata_weights), "batches.txt")
    if os.path.exists(batches):                              # the generator, bit for bit
        rows, train = [], training_rng(args.seed)
        for xy in [strata_batch(train, 16), strata_batch(train, 16), strata_batch(evaluation_rng(args.seed), 16)]:
            rows += [" ".join(map(str, t.flatten().tolist())) for t in xy]
        same = rows == open(batches).read().split("\n")[:6]
        print(f"task batches (2 training, 1 test, inputs and targets) identical to Strata's: {same}")
    got = np.fromfile(args.strata_logits, dtype=np.float32).reshape(ref.shape)
    err = float(np.abs(got - ref).max())
    print(f"{args.mixer}: max |strata - torch| logit {err:.2e}, max |logit| {np.abs(ref).max():.3f}, "
          f"relative {err / np.abs(ref).max():.1e}; the layer-1 mixer moves logits by up to {np.abs(ref - without).max():.3f}")


if args.strata_weights:
    check_against_strata()
elif args.mixer == "baseline":
    run_baseline()
else:
    run_zoology()
