#!/usr/bin/env python3
"""nanoGPT-style PyTorch char models trained for a wall-clock budget on Strata's data split, optionally beside
`strata train SPEC --time BUDGET`, reporting validation bits per byte at the end of the budget.

Each PyTorch config `LxDxH@LR` is a GPT (pre-LayerNorm, biased linears, exact GELU MLP 4×, learned positions,
tied embeddings, no dropout; Strata's init) with L layers, width D, H heads, context 256, trained on
data/kjv.txt bytes with batch 8 × 256 (Strata's sampler, bit for bit), AdamW betas 0.9/0.95, weight decay 0.1 on
matrices, 100 warmup steps then a cosine to 0.1·LR over the *time* budget (progress = elapsed / budget), gradient
clip 1.0, until the budget is spent; then it evaluates the first eval_batches × 8 validation windows as Strata
does. Strata plans its step count from its first steps and counts its evaluation inside the budget; PyTorch's
final evaluation is outside it (a small advantage to PyTorch). Runs are back to back, never concurrent.

    swift build -c release
    /work/venv-torch/bin/python bench/nanogpt_budget.py --time 300
    /work/venv-torch/bin/python bench/nanogpt_budget.py --time 60 --configs 4x128x4@2e-3 --strata-spec configs/default.json
"""
import argparse
import math
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as tc  # noqa: E402

DEFAULT_CONFIGS = "4x128x4@2e-3,4x128x4@1e-3,4x256x4@1e-3,6x384x6@6e-4"


def parse_config(text: str):
    """`LxDxH@LR` -> (layers, dim, heads, lr); exits with what is valid otherwise."""
    m = re.fullmatch(r"(\d+)x(\d+)x(\d+)@([0-9.eE+-]+)", text.strip())
    if not m:
        sys.exit(f"--configs: cannot read '{text}'; expected LAYERSxDIMxHEADS@LR, e.g. 4x128x4@2e-3")
    layers, dim, heads, lr = int(m[1]), int(m[2]), int(m[3]), float(m[4])
    if dim % heads:
        sys.exit(f"--configs: '{text}': width {dim} is not a multiple of heads {heads}")
    return layers, dim, heads, lr


