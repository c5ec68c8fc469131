import StrataCore
import StrataNN

// Pieces shared by the recurrent mixers: their decoding cache, the short causal convolution, the per-head
// output norm, head reshapes and the feature maps of linear attention.

/// Decoding state of a recurrent mixer: the state S [B, H, Dv, Dk] and the tails of its causal convolutions.
/// Its size does not depend on how many tokens were consumed.
public final class RecurrentCache: MixerCache {
    /// Tokens consumed so far.
    public var length = 0
    /// Recurrent state [B, H, Dv, Dk] (nil before the first token).
    public var state: Tensor?
    /// Last K−1 inputs [B, K−1, channels] of each short convolution, by name.
    public var convTails: [String: Tensor] = [:]

    /// An empty cache.
    public init() {}

    /// Every tensor held (state and tails), for size checks.
    public var tensors: [Tensor] { (state.map { [$0] } ?? []) + convTails.keys.sorted().map { convTails[$0]! } }
}

/// Runs the recurrence for a mixer: the chunked form without a cache; with a cache, one decoding step (T = 1)
/// or a chunked prefill continuing the cached state, which is then replaced by the new (detached) state.
func runRecurrence(_ x: RecurrenceInputs, chunk: Int, cache: MixerCache?) -> Tensor {
    func chunked(_ initial: Tensor?) -> (output: Tensor, state: Tensor) {
        LinearRecurrence.chunked(x, chunk: chunk, initial: initial)
    }
    guard let cache = cache as? RecurrentCache else {
        // API misuse only: caches come from the mixer's own makeCache.
        if cache != nil { shapeError("recurrent mixer", "expected a RecurrentCache, got \(type(of: cache!))") }
        return chunked(nil).output
    }
    let t = x.q.shape[2]
    let (o, s) = t == 1 ? LinearRecurrence.step(x, initial: cache.state) : chunked(cache.state)
    cache.state = s.detached()
    cache.length += t
    return o
}

/// Causal depthwise convolution over time with kernel K (the short convolution of DeltaNet and Mamba):
/// y_t = b + Σ_i w_i ⊙ x_{t−K+1+i}, zero history before the first token or the cached tail when decoding.
public final class ShortConvolution: Module {
    /// Taps [K, channels] (tap K−1 multiplies the current token).
    public let weight: Parameter
    /// Bias [channels], if any.
    public let bias: Parameter?
    /// Kernel size K.
    public let kernel: Int
    let name: String

    /// A convolution over `channels` channels; `name` keys its tail in a `RecurrentCache`.
    public init(channels: Int, kernel: Int, bias: Bool, name: String, rng: inout RNG) {
        let bound = 1 / Float(kernel).squareRoot()   // PyTorch's fan-in bound for a depthwise conv1d
        weight = Parameter(rng.uniform([kernel, channels], low: -bound, high: bound))
        self.bias = bias ? Parameter(rng.uniform([channels], low: -bound, high: bound), role: .bias) : nil
        self.kernel = kernel
        self.name = name
        super.init()
    }

    /// Trainable scalars for `channels` channels.
    public static func parameterCount(channels: Int, kernel: Int, bias: Bool) -> Int { channels * (kernel + (bias ? 1 : 0)) }

    /// x [B, T, channels] → y [B, T, channels]; with a cache, continues from (and updates) the cached tail.
    public func callAsFunction(_ x: Tensor, cache: MixerCache?) -> Tensor {
        let (b, t, ch) = (x.shape[0], x.shape[1], x.shape[2])
        let cache = cache as? RecurrentCache
        let history = cache?.convTails[name] ?? Tensor.zeros([b, kernel - 1, ch])
        let padded = kernel > 1 ? Tensor.concat([history, x], axis: 1) : x           // [B, T+K−1, channels]
        var y = padded.slice(axis: 1, 0..<t) * weight.value.slice(axis: 0, 0..<1)
        for i in 1..<max(kernel, 1) {
            y = y + padded.slice(axis: 1, i..<(i + t)) * weight.value.slice(axis: 0, i..<(i + 1))
        }
        if let cache, kernel > 1 {
            let total = padded.shape[1]
            cache.convTails[name] = padded.slice(axis: 1, (total - kernel + 1)..<total).detached()
        }
        return bias.map { y + $0.value } ?? y
    }
}

