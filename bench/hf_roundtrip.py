#!/usr/bin/env python3
"""Hugging Face round trip: small Strata decoders exported with `strata export` (GPT-2 and LLaMA formats, byte and
BPE tokenizers) are loaded with transformers (AutoModelForCausalLM + AutoTokenizer); for a few prompts the token ids
must equal Strata's and the logits must match Strata's (`strata logits`) within --tol. Each export is also read
back with `strata import` and must give Strata's logits bit for bit. Prints a table; exit status 1 on any mismatch.

  /work/venv-torch/bin/python bench/hf_roundtrip.py                 # builds nothing; needs .build/release/strata
  /work/venv-torch/bin/python bench/hf_roundtrip.py --keep /tmp/hf  # keep the exported directories

The models are trained for a few steps only (--steps), so that their weights are not the initialization's.
Without transformers installed, the Strata-side checks (export, import, bit-identical logits) still run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPTS = [
    "In the beginning God created the heaven and the earth.",
    "Ünïcödé — naïve café, Ærøskøbing",
    "日本語のテキストと한국어",
    "emoji 👍🏽 and\ttabs\nnewlines",
    "  leading spaces, 123 numbers 4.5e6 !?",
]
SMALL = ["--set", "dim=64", "--set", "layers=2", "--set", "heads=4", "--set", "context_length=96"]
# (case, spec, format, tokenizer): the LLaMA spec has GQA (kv_heads 2) and an untied head; GPT-2 is tied.
CASES = [
    ("gpt2-byte", "configs/gpt2-style.json", "gpt2", "byte"),
    ("llama-byte", "configs/llama-style.json", "llama", "byte"),
    ("gpt2-bpe", "configs/gpt2-style.json", "gpt2", "bpe"),
    ("llama-bpe", "configs/llama-style.json", "llama", "bpe"),
]


def strata_cmd(strata, args, cwd):
    p = subprocess.run([strata] + args, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"strata {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def strata_logits(strata, target, work):
    args = ["logits", target, "--runs", os.path.join(work, "runs")]
    for text in PROMPTS:
        args += ["--prompt", text]
    return json.loads(strata_cmd(strata, args, REPO).strip().splitlines()[-1])["prompts"]


def byte_tokenizer_mismatches(directory, count=3000, seed=0):
    """Random texts (code points from every plane, controls, emoji) through the exported byte tokenizer.json with
    the `tokenizers` library: ids must be the UTF-8 bytes and decode must give the text back. Returns failures."""
    import random
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    rng = random.Random(seed)
    texts = ["", " ", "\n\n", "a\u200bb", "\x00\x01\x7f", "'s 're n't", "  x  "] + PROMPTS
    for _ in range(count):
        cps = [rng.choice([rng.randint(0, 127), rng.randint(128, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])
               for _ in range(rng.randint(0, 40))]
        texts.append("".join(chr(c) for c in cps if not 0xD800 <= c <= 0xDFFF))
    return sum(tok.encode(t).ids != list(t.encode("utf-8")) or tok.decode(tok.encode(t).ids) != t for t in texts), len(texts)


def max_abs(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strata", default=os.path.join(REPO, ".build", "release", "strata"))
    ap.add_argument("--steps", type=int, default=40, help="training steps of each small model")
    ap.add_argument("--bpe-vocab", type=int, default=320, help="BPE tokenizer size (0: skip the BPE cases)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |logit difference| allowed against transformers")
    ap.add_argument("--keep", help="directory to keep the runs and exports in (default: a temporary one)")
    args = ap.parse_args()
    strata = os.path.abspath(args.strata)
    if not os.access(strata, os.X_OK):
        sys.exit(f"{strata} not found: run `swift build -c release` first, or pass --strata PATH")
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="strata-hf-")
    os.makedirs(work, exist_ok=True)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        torch.set_grad_enabled(False)
    except ImportError:
        torch = None
        print("transformers / torch not installed: only the Strata-side checks run")

    data = os.path.join(work, "corpus.txt")
    with open(os.path.join(REPO, "data", "kjv.txt"), encoding="utf-8") as f:
        text = f.read(200_000)
    with open(data, "w", encoding="utf-8") as f:
        f.write(text + "\n" + "\n".join(PROMPTS) * 20)  # the prompts' characters occur in the BPE's training text
    bpe = os.path.join(work, "bpe.json")
    cases = [c for c in CASES if c[3] == "byte" or args.bpe_vocab > 0]
    if args.bpe_vocab > 0:
        strata_cmd(strata, ["tokenizer", "train", "--data", data, "--vocab", str(args.bpe_vocab), "--out", bpe], REPO)

    rows, failed = [], False
    for case, spec, fmt, tok in cases:
        train = ["train", spec, "--data", data, "--steps", str(args.steps), "--batch", "2", "--eval-every",
                 str(args.steps), "--eval-batches", "1", "--runs", os.path.join(work, "runs"), "--json",
                 "--seed", "7"] + SMALL
        if tok == "bpe":
            train += ["--tokenizer", bpe, "--set", f"vocab_size={args.bpe_vocab}"]
        outcome = json.loads([l for l in strata_cmd(strata, train, REPO).splitlines() if l.startswith("{")][0])
        run_id = outcome["run_id"]
        out = os.path.join(work, "export-" + case)
        shutil.rmtree(out, ignore_errors=True)
        strata_cmd(strata, ["export", run_id, "--runs", os.path.join(work, "runs"), "--out", out, "--format", fmt], REPO)
        reference = strata_logits(strata, run_id, work)
        ckpt = os.path.join(work, case + ".safetensors")
        strata_cmd(strata, ["import", out, "--out", ckpt], REPO)
        back = strata_logits(strata, ckpt, work)
        reimport = max(max_abs(a["logits"], b["logits"]) for a, b in zip(reference, back))
        ids_back = all(a["ids"] == b["ids"] for a, b in zip(reference, back))
        row = {"case": case, "format": fmt, "reimport": reimport, "ids": "-", "diff": None, "scale": None}
        ok = reimport == 0 and ids_back
        if torch is not None:
            tokenizer = AutoTokenizer.from_pretrained(out)
            model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
            ids_ok, diff, scale = True, 0.0, 0.0
            for r in reference:
                hf_ids = tokenizer(r["text"])["input_ids"]
                ids_ok &= hf_ids == r["ids"] and tokenizer.decode(hf_ids) == r["text"]
                logits = model(torch.tensor([r["ids"]])).logits[0].tolist()
                diff = max(diff, max_abs(logits, r["logits"]))
                scale = max(scale, max(abs(x) for row_ in r["logits"] for x in row_))
            if tok == "byte":
                bad, total = byte_tokenizer_mismatches(out)
                print(f"{case}: byte tokenizer.json through `tokenizers` on {total} random texts: {bad} mismatches")
                ids_ok &= bad == 0
            row.update(ids="same" if ids_ok else "DIFFER", diff=diff, scale=scale)
            ok = ok and ids_ok and diff <= args.tol
        row["status"] = "ok" if ok else "FAIL"
        failed |= not ok
        rows.append(row)

    print(f"\nHugging Face round trip ({len(PROMPTS)} prompts, tolerance {args.tol:g}, work dir {work})")
    print(f"{'case':<11} {'format':<6} {'HF token ids':<12} {'max |Δ logit| vs transformers':>30} {'max |logit|':>11} "
          f"{'re-import Δ':>11}  status")
    for r in rows:
        diff = "-" if r["diff"] is None else f"{r['diff']:.3e}"
        scale = "-" if r["scale"] is None else f"{r['scale']:.3f}"
        print(f"{r['case']:<11} {r['format']:<6} {r['ids']:<12} {diff:>30} {scale:>11} {r['reimport']:>11.3g}  {r['status']}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
