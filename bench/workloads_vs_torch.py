#!/usr/bin/env python3
"""Whole-model workloads on bench-char: Strata (`strata bench train|prefill|decode --json`) vs PyTorch eager.

Workloads (the same definitions on both sides):
  train    forward + backward + AdamW step at batch 8 × 256 (random tokens; no clipping on either side)
  prefill  one no-grad forward of 256 tokens at batch 1, filling a KV cache
  decode   batch-1 greedy decoding with a KV cache from a 1-token prompt until 256 tokens (255 steps)
PyTorch: median time after warm-up, each workload in its own child process so its peak RSS is its own. The
PyTorch KV cache is preallocated per layer ([1, H, 256, D] keys and values) and filled in place.
Strata and PyTorch alternate workload by workload and round by round. Each side is measured at every thread
count of --threads (default "1,<all cores>") and keeps its best: on a loaded machine PyTorch's OpenMP threads
spin at barriers while a sibling is descheduled, and one thread can be several times faster than two, so
comparing against PyTorch at a fixed thread count would flatter Strata. The table shows, per side, the best
median over the rounds (and the thread count that gave it), peak RSS and the Strata/PyTorch ratio with the
issue's bars (train ≥ 2×, decode ≥ 4×, prefill ≥ 1.5×).

    swift build -c release
    /work/venv-torch/bin/python bench/workloads_vs_torch.py --rounds 3
    /work/venv-torch/bin/python bench/workloads_vs_torch.py --threads 2        # one fixed thread count
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as tc  # noqa: E402

WORKLOADS = ["train", "prefill", "decode"]
BARS = {"train": 2.0, "prefill": 1.5, "decode": 4.0}
CONTEXT, BATCH = 256, 8


def median_time(fn, warmup: int, repeats: int) -> float:
    """Median wall seconds of fn() over `repeats` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = tc.now()
        fn()
        times.append(tc.now() - t0)
    return statistics.median(times)


def torch_worker(workload: str, threads: int, warmup: int, repeats: int) -> dict:
    """Measures one workload in this process and returns {tokens_per_s, seconds, peak_rss_mb}."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    model = tc.build_gpt(seed=0)
    g = torch.Generator().manual_seed(1)
    if workload == "train":
        opt = tc.make_adamw(model, lr=3e-4)
        ids = torch.randint(0, 256, (BATCH, CONTEXT + 1), generator=g)
        x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()

        def step():
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = median_time(step, warmup, repeats)
        tokens = BATCH * CONTEXT
    elif workload == "prefill":
        model.eval()
        ids = torch.randint(0, 256, (1, CONTEXT), generator=g)

        def prefill():
            with torch.inference_mode():
                model(ids, model.make_caches(1))
        seconds = median_time(prefill, warmup, repeats)
        tokens = CONTEXT
    else:
        model.eval()

        def decode():
            with torch.inference_mode():
                caches = model.make_caches(1)
                token = torch.tensor([[1]])
                for _ in range(CONTEXT - 1):
                    logits = model(token, caches)
                    token = logits[:, -1].argmax(dim=-1, keepdim=True)
        seconds = median_time(decode, warmup, repeats)
        tokens = CONTEXT - 1
    return {"workload": workload, "tokens_per_s": tokens / seconds, "seconds": seconds,
            "peak_rss_mb": tc.peak_rss_mb(), "threads": threads, "torch": torch.__version__}


def run_torch(workload: str, threads: int, warmup: int, repeats: int) -> dict:
    """Runs torch_worker in a child process (fresh peak RSS) and returns its JSON."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", workload, "--threads", str(threads),
           "--warmup", str(warmup), "--repeats", str(repeats)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"PyTorch {workload} worker failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}",
                    help="comma list of thread counts tried on both sides; each keeps its best (default 1,all cores)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating Strata/PyTorch rounds per workload (median)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma list of train,prefill,decode")
    ap.add_argument("--warmup", type=int, default=2, help="PyTorch untimed runs before timing")
    ap.add_argument("--repeats", type=int, default=5, help="PyTorch timed runs (median)")
    ap.add_argument("--strata", default=os.path.join(tc.repo_root(), ".build", "release", "strata"))
    ap.add_argument("--spec", default="bench-char", help="Strata spec for `strata bench` (PyTorch is always bench-char)")
    ap.add_argument("--json", action="store_true", help="also print every measurement as JSON lines")
    ap.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        thread_counts = sorted({int(t) for t in args.threads.split(",") if t.strip()})
    except ValueError:
        sys.exit(f"--threads: expected a comma list of positive integers, got '{args.threads}'")
    if not thread_counts or thread_counts[0] < 1:
        sys.exit(f"--threads: expected a comma list of positive integers, got '{args.threads}'")
    if args.worker:
        print(json.dumps(torch_worker(args.worker, thread_counts[-1], args.warmup, args.repeats)))
        return
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in workloads if w not in WORKLOADS]
    if bad:
        sys.exit(f"--workloads: unknown {', '.join(bad)}; valid: {', '.join(WORKLOADS)}")
    tc.check_strata(args.strata)
    os.chdir(tc.repo_root())

    # results[workload][side][threads] = list of measurements over the rounds
    results = {w: {"strata": {n: [] for n in thread_counts}, "torch": {n: [] for n in thread_counts}}
               for w in workloads}
    for r in range(args.rounds):
        for w in workloads:
            for n in thread_counts:
                # Alternate which side goes first so slow drifts in machine load hit both alike.
                order = ["strata", "torch"] if (r + workloads.index(w) + n) % 2 == 0 else ["torch", "strata"]
                for side in order:
                    if side == "strata":
                        res = tc.run_strata(args.strata, ["bench", w, args.spec, "--threads", n, "--json"])
                    else:
                        res = run_torch(w, n, args.warmup, args.repeats)
                    results[w][side][n].append(res)
                    print(f"round {r + 1} {w:8s} {side:7s} {n:2d} thr {res['tokens_per_s']:10,.0f} tokens/s  "
                          f"peak {res['peak_rss_mb']:6.0f} MB", flush=True)
                    if args.json:
                        print(json.dumps({"round": r + 1, "side": side, **res}), flush=True)

    def best(w, side):
        """(median tokens/s, threads, peak MB) of the thread count with the best median."""
        meds = [(statistics.median(x["tokens_per_s"] for x in results[w][side][n]), n,
                 max(x["peak_rss_mb"] for x in results[w][side][n])) for n in thread_counts]
        return max(meds)

    print()
    print(f"bench-char, threads tried {','.join(map(str, thread_counts))} (best per side), median of {args.rounds} "
          f"round(s) (shared machine: numbers are noisy)")
    header = (f"{'workload':9s} {'strata tok/s':>13s} {'thr':>3s} {'torch tok/s':>12s} {'thr':>3s} {'ratio':>7s} "
              f"{'bar':>6s} {'':5s} {'strata MB':>10s} {'torch MB':>9s}")
    print(header)
    print("-" * len(header))
    failed = False
    for w in workloads:
        s, sn, sm = best(w, "strata")
        t, tn, tm = best(w, "torch")
        ratio = s / t
        ok = ratio >= BARS[w]
        failed |= not ok
        print(f"{w:9s} {s:13,.0f} {sn:3d} {t:12,.0f} {tn:3d} {ratio:6.2f}x {BARS[w]:5.1f}x "
              f"{'PASS' if ok else 'FAIL':5s} {sm:10.0f} {tm:9.0f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
