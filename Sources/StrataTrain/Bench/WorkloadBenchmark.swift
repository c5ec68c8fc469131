import Foundation
import StrataCore
import StrataKernels
import StrataModels
import StrataNN

/// One workload measurement (`strata bench train|prefill|decode --json` prints it as one JSON object).
public struct WorkloadResult: Codable, Sendable {
    /// `train`, `prefill` or `decode`.
    public var workload: String
    /// Spec name.
    public var spec: String
    public var threads: Int
    public var parameters: Int
    /// Tokens per second, median over the timed repeats after warm-up.
    public var tokensPerS: Double
    /// Median seconds per timed unit (a training step, a prefill, a whole decode).
    public var seconds: Double
    /// Peak resident memory of the process, MiB.
    public var peakRSSMB: Double
    /// Batch size and sequence length of the workload.
    public var batch: Int
    public var length: Int

    enum CodingKeys: String, CodingKey {
        case workload, spec, threads, parameters, seconds, batch, length
        case tokensPerS = "tokens_per_s"
        case peakRSSMB = "peak_rss_mb"
    }
}

/// Whole-model workloads on synthetic tokens: a training step (forward, backward, AdamW), a prefill, and
/// batch-1 KV-cached greedy decoding that fills the context from a 1-token prompt.
public enum WorkloadBenchmark {
    /// Training tokens/s of `spec` at batch × context_length (bench-char: 8 × 256), AdamW lr 3e-4.
    public static func train(_ spec: ModelSpec, batch: Int = 8, threads: Int, repeats: Int = 5) throws -> WorkloadResult {
        try spec.requireTrainingFits(batch: batch)
        return try Threads.$limit.withValue(threads) {
            PeakMemory.reset()
            let model = try TransformerModel(spec: spec, seed: 0)
            let t = spec.contextLength
            let optimizer = AdamW(parameters: model.parameters(),
                                  options: .init(learningRate: 3e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1))
            var rng = RNG(seed: 1)
            let ids = (0..<batch * (t + 1)).map { _ in Int32(rng.next() % UInt64(spec.vocabSize)) }
            var inputs: [Int32] = [], targets: [Int32] = []
            for b in 0..<batch {
                let start: Int = b * (t + 1)
                inputs += ids[start..<(start + t)]
                targets += ids[(start + 1)..<(start + t + 1)]
            }
            let seconds = BenchTimer.median(warmup: 1, repeats: repeats, minSeconds: 0) {
                let loss = model.loss(inputs: inputs, targets: targets, batch: batch, length: t)
                loss.backward()
                optimizer.update()
            }
            return WorkloadResult(workload: "train", spec: spec.name, threads: threads, parameters: model.parameterCount,
                                  tokensPerS: Double(batch * t) / seconds, seconds: seconds,
                                  peakRSSMB: PeakMemory.peakMB(), batch: batch, length: t)
        }
    }

    /// Prefill tokens/s: one no-gradient forward over `length` tokens at batch 1, filling a decode state.
    public static func prefill(_ spec: ModelSpec, length: Int? = nil, threads: Int, repeats: Int = 7) throws -> WorkloadResult {
        try spec.requireInferenceFits(tokens: length)
        return try Threads.$limit.withValue(threads) {
            PeakMemory.reset()
            let model = try TransformerModel(spec: spec, seed: 0)
            model.train(false)
            let t = length ?? spec.contextLength
            var rng = RNG(seed: 2)
            let ids = (0..<t).map { _ in Int32(rng.next() % UInt64(spec.vocabSize)) }
            let seconds = BenchTimer.median(warmup: 1, repeats: repeats, minSeconds: 0) {
                withNoGrad {
                    let state = model.makeDecodeState(batch: 1)
                    _ = model.logits(ids, batch: 1, length: t, state: state)
                }
            }
            return WorkloadResult(workload: "prefill", spec: spec.name, threads: threads, parameters: model.parameterCount,
                                  tokensPerS: Double(t) / seconds, seconds: seconds, peakRSSMB: PeakMemory.peakMB(),
                                  batch: 1, length: t)
        }
    }

    /// Decode tokens/s: batch 1, a 1-token prompt, greedy decoding with the cache until the context is full.
    public static func decode(_ spec: ModelSpec, length: Int? = nil, threads: Int, repeats: Int = 3) throws -> WorkloadResult {
        try spec.requireInferenceFits(tokens: length)
        return try Threads.$limit.withValue(threads) {
            PeakMemory.reset()
            let model = try TransformerModel(spec: spec, seed: 0)
            model.train(false)
            let t = length ?? spec.contextLength
            let seconds = BenchTimer.median(warmup: 1, repeats: repeats, minSeconds: 0) {
                withNoGrad {
                    let state = model.makeDecodeState(batch: 1)
                    var token: Int32 = 1
                    for _ in 0..<(t - 1) {
                        let logits = model.logits([token], batch: 1, length: 1, state: state).scalars
                        token = Int32(logits.indices.max { logits[$0] < logits[$1] } ?? 0)
                    }
                }
            }
            return WorkloadResult(workload: "decode", spec: spec.name, threads: threads, parameters: model.parameterCount,
                                  tokensPerS: Double(t - 1) / seconds, seconds: seconds, peakRSSMB: PeakMemory.peakMB(),
                                  batch: 1, length: t)
        }
    }
}
