"""Shared pieces of the PyTorch reference scripts in bench/: Strata's data split, batch sampler and evaluation
windows replicated exactly, a nanoGPT-style GPT matching Strata's bench-char spec, Strata's AdamW parameter
groups / cosine schedule / gradient clip, and a helper that runs the Strata CLI and parses its JSON.

Nothing here is imported by Strata itself: Python only runs in bench/, never at run time.
"""
import json
import math
import os
import resource
import subprocess
import sys
import time

MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------------------
# Strata's RNG (xoshiro256** seeded through SplitMix64) and batch sampler, bit for bit, so that PyTorch sees
# exactly the batches `strata train` draws (Sources/StrataCore/RNG.swift, Sources/StrataTrain/Data/Batches.swift).

class StrataRNG:
    """xoshiro256** seeded through SplitMix64, as Strata's `RNG(seed:)`."""

    def __init__(self, seed: int):
        x = seed & MASK64
        state = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            state.append(z ^ (z >> 31))
        self.s = state

    def next(self) -> int:
        s0, s1, s2, s3 = self.s
        m = (s1 * 5) & MASK64
        result = ((((m << 7) | (m >> 57)) & MASK64) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
        self.s = [s0, s1, s2, s3]
        return result


def mix64(x: int) -> int:
    """SplitMix64's finalizer (Batches.swift `mix64`)."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def load_bytes(path: str):
    """The byte tokenizer's ids of a text file: its raw bytes (Strata encodes text.utf8), as a uint8 numpy array."""
    import numpy as np
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8)


def split_segments(n_tokens: int, validation_fraction: float = 0.05, block_size: int = 4096):
    """TokenDataset.split: blocks of `block_size`; block b is validation iff b % k == k-1 with k = round(1/fraction);
    adjacent training blocks merge into one segment. Returns (train_segments, validation_segments) as (lo, hi)."""
    k = max(2, int(round(1 / validation_fraction)))
    blocks = (n_tokens + block_size - 1) // block_size
    train, val = [], []
    for b in range(blocks):
        lo, hi = b * block_size, min(n_tokens, (b + 1) * block_size)
        if b % k == k - 1:
            val.append((lo, hi))
        elif train and train[-1][1] == lo:
            train[-1] = (train[-1][0], hi)
        else:
            train.append((lo, hi))
    return train, val


def gather(tokens, segments, lo: int, hi: int):
    """Tokens lo..<hi of the concatenation of `segments` (TokenSplit.append: crosses segment joins)."""
    import numpy as np
    out, start = [], 0
    for a, b in segments:
        n = b - a
        if hi <= start:
            break
        if lo < start + n:
            s = max(lo, start) - start
            e = min(hi, start + n) - start
            out.append(tokens[a + s:a + e])
        start += n
    return np.concatenate(out)


class StrataBatchSampler:
    """BatchSampler: batch n draws from RNG(mix64(seed ^ mix64(n + 0x5851F42D4C957F2D))); each of the B windows
    of T+1 tokens starts at r = high64(next() * totalStarts) over the valid starts of segments longer than T."""

    def __init__(self, tokens, train_segments, batch: int, context: int, seed: int):
        self.tokens, self.batch, self.context, self.seed = tokens, batch, context, seed & MASK64
        self.usable = []  # (absolute start of segment, prefix count of starts before it, starts in it)
        total = 0
        for a, b in train_segments:
            if b - a > context:
                self.usable.append((a, total))
                total += (b - a) - context
        if total == 0:
            raise ValueError(f"no training segment holds a window of {context + 1} tokens")
        self.total = total
        self.drawn = 0

    def next(self):
        """(inputs, targets) as int64 numpy arrays [B, T]."""
        import bisect
        import numpy as np
        rng = StrataRNG(mix64(self.seed ^ mix64((self.drawn + 0x5851F42D4C957F2D) & MASK64)))
        self.drawn += 1
        prefix = [u[1] for u in self.usable]
        rows = []
        for _ in range(self.batch):
            r = (rng.next() * self.total) >> 64
            i = bisect.bisect_right(prefix, r) - 1
            start = self.usable[i][0] + (r - self.usable[i][1])
            rows.append(self.tokens[start:start + self.context + 1])
        w = np.stack(rows).astype(np.int64)
        return w[:, :-1], w[:, 1:]


