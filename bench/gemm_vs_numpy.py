#!/usr/bin/env python3
"""Strata GEMM vs numpy (OpenBLAS) on the same square shapes, transposes and thread counts.

Runs `strata bench kernels --json --only gemm` (one JSON object per line with name, n, threads, gflops),
then times numpy's float32 matmul for every (name, n, threads) it reported, and prints a table with both
GFLOP/s and the ratio. numpy threads are capped with threadpoolctl when installed, otherwise each thread
count is measured in a child process started with OPENBLAS_NUM_THREADS set.

    swift build -c release && python3 bench/gemm_vs_numpy.py
    python3 bench/gemm_vs_numpy.py --strata-cmd ".build/release/strata bench kernels --json --only gemm"
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

DEFAULT_CMD = ".build/release/strata bench kernels --json --only gemm"


def has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def numpy_gflops(name: str, n: int, repeats: int, min_seconds: float) -> float:
    """Median GFLOP/s of numpy's matmul for gemm_nn / nt / tn / tt on n×n float32 (current thread cap)."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    # Transposed views make numpy call sgemm with the transpose flags, as Strata's op(A), op(B).
    opa = a.T if name[-2] == "t" else a
    opb = b.T if name[-1] == "t" else b
    out = np.empty((n, n), dtype=np.float32)
    for _ in range(2):
        np.matmul(opa, opb, out=out)
    times, start = [], time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_seconds and len(times) < 1000):
        t0 = time.perf_counter()
        np.matmul(opa, opb, out=out)
        times.append(time.perf_counter() - t0)
    times.sort()
    return 2.0 * n ** 3 / times[len(times) // 2] / 1e9


def numpy_in_child(cases, threads: int, repeats: int, min_seconds: float) -> dict:
    """Measures `cases` [(name, n)] in a child process whose OpenBLAS uses `threads` threads."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    payload = json.dumps({"cases": cases, "repeats": repeats, "min_seconds": min_seconds})
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", payload], env=env,
                         check=True, capture_output=True, text=True).stdout
    return {(r["name"], r["n"]): r["gflops"] for r in map(json.loads, out.splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strata-cmd", default=DEFAULT_CMD, help="command printing Strata's JSON lines")
    parser.add_argument("--repeats", type=int, default=7, help="numpy timing repeats (median)")
    parser.add_argument("--min-seconds", type=float, default=0.3, help="least numpy timing per case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:  # child mode: numpy timings for one thread count, one JSON line per case
        job = json.loads(args.child)
        for name, n in job["cases"]:
            print(json.dumps({"name": name, "n": n, "gflops": numpy_gflops(name, n, job["repeats"], job["min_seconds"])}))
        return

    if has_avx512():
        os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")

    proc = subprocess.run(shlex.split(args.strata_cmd), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"`{args.strata_cmd}` failed ({proc.returncode}):\n{proc.stderr}")
    strata = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            row = json.loads(line)
            if row.get("name", "").startswith("gemm_"):
                strata.append(row)
    if not strata:
        sys.exit(f"`{args.strata_cmd}` printed no gemm_* JSON lines")

    by_threads = {}
    for row in strata:
        by_threads.setdefault(row["threads"], []).append((row["name"], row["n"]))
    numpy = {}
    try:
        from threadpoolctl import threadpool_limits
        for threads, cases in by_threads.items():
            with threadpool_limits(limits=threads, user_api="blas"):
                for name, n in cases:
                    numpy[(name, n, threads)] = numpy_gflops(name, n, args.repeats, args.min_seconds)
        how = "threadpoolctl"
    except ImportError:
        for threads, cases in by_threads.items():
            for (name, n), g in numpy_in_child(cases, threads, args.repeats, args.min_seconds).items():
                numpy[(name, n, threads)] = g
        how = "OPENBLAS_NUM_THREADS in a child process"

    coretype = os.environ.get("OPENBLAS_CORETYPE", "auto")
    print(f"numpy threads via {how}; OPENBLAS_CORETYPE={coretype}")
    print(f"{'case':<8} {'n':>5} {'threads':>7} {'strata GF/s':>12} {'numpy GF/s':>11} {'ratio':>6}")
    for row in strata:
        ref = numpy[(row["name"], row["n"], row["threads"])]
        print(f"{row['name']:<8} {row['n']:>5} {row['threads']:>7} {row['gflops']:>12.1f} {ref:>11.1f} "
              f"{row['gflops'] / ref:>6.2f}")


if __name__ == "__main__":
    main()
