import Foundation
import StrataCore
import StrataKernels
import StrataModels
import StrataNN

/// One (mixer, length) point of `strata bench scaling --json`.
public struct ScalingPoint: Codable, Sendable {
    /// Token-mixer id.
    public var mixer: String
    /// Sequence length T.
    public var length: Int
    /// Median seconds of one forward + backward at batch 1.
    public var trainSeconds: Double
    /// Training tokens per second (T / trainSeconds).
    public var trainTokensPerS: Double
    /// Peak resident memory during forward + backward, MiB.
    public var trainPeakMB: Double
    /// Decode tokens/s of batch-1 cached steps after a prefill of T − decodeTokens tokens.
    public var decodeTokensPerS: Double
    /// Bytes of decoding state after T tokens (KV cache, or recurrent state and conv tails).
    public var stateBytes: Int

    /// Memberwise initializer.
    public init(mixer: String, length: Int, trainSeconds: Double, trainTokensPerS: Double, trainPeakMB: Double,
                decodeTokensPerS: Double, stateBytes: Int) {
        self.mixer = mixer; self.length = length; self.trainSeconds = trainSeconds; self.trainTokensPerS = trainTokensPerS
        self.trainPeakMB = trainPeakMB; self.decodeTokensPerS = decodeTokensPerS; self.stateBytes = stateBytes
    }

    enum CodingKeys: String, CodingKey {
        case mixer, length, trainSeconds = "train_s", trainTokensPerS = "train_tokens_per_s"
        case trainPeakMB = "train_peak_mb", decodeTokensPerS = "decode_tokens_per_s", stateBytes = "state_bytes"
    }
}

/// Cost of token mixers against sequence length: a 1-layer decoder (C 64, 2 heads, no positional encoding,
/// no channel mixer, so the mixer dominates) timed for forward + backward and for cached decoding, with the
/// size of the decoding state. Softmax attention's time grows as T² and its KV cache as T; recurrent mixers
/// grow as T and keep a constant state, so past some length they are faster (the crossover).
public enum ScalingBenchmark {
    /// The spec measured for `mixer` at length `length`.
    public static func spec(mixer: String, length: Int, dim: Int = 64, heads: Int = 2) -> ModelSpec {
        var s = ModelSpec()
        s.name = "scaling-\(mixer)"
        s.vocabSize = 256; s.contextLength = length; s.dim = dim; s.heads = heads; s.layers = 1
        s.positional = "nope"
        s.block.placement = .pre
        s.block.norm = "rms_norm"
        s.block.tokenMixer = ComponentSpec(mixer)
        s.block.channelMixer = "none"
        return s
    }

    /// Bytes held by a decoding state (float32 tensors of every block's cache).
    public static func stateBytes(_ state: DecodeState) -> Int {
        state.caches.reduce(0) { total, cache in
            switch cache {
            case let kv as KVCache: return total + 4 * ((kv.keys?.count ?? 0) + (kv.values?.count ?? 0))
            case let r as RecurrentCache: return total + 4 * r.tensors.reduce(0) { $0 + $1.count }
            default: return total
            }
        }
    }

    /// Measures one mixer at one length; `decodeTokens` steps are timed after the prefill.
    public static func measure(mixer: String, length: Int, decodeTokens: Int = 32, repeats: Int = 3,
                               threads: Int) throws -> ScalingPoint {
        try Threads.$limit.withValue(threads) {
            let s = spec(mixer: mixer, length: length)
            let model = try TransformerModel(spec: s, seed: 0)
            var rng = RNG(seed: 3)
            let ids = (0..<(length + 1)).map { _ in Int32(rng.below(256)) }
            let inputs = Array(ids[0..<length]), targets = Array(ids[1...length])
            PeakMemory.reset()
            let train = BenchTimer.median(warmup: 1, repeats: repeats, minSeconds: 0) {
                let loss = model.loss(inputs: inputs, targets: targets, batch: 1, length: length)
                loss.backward()
                model.zeroGrad()
            }
            let peak = PeakMemory.peakMB()
            model.train(false)
            let steps = min(decodeTokens, length - 1)
            var bytes = 0
            let decode = withNoGrad { () -> Double in
                let state = model.makeDecodeState(batch: 1, capacity: length)
                _ = model.logits(Array(inputs[0..<(length - steps)]), batch: 1, length: length - steps, state: state)
                let t0 = BenchTimer.now()
                for i in (length - steps)..<length { _ = model.logits([inputs[i]], batch: 1, length: 1, state: state).scalars }
                let seconds = BenchTimer.now() - t0
                bytes = stateBytes(state)
                return Double(steps) / max(seconds, 1e-9)
            }
            return ScalingPoint(mixer: mixer, length: length, trainSeconds: train, trainTokensPerS: Double(length) / train,
                                trainPeakMB: peak, decodeTokensPerS: decode, stateBytes: bytes)
        }
    }

    /// The shortest measured length from which `mixer`'s forward + backward is faster than `reference`'s at
    /// every longer measured length too; nil when it never is.
    public static func crossover(_ points: [ScalingPoint], mixer: String, reference: String = "softmax_attention") -> Int? {
        let mine = Dictionary(points.filter { $0.mixer == mixer }.map { ($0.length, $0.trainSeconds) }, uniquingKeysWith: { $1 })
        let ref = Dictionary(points.filter { $0.mixer == reference }.map { ($0.length, $0.trainSeconds) }, uniquingKeysWith: { $1 })
        let lengths = mine.keys.filter { ref[$0] != nil }.sorted()
        var answer: Int?
        for l in lengths.reversed() {
            guard mine[l]! < ref[l]! else { break }
            answer = l
        }
        return answer
    }
}
