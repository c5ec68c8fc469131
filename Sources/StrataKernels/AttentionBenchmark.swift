import Foundation

/// Times one fused attention forward + backward and reports speed and peak memory.
public enum AttentionBenchmark {
    /// Forward + backward on [batch, heads, t, d] (kv heads = heads, S = T, scale 1/√d), `attention_fwd_bwd`.
    ///
    /// FLOPs count the textbook matmuls only: 4·B·H·T·S·D forward (halved when causal) and 2.5× that for
    /// the backward, so gflops is comparable with other implementations; the kernel's recomputation of
    /// scores in both backward passes is not counted. Peak RSS covers the buffers and the calls, so it
    /// shows that nothing grows as T².
    public static func run(t: Int, d: Int = 64, heads: Int = 6, batch: Int = 1, causal: Bool = true,
                           threads: Int) -> KernelBenchResult {
        PeakMemory.reset()
        let baseline = PeakMemory.currentMB()
        let shape = AttentionShape(batch: batch, heads: heads, kvHeads: heads, queries: t, keys: t, headDim: d)
        let q = filled(shape.queryCount, seed: 1), k = filled(shape.keyCount, seed: 2)
        let v = filled(shape.valueCount, seed: 3), dOut = filled(shape.outputCount, seed: 4)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: shape.outputCount)   // [B, H, T, D]
        let lse = UnsafeMutablePointer<Float>.allocate(capacity: shape.lseCount)      // [B, H, T]
        let dQ = UnsafeMutablePointer<Float>.allocate(capacity: shape.queryCount)     // [B, H, T, D]
        let dK = UnsafeMutablePointer<Float>.allocate(capacity: shape.keyCount)       // [B, H, T, D]
        let dV = UnsafeMutablePointer<Float>.allocate(capacity: shape.valueCount)     // [B, H, T, D]
        defer { for p in [q, k, v, dOut, out, lse, dQ, dK, dV] { p.deallocate() } }
        let scale = 1 / Float(d).squareRoot()

        let seconds = Threads.$limit.withValue(threads) {
            BenchTimer.median(warmup: 1, repeats: 3, minSeconds: 0.5) {
                attentionForward(shape, q: q, k: k, v: v, mask: nil, causal: causal, scale: scale, out: out, lse: lse)
                attentionBackward(shape, q: q, k: k, v: v, mask: nil, causal: causal, scale: scale,
                                  out: out, lse: lse, dOut: dOut, dQ: dQ, dK: dK, dV: dV)
            }
        }
        let peak = PeakMemory.peakMB()
        let forwardFlops = 4.0 * Double(batch * heads) * Double(t) * Double(t) * Double(d) * (causal ? 0.5 : 1)
        return KernelBenchResult(name: "attention_fwd_bwd", n: t, threads: threads,
                                 gflops: forwardFlops * 3.5 / seconds / 1e9, seconds: seconds,
                                 tokensPerS: Double(batch * t) / seconds, peakRSSMB: peak,
                                 workingSetMB: peak - baseline)
    }

    /// A buffer of `count` deterministic values in [-1, 1).
    private static func filled(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            p[i] = Float(state >> 40) / Float(1 << 23) - 1
        }
        return p
    }
}