def evaluation_batches(tokens, val_segments, batch: int, context: int, max_batches):
    """EvaluationBatches: window w covers tokens w·T … w·T+T of the concatenated validation side (stride T,
    crossing segment joins as Strata's TokenSplit does), the first max_batches·B windows, B per batch."""
    import numpy as np
    count = sum(b - a for a, b in val_segments)
    windows = max(0, (count - 1) // context)
    if max_batches is not None:
        windows = min(windows, max(0, max_batches) * batch)
    out = []
    for first in range(0, windows, batch):
        rows = [gather(tokens, val_segments, w * context, w * context + context + 1)
                for w in range(first, min(windows, first + batch))]
        arr = np.stack(rows).astype(np.int64)
        out.append((arr[:, :-1], arr[:, 1:]))
    return out


def cosine_multiplier(step: int, total: int, warmup: int = 100, min_ratio: float = 0.1) -> float:
    """LearningRateSchedule.cosine: (s+1)/warmup during warmup, then a half cosine from 1 to min_ratio at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------------------------
# The model: Strata's bench-char spec in PyTorch (GPT-2 / nanoGPT layout).

def build_gpt(vocab=256, context=256, dim=384, layers=6, heads=6, seed=1337):
    """A pre-LayerNorm GPT: learned positions, biased linears, exact-erf GELU MLP 4×, tied head, no dropout.
    Init as Strata: normal(0.02) for matrices and tables, 0.02/sqrt(2·layers) for residual output projections,
    zero biases, LayerNorm γ=1 β=0."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim)
            self.out = nn.Linear(dim, dim)

        def forward(self, x, cache=None):
            b, t, c = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                # KV cache: preallocated [B, H, capacity, D]; append this chunk, attend to everything so far.
                n = cache["length"]
                cache["k"][:, :, n:n + t] = k
                cache["v"][:, :, n:n + t] = v
                cache["length"] = n + t
                ks, vs = cache["k"][:, :, :n + t], cache["v"][:, :, :n + t]
                if t == 1:
                    y = F.scaled_dot_product_attention(q, ks, vs)
                else:  # causal aligned to the end: query i sees keys ≤ n + i
                    mask = torch.ones(t, n + t, dtype=torch.bool).tril(diagonal=n)
                    y = F.scaled_dot_product_attention(q, ks, vs, attn_mask=mask)
            return self.out(y.transpose(1, 2).reshape(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim, eps=1e-5)
            self.attn = Attention()
            self.norm2 = nn.LayerNorm(dim, eps=1e-5)
            self.up = nn.Linear(dim, 4 * dim)
            self.down = nn.Linear(4 * dim, dim)

        def forward(self, x, cache=None):
            x = x + self.attn(self.norm1(x), cache)
            return x + self.down(F.gelu(self.up(self.norm2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.context, self.heads, self.dim, self.n_layers = context, heads, dim, layers
            self.tok = nn.Embedding(vocab, dim)
            self.pos = nn.Embedding(context, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = nn.LayerNorm(dim, eps=1e-5)

        def forward(self, ids, caches=None):
            t = ids.shape[1]
            offset = caches[0]["length"] if caches else 0
            x = self.tok(ids) + self.pos(torch.arange(offset, offset + t, device=ids.device))
            for i, blk in enumerate(self.blocks):
                x = blk(x, caches[i] if caches else None)
            return F.linear(self.norm(x), self.tok.weight)  # tied head

        def make_caches(self, batch=1, capacity=None):
            cap, d = capacity or self.context, self.dim // self.heads
            return [{"k": torch.zeros(batch, self.heads, cap, d), "v": torch.zeros(batch, self.heads, cap, d),
                     "length": 0} for _ in range(self.n_layers)]

    torch.manual_seed(seed)
    model = GPT()
    residual_std = 0.02 / math.sqrt(2 * layers)
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif ".norm" in name or name.startswith("norm"):
            nn.init.ones_(p)
        elif name.endswith("attn.out.weight") or name.endswith("down.weight"):
            nn.init.normal_(p, std=residual_std)
        else:
            nn.init.normal_(p, std=0.02)
    return model


def make_adamw(model, lr=3e-4, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8):
    """AdamW with decay on matrix weights only (Strata role .weight): not on norms, biases or embeddings."""
    import torch
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        is_matrix = p.dim() >= 2 and not (name.startswith("tok.") or name.startswith("pos."))
        (decay if is_matrix else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def clip_grad_norm(params, max_norm: float) -> float:
    """Strata's clipGradientNorm: global L2 norm; if it exceeds max_norm, scale every gradient by max_norm/norm."""
    import torch
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))
    if math.isfinite(norm) and norm > max_norm >= 0:
        scale = max_norm / norm
        with torch.no_grad():
            for g in grads:
                g.mul_(scale)
    return norm


def evaluate(model, batches) -> float:
    """Mean cross-entropy (nats) over every target token of the evaluation batches."""
    import torch
    import torch.nn.functional as F
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(torch.from_numpy(x))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
            total += float(loss) * y.size
            count += y.size
    model.train()
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------------------
# Running the Strata CLI.

def run_strata(strata: str, args, env_threads=None, timeout=None) -> dict:
    """Runs `strata ARGS` (expects --json), returns the last JSON object it printed on stdout; stderr passes through
    only on failure. Raises with the command and its output when it fails."""
    cmd = [strata] + [str(a) for a in args]
    env = dict(os.environ)
    if env_threads is not None:
        env["STRATA_THREADS"] = str(env_threads)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {p.returncode}:\n{p.stderr[-4000:]}{p.stdout[-2000:]}")
    for line in reversed(p.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{' '.join(cmd)} printed no JSON object:\n{p.stdout[-2000:]}")


def check_strata(path: str) -> str:
    """The Strata binary path, or exits with how to build it."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"Strata CLI not found at {path}: run `swift build -c release` in the repository root, "
                 f"or pass --strata PATH")
    return path


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def repo_root() -> str:
    """The repository root (the parent of bench/)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def now() -> float:
    """Monotonic seconds."""
    return time.perf_counter()


def pick_torch_threads(spec: str, layers=6, dim=384, heads=6, context=256, batch=8, steps=3) -> int:
    """Thread count for PyTorch training: `spec` is a number, or "auto" to time `steps` training steps of a
    throwaway model at 1 and all cores and keep the faster (on a loaded machine OpenMP threads spin at
    barriers while a sibling is descheduled, and one thread can beat two several times over)."""
    import torch
    import torch.nn.functional as F
    if spec != "auto":
        return max(1, int(spec))
    candidates = sorted({1, os.cpu_count() or 1})
    if len(candidates) == 1:
        return candidates[0]
    model = build_gpt(context=context, dim=dim, layers=layers, heads=heads, seed=0)
    opt = make_adamw(model)
    ids = torch.randint(0, 256, (batch, context + 1), generator=torch.Generator().manual_seed(0))
    timings = {}
    for n in candidates:
        torch.set_num_threads(n)
        times = []
        for i in range(steps + 1):
            t0 = now()
            loss = F.cross_entropy(model(ids[:, :-1]).reshape(-1, 256), ids[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i:
                times.append(now() - t0)
        timings[n] = sorted(times)[len(times) // 2]
    best = min(timings, key=timings.get)
    print("  pytorch thread probe: " + ", ".join(f"{n} thr {t * 1000:.0f} ms/step" for n, t in timings.items())
          + f" -> {best}", flush=True)
    return best