def train_torch_budget(name, layers, dim, heads, lr, args, tokens, splits) -> dict:
    """Trains one config for args.time seconds; returns steps, tokens/s and validation loss / bpb."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(tc.pick_torch_threads(args.torch_threads, layers=layers, dim=dim, heads=heads,
                                                context=args.context, batch=args.batch))
    train_segments, val_segments = splits
    sampler = tc.StrataBatchSampler(tokens, train_segments, args.batch, args.context, args.seed + 1)
    evals = tc.evaluation_batches(tokens, val_segments, args.batch, args.context, args.eval_batches)
    model = tc.build_gpt(context=args.context, dim=dim, layers=layers, heads=heads, seed=args.seed)
    params = list(model.parameters())
    opt = tc.make_adamw(model, lr=lr)
    start, step, last_log = tc.now(), 0, tc.now()
    while True:
        elapsed = tc.now() - start
        if elapsed >= args.time:
            break
        if step < args.warmup:
            mult = (step + 1) / args.warmup
        else:  # cosine over the remaining wall-clock time
            progress = min(1.0, elapsed / args.time)
            mult = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
        for g in opt.param_groups:
            g["lr"] = lr * mult
        x, y = sampler.next()
        logits = model(torch.from_numpy(x))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        tc.clip_grad_norm(params, 1.0)
        opt.step()
        step += 1
        if not math.isfinite(loss.item()):
            return {"name": name, "steps": step, "val_loss": float("nan"), "val_bpb": float("nan"),
                    "tokens_per_s": 0.0, "params": sum(p.numel() for p in params), "note": "diverged"}
        if tc.now() - last_log > 30:
            last_log = tc.now()
            print(f"  {name}: step {step}, loss {loss.item():.3f}, {tc.now() - start:.0f}/{args.time:.0f} s", flush=True)
    seconds = tc.now() - start
    val = tc.evaluate(model, evals)
    return {"name": name, "steps": step, "val_loss": val, "val_bpb": val / math.log(2),
            "tokens_per_s": step * args.batch * args.context / seconds, "params": sum(p.numel() for p in params)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=300, help="wall-clock seconds per model (default 300)")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"comma list of LxDxH@LR (default {DEFAULT_CONFIGS})")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--eval-batches", type=int, default=16, help="validation batches of --batch windows")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="Strata threads (default: all cores)")
    ap.add_argument("--torch-threads", default="auto",
                    help="PyTorch threads: N, or auto (probe 1 vs all cores before each config, outside the budget)")
    ap.add_argument("--strata", default=os.path.join(tc.repo_root(), ".build", "release", "strata"))
    ap.add_argument("--strata-spec", default="configs/default.json",
                    help="spec for `strata train --time` (default configs/default.json, the 4x128x4 preset)")
    ap.add_argument("--strata-lr", type=float, default=2e-3, help="Strata's peak lr (default 2e-3)")
    ap.add_argument("--no-strata", action="store_true", help="PyTorch configs only")
    ap.add_argument("--runs", default=None, help="Strata run store (default: a fresh temp dir)")
    args = ap.parse_args()
    configs = [parse_config(c) for c in args.configs.split(",") if c.strip()]
    if args.time <= 0:
        sys.exit("--time must be positive")
    os.chdir(tc.repo_root())
    if not args.no_strata:
        tc.check_strata(args.strata)

    tokens = tc.load_bytes(os.path.join(tc.repo_root(), "data", "kjv.txt"))
    splits = tc.split_segments(len(tokens), 0.05, 4096)

    rows = []
    if not args.no_strata:
        runs = args.runs or tempfile.mkdtemp(prefix="strata-budget-")
        print(f"strata train {args.strata_spec} --time {args.time:g} --lr {args.strata_lr:g} ...", flush=True)
        out = tc.run_strata(args.strata, ["train", args.strata_spec, "--time", f"{args.time:g}", "--lr", args.strata_lr,
                                          "--batch", args.batch, "--eval-batches", args.eval_batches,
                                          "--seed", args.seed, "--threads", args.threads, "--json", "--runs", runs])
        rows.append({"side": "strata", "name": f"{os.path.basename(args.strata_spec)}@{args.strata_lr:g}",
                     "params": out.get("parameters", 0), "steps": out["steps"], "tokens_per_s": out["tokens_per_s"],
                     "val_loss": out["val_loss"], "val_bpb": out["val_bpb"]})
        print(f"  strata: {out['steps']} steps, val bpb {out['val_bpb']:.4f}", flush=True)
    for layers, dim, heads, lr in configs:
        name = f"{layers}x{dim}x{heads}@{lr:g}"
        print(f"pytorch {name} for {args.time:g} s ...", flush=True)
        r = train_torch_budget(name, layers, dim, heads, lr, args, tokens, splits)
        rows.append({"side": "pytorch", **r})
        print(f"  pytorch {name}: {r['steps']} steps, val bpb {r['val_bpb']:.4f}", flush=True)

    print()
    print(f"wall-clock budget {args.time:g} s per model, batch {args.batch}x{args.context}, {args.threads} thread(s), "
          f"eval {args.eval_batches} batches (shared machine: noisy)")
    print(f"Strata threads {args.threads}; PyTorch threads {args.torch_threads}")
    header = f"{'side':8s} {'model':24s} {'params':>9s} {'steps':>7s} {'tok/s':>8s} {'val_loss':>9s} {'val_bpb':>8s}"
    print(header)
    print("-" * len(header))
    for r in sorted(rows, key=lambda r: r["val_bpb"] if math.isfinite(r["val_bpb"]) else 1e9):
        print(f"{r['side']:8s} {r['name']:24s} {r['params'] / 1e6:8.2f}M {r['steps']:7d} {r['tokens_per_s']:8,.0f} "
              f"{r['val_loss']:9.4f} {r['val_bpb']:8.4f}{'  ' + r['note'] if r.get('note') else ''}")


if __name__ == "__main__":
    main()
