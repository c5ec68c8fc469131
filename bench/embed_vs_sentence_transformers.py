#!/usr/bin/env python3
"""Sentence-embedding throughput: Strata (`strata bench embed --json`) vs sentence-transformers on PyTorch CPU.

Both sides embed the same committed texts (bench/data/embed-sentences-256.json: 256 texts of 3-200 words) with
the same model directory (default /tmp/strata-minilm, all-MiniLM-L6-v2) at the same thread count:
  sentence-transformers  torch.set_num_threads(N); SentenceTransformer(dir, device="cpu").encode(texts, batch_size=B)
  Strata                 strata bench embed --model DIR --file F --threads N --batch B --json
Each side loads the model once, runs one untimed warm-up round and reports the median of --repeats timed rounds
(tokenization included on both sides, as `encode` does it). Each measurement runs in its own process, so its
peak RSS is its own; the sides alternate thread count by thread count and round by round, and each keeps its
best median over --rounds. The embeddings of both sides must agree: cosine >= 0.99999 for every text.

    swift build -c release
    /work/venv-torch/bin/python bench/embed_vs_sentence_transformers.py --threads 1,2 --rounds 2
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_common as tc  # noqa: E402

BAR = 1.5


def sentence_transformers_child(args):
    """Runs in a child process: measures sentence-transformers, saves its embeddings, prints one JSON line."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(args.child_threads)
    texts = json.load(open(args.file, encoding="utf-8"))
    model = SentenceTransformer(args.model, device="cpu")
    tokens = int(model.tokenize(texts)["attention_mask"].sum())
    out = {}

    def run():
        with torch.inference_mode():
            out["e"] = model.encode(texts, batch_size=args.batch, convert_to_numpy=True)

    run()
    times = []
    for _ in range(args.repeats):
        t0 = tc.now()
        run()
        times.append(tc.now() - t0)
    seconds = sorted(times)[len(times) // 2]
    np.save(args.child_out, out["e"].astype(np.float32))
    print(json.dumps({"seconds": seconds, "tokens": tokens, "sentences": len(texts), "threads": torch.get_num_threads(),
                      "sentences_per_s": len(texts) / seconds, "tokens_per_s": tokens / seconds,
                      "peak_rss_mb": tc.peak_rss_mb()}))


def run_sentence_transformers(args, threads: int, out_path: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child-threads", str(threads), "--child-out", out_path,
           "--model", args.model, "--file", args.file, "--batch", str(args.batch), "--repeats", str(args.repeats)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"sentence-transformers run failed:\n{p.stderr[-4000:]}")
    return json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])


def cosine_check(a_path: str, b_path: str):
    """(worst cosine, worst max |diff|) between the rows of two [N, C] .npy files."""
    import numpy as np
    a, b = np.load(a_path).astype(np.float64), np.load(b_path).astype(np.float64)
    if a.shape != b.shape:
        raise RuntimeError(f"embedding shapes differ: {a.shape} vs {b.shape}")
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min()), float(np.abs(a - b).max())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="/tmp/strata-minilm")
    p.add_argument("--file", default=os.path.join(tc.repo_root(), "bench/data/embed-sentences-256.json"))
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--strata", default=os.path.join(tc.repo_root(), ".build/release/strata"))
    p.add_argument("--json", action="store_true", help="print one JSON object per thread count")
    p.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_threads:
        return sentence_transformers_child(args)
    strata = tc.check_strata(args.strata)
    thread_counts = [int(t) for t in args.threads.split(",")]
    best = {}
    tmp = tempfile.mkdtemp(prefix="embed-bench-")
    for r in range(args.rounds):
        for n in thread_counts:
            st_npy, strata_npy = os.path.join(tmp, f"st-{n}.npy"), os.path.join(tmp, f"strata-{n}.npy")
            st = run_sentence_transformers(args, n, st_npy)
            sr = tc.run_strata(strata, ["bench", "embed", "--model", args.model, "--file", args.file, "--threads", n,
                                        "--batch", args.batch, "--repeats", args.repeats, "--json",
                                        "--save-embeddings", strata_npy])
            cos, diff = cosine_check(st_npy, strata_npy)
            if cos < 0.99999:
                sys.exit(f"embeddings disagree at {n} threads: worst cosine {cos:.7f} (need >= 0.99999), max |diff| {diff:.2e}")
            print(f"  round {r + 1}, {n} thread(s): sentence-transformers {st['sentences_per_s']:.1f} sent/s, "
                  f"strata {sr['sentences_per_s']:.1f} sent/s, worst cosine {cos:.7f}", flush=True)
            b = best.setdefault(n, {"st": st, "strata": sr, "cos": cos, "diff": diff})
            if st["seconds"] < b["st"]["seconds"]:
                b["st"] = st
            if sr["seconds"] < b["strata"]["seconds"]:
                b["strata"] = sr
            b["cos"], b["diff"] = min(b["cos"], cos), max(b["diff"], diff)
    print(f"\n{len(json.load(open(args.file)))} texts, {best[thread_counts[0]]['strata']['tokens']} tokens, batch {args.batch}, "
          f"best median of {args.repeats} over {args.rounds} round(s)")
    print(f"{'threads':>7} {'ST sent/s':>10} {'ST tok/s':>9} {'ST MB':>7} {'Strata sent/s':>13} {'Strata tok/s':>12} "
          f"{'Strata MB':>9} {'ratio':>6} {'bar':>5} {'cosine':>9} {'max|diff|':>9}")
    for n in thread_counts:
        b = best[n]
        ratio = b["st"]["seconds"] / b["strata"]["seconds"]
        if args.json:
            print(json.dumps({"threads": n, "sentence_transformers": b["st"], "strata": b["strata"], "ratio": ratio,
                              "worst_cosine": b["cos"], "max_abs_diff": b["diff"]}))
        else:
            print(f"{n:>7} {b['st']['sentences_per_s']:>10.1f} {b['st']['tokens_per_s']:>9.0f} {b['st']['peak_rss_mb']:>7.0f} "
                  f"{b['strata']['sentences_per_s']:>13.1f} {b['strata']['tokens_per_s']:>12.0f} "
                  f"{b['strata']['peak_rss_mb']:>9.0f} {ratio:>5.2f}x {'ok' if ratio >= BAR else 'below':>5} {b['cos']:>9.7f} {b['diff']:>9.1e}")
    if len(thread_counts) > 1 and not args.json:
        # On a loaded machine PyTorch can be slower with more threads; this line does not flatter Strata.
        st_best = min(thread_counts, key=lambda n: best[n]["st"]["seconds"])
        sr_best = min(thread_counts, key=lambda n: best[n]["strata"]["seconds"])
        print(f"best of each side over thread counts: sentence-transformers {best[st_best]['st']['sentences_per_s']:.1f} sent/s "
              f"({st_best} thr), Strata {best[sr_best]['strata']['sentences_per_s']:.1f} sent/s ({sr_best} thr), ratio "
              f"{best[st_best]['st']['seconds'] / best[sr_best]['strata']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
