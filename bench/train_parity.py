#!/usr/bin/env python3
"""Training parity: bench-char trained by Strata's CLI and by PyTorch with identical settings, same validation.

Both sides train the bench-char model (decoder, vocab 256, dim 384, 6 layers, 6 heads, context 256, pre-LN,
biased linears, exact GELU MLP 4×, learned positions, tied embeddings) on data/kjv.txt bytes for N steps:
AdamW lr 3e-4, betas 0.9/0.95, weight decay 0.1 on matrix weights only, warmup 100 steps then cosine to
0.1·lr, gradient clip 1.0, batch 8 × 256. The PyTorch side replicates Strata's split (4096-token blocks, every
20th to validation), Strata's batch sampler bit for bit (so both see the same training batches in the same
order; only the weight initialization differs), and Strata's evaluation windows (the first eval_batches × 8
windows of 257 tokens at stride 256 over the validation side). It prints both final validation losses,
bits per byte and the difference; the bar is |Δ| ≤ 0.05 nats.

    swift build -c release
    /work/venv-torch/bin/python bench/train_parity.py --steps 300
"""
import argparse
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as tc  # noqa: E402

BAR_NATS = 0.05


def train_torch(args, tokens) -> dict:
    """Trains bench-char in PyTorch for args.steps and evaluates; returns loss, bpb, tokens/s."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(tc.pick_torch_threads(args.torch_threads if args.threads is None else str(args.threads)))
    train_segments, val_segments = tc.split_segments(len(tokens), 0.05, 4096)
    sampler = tc.StrataBatchSampler(tokens, train_segments, args.batch, 256, args.seed + 1)
    evals = tc.evaluation_batches(tokens, val_segments, args.batch, 256, args.eval_batches)
    model = tc.build_gpt(seed=args.seed)
    opt = tc.make_adamw(model, lr=args.lr)
    params = list(model.parameters())
    start = tc.now()
    for step in range(args.steps):
        lr = args.lr * tc.cosine_multiplier(step, args.steps, warmup=100, min_ratio=0.1)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = sampler.next()
        logits = model(torch.from_numpy(x))
        loss = F.cross_entropy(logits.reshape(-1, 256), torch.from_numpy(y).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        tc.clip_grad_norm(params, 1.0)
        opt.step()
        if not math.isfinite(loss.item()):
            sys.exit(f"PyTorch loss became {loss.item()} at step {step}")
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            rate = (step + 1) * args.batch * 256 / (tc.now() - start)
            print(f"  torch step {step + 1:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {rate:,.0f} tokens/s", flush=True)
    elapsed = tc.now() - start
    val = tc.evaluate(model, evals)
    return {"val_loss": val, "val_bpb": val / math.log(2), "tokens_per_s": args.steps * args.batch * 256 / elapsed,
            "elapsed_s": elapsed, "eval_windows": sum(len(x) for x, _ in evals)}


def train_strata(args) -> dict:
    """Runs `strata train configs/bench-char.json` with the same settings; returns its JSON outcome."""
    runs = args.runs or tempfile.mkdtemp(prefix="strata-parity-")
    cli = ["train", os.path.join(tc.repo_root(), "configs", "bench-char.json"), "--steps", args.steps,
           "--lr", args.lr, "--eval-every", args.steps, "--eval-batches", args.eval_batches, "--batch", args.batch,
           "--seed", args.seed, "--data", os.path.abspath(args.data), "--json", "--runs", runs]
    if args.threads:
        cli += ["--threads", args.threads]
    return tc.run_strata(args.strata, cli)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="optimizer steps on both sides (default 300)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--eval-batches", type=int, default=16, help="validation batches of 8 windows (Strata's default 16)")
    ap.add_argument("--seed", type=int, default=1337, help="Strata seed (batches use seed+1 on both sides)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both (default: all cores)")
    ap.add_argument("--torch-threads", default="auto",
                    help="PyTorch threads when --threads is not given: N, or auto (probe 1 vs all cores; default)")
    ap.add_argument("--strata", default=os.path.join(tc.repo_root(), ".build", "release", "strata"))
    ap.add_argument("--runs", default=None, help="Strata run store (default: a fresh temp dir)")
    ap.add_argument("--data", default=os.path.join(tc.repo_root(), "data", "kjv.txt"),
                    help="text file for both sides, read as bytes (default data/kjv.txt)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--skip-strata", action="store_true", help="PyTorch side only")
    ap.add_argument("--skip-torch", action="store_true", help="Strata side only")
    args = ap.parse_args()
    if args.steps < 1:
        sys.exit("--steps must be at least 1")
    args.data = os.path.abspath(args.data)
    os.chdir(tc.repo_root())  # Strata reads data/kjv.txt relative to the working directory
    tokens = tc.load_bytes(args.data)

    strata = None
    if not args.skip_strata:
        tc.check_strata(args.strata)
        print(f"Strata: training bench-char for {args.steps} steps ...", flush=True)
        strata = train_strata(args)
        print(f"  strata done: val_loss {strata['val_loss']:.4f}, {strata['tokens_per_s']:,.0f} tokens/s, "
              f"{strata['elapsed_s']:.0f} s", flush=True)
    torch_result = None
    if not args.skip_torch:
        print(f"PyTorch: training bench-char for {args.steps} steps ...", flush=True)
        torch_result = train_torch(args, tokens)
        print(f"  torch done: val_loss {torch_result['val_loss']:.4f}, {torch_result['tokens_per_s']:,.0f} tokens/s, "
              f"{torch_result['elapsed_s']:.0f} s", flush=True)

    print()
    print(f"bench-char, {args.steps} steps, batch {args.batch}x256, lr {args.lr:g}, eval {args.eval_batches} batches")
    print(f"{'':10s} {'val_loss':>9s} {'val_bpb':>8s} {'train tok/s':>12s}")
    if strata:
        print(f"{'strata':10s} {strata['val_loss']:9.4f} {strata['val_bpb']:8.4f} {strata['tokens_per_s']:12,.0f}")
    if torch_result:
        print(f"{'pytorch':10s} {torch_result['val_loss']:9.4f} {torch_result['val_bpb']:8.4f} "
              f"{torch_result['tokens_per_s']:12,.0f}")
    if strata and torch_result:
        delta = strata["val_loss"] - torch_result["val_loss"]
        ok = abs(delta) <= BAR_NATS
        print(f"delta (strata - pytorch) = {delta:+.4f} nats   bar |delta| <= {BAR_NATS}: {'PASS' if ok else 'FAIL'}")
        print(f"train speed ratio strata/pytorch = {strata['tokens_per_s'] / torch_result['tokens_per_s']:.2f}x "
              f"(noisy: shared 2-core machine)")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
