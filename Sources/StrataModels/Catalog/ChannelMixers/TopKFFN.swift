import StrataCore
import StrataNN

/// Top-k FFN (catalog `topk_ffn`; "The Lazy Neuron Phenomenon", Li et al., 2023): a ReLU MLP that keeps only
/// the k largest hidden activations of each token and zeroes the rest, W₂·(ReLU(W₁x) ⊙ m), m ∈ {0,1}^F the
/// top-k mask. The mask is a constant of the forward pass, so the gradient flows only through kept entries.
/// Ties are broken toward the lower hidden index, so exactly min(k, F) entries are kept per token.
public final class TopKFFN: Module, Component, ChannelMixer {
    /// Top-k FFN options.
    public struct Options: ComponentOptions {
        public var k: Int
        /// Hidden width F; nil means `hiddenMultiple` · C.
        public var hidden: Int?
        public var hiddenMultiple: Float
        public var bias: Bool
        public init(_ r: inout OptionReader) {
            k = r.int("k", default: 32, "hidden activations kept per token (all when k ≥ F)", in: 1...1 << 20)
            hidden = r.optionalInt("hidden", "hidden width F (overrides hidden_mult)", in: 1...1 << 20)
            hiddenMultiple = r.float("hidden_mult", default: 4, "hidden width as a multiple of the model width", in: 0.01...64)
            bias = r.bool("bias", default: false, "biases on both layers")
        }
        /// The hidden width for model width `dim`.
        public func width(_ dim: Int) -> Int { hidden ?? max(1, Int((Float(dim) * hiddenMultiple).rounded())) }
    }
    public static let info = ComponentInfo(id: "topk_ffn", summary: "ReLU MLP keeping the k largest hidden activations",
                                           paper: "The Lazy Neuron Phenomenon (Li et al., 2023)")

    public let up: Linear
    public let down: Linear
    public let k: Int

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let f = options.width(context.dim)
        up = Linear(context.dim, f, bias: options.bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        down = Linear(f, context.dim, bias: options.bias, rng: &rng, weightInit: .normal(std: context.residualInitStd),
                      biasInit: .zeros)
        k = options.k
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let f = options.width(context.dim)
        return 2 * context.dim * f + (options.bias ? f + context.dim : 0)
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        var h = up(x).relu()
        let f = h.shape[h.rank - 1]
        if k < f { h = h * Self.topKMask(h, k: k) }
        context.probes?.recordActivationSparsity(layer: context.layer, hidden: h)
        return down(h)
    }

    /// A constant 0/1 mask of h's shape marking the k largest entries of each row of the last axis (ties go
    /// to the lower index). Per row: the k-th largest value τ by quickselect (O(F)), then every entry > τ and
    /// the first entries equal to τ until k are kept.
    public static func topKMask(_ h: Tensor, k: Int) -> Tensor {
        let f = h.shape[h.rank - 1], rows = h.count / max(f, 1)
        let values = h.detached().scalars
        var mask = [Float](repeating: 0, count: values.count)
        guard k < f else { return Tensor(repeating: 1, shape: h.shape) }
        var scratch = [Float](repeating: 0, count: f)
        for row in 0..<rows {
            let base = row * f
            for j in 0..<f { scratch[j] = values[base + j] }
            let tau = kthLargest(&scratch, k)
            var above = 0
            for j in 0..<f where values[base + j] > tau { mask[base + j] = 1; above += 1 }
            var ties = k - above
            for j in 0..<f where ties > 0 && values[base + j] == tau { mask[base + j] = 1; ties -= 1 }
        }
        return Tensor(mask, shape: h.shape)
    }

    /// The k-th largest element of `a` (1-based k ≤ a.count), by Hoare-style quickselect with a middle pivot;
    /// reorders `a`.
    static func kthLargest(_ a: inout [Float], _ k: Int) -> Float {
        var (lo, hi) = (0, a.count - 1)
        let target = k - 1                                              // index in descending order
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var (i, j) = (lo, hi)
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}