/// Normalization of each head's output over its Dv channels (GroupNorm with one group per head, or RMSNorm
/// per head), with a per-channel gain [H, Dv] (and shift, for the LayerNorm kind).
public final class HeadNorm: Module {
    /// Gain [H, Dv].
    public let weight: Parameter
    /// Shift [H, Dv] (LayerNorm kind only).
    public let bias: Parameter?
    let rms: Bool
    let eps: Float

    /// `rms`: RMSNorm per head; otherwise mean and variance per head (GroupNorm with H groups).
    public init(heads: Int, width: Int, rms: Bool, eps: Float = 1e-5) {
        weight = Parameter(.ones([heads, width]), role: .norm)
        bias = rms ? nil : Parameter(.zeros([heads, width]), role: .norm)
        self.rms = rms
        self.eps = eps
        super.init()
    }

    /// Trainable scalars.
    public static func parameterCount(heads: Int, width: Int, rms: Bool) -> Int { heads * width * (rms ? 1 : 2) }

    /// x [B, T, H, Dv] → normalized per head.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = rms ? x.rmsNorm(weight: nil, eps: eps) : x.layerNorm(weight: nil, bias: nil, eps: eps)
        let scaled = y * weight.value
        return bias.map { scaled + $0.value } ?? scaled
    }
}

/// x [B, T, H·D] → [B, H, T, D].
func splitHeads(_ x: Tensor, heads: Int) -> Tensor {
    let (b, t) = (x.shape[0], x.shape[1])
    return x.reshaped([b, t, heads, -1]).permuted([0, 2, 1, 3])
}

/// x [B, H, T, D] → [B, T, H, D].
func headsLast(_ x: Tensor) -> Tensor { x.permuted([0, 2, 1, 3]) }

/// Scales each row of x [..., D] to unit L2 norm (DeltaNet's q/k normalization).
func l2Normalized(_ x: Tensor, eps: Float = 1e-6) -> Tensor {
    x * ((x * x).sum(axis: -1, keepDims: true) + eps).rsqrt()
}

/// Feature maps φ of linear attention (catalog `linear_attention`).
public enum FeatureMap: String, CaseIterable, Sendable {
    /// elu(x) + 1 (Katharopoulos et al., 2020): positive, so the normalizer stays positive.
    case elu1 = "elu+1"
    case relu, identity

    /// Applies φ; elu(x) + 1 is written relu(x) + exp(min(x, 0)), equal on both sides of 0.
    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .elu1: x.relu() + x.clamp(max: 0).exp()
        case .relu: x.relu()
        case .identity: x
        }
    }

    /// Every spelling, for option docs.
    public static var names: [String] { allCases.map(\.rawValue) }
}

/// Cost of a mixer on the shared recurrence (`ComponentCost`) with H heads of a Dk × Dv state, trained in chunks of
/// N: per token the state update and read-out (4·Dk·Dv FLOPs per head) and the intra-chunk scores and values
/// (2·N·(Dk + Dv)); saved per token the q/k/v/gate widths, the chunk's score matrix (2N per head, 4N·Dk with a
/// key-wise decay) and the chunk-start states (Dk·Dv / N); decoding keeps one state per head.
func recurrentCost(weights: Int, heads: Int, keyDim: Int, valueDim: Int, chunk: Int, keyWise: Bool,
                   context: BuildContext) -> ComponentCost {
    let n = Double(max(1, min(chunk, context.contextLength)))
    let (h, dk, dv, w) = (Double(heads), Double(keyDim), Double(valueDim), Double(weights))
    return ComponentCost(matmulWeights: w, mixingFlops: h * (4 * dk * dv + 2 * n * (dk + dv)),
                         activationsPerToken: w / Double(max(context.dim, 1)) + h * (2 * (dk + dv) + (keyWise ? 4 * n * dk : 2 * n) + 2 * dk * dv / n),
                         statePerSequence: h * dk * dv)
}
