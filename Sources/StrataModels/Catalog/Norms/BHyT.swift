import StrataCore
import StrataNN

/// Bounded Hyperbolic Tangent (catalog `bhyt`; BHyT, ICML 2026 release, following the authors' reference
/// implementation as summarized in the catalog). At a block's first norm (site `.mixerInput`) it computes
/// v = mean(x²) once and returns y₁ = γ₁ ⊙ tanh(λ₁·x / (κ·√(v + ε))). The second norm (site `.channelInput`)
/// computes no new statistics: it uses v̂ = v + c_attn·λ₁²/κ², where c_attn = ‖W_V·W_O‖_F² / (T·d) estimates
/// the per-channel variance the attention branch adds to the stream under diffuse attention, and returns
/// y₂ = γ₂ ⊙ tanh(λ₂·h / (κ·√(v̂ + ε))).
///
/// Choices made here (documented because the catalog leaves them open):
/// - T is the number of keys each query sees: offset + t + 1 for query t of a causal mixer (so cached
///   decoding and the full forward give the same v̂), the whole sequence for a bidirectional one. The
///   reference uses the sequence length; for causal attention the per-position count is what the
///   diffuse-attention argument gives (the mean of n value vectors has 1/n of their variance).
/// - W_V·W_O is the map from the attention input to its output when each query attends to itself: the value
///   rows of `qkv.weight` (the last K·D rows) expanded to H query heads (grouped-query attention), followed by
///   `out.weight`. Projection biases are ignored. c_attn is computed from the current weights on every call
///   and is differentiable (it is a C×HD×C matmul, cheap next to the block), so gradients stay exact.
/// - Exact statistics (the `star` behaviour) are used instead wherever the estimate's assumption does not
///   hold: when the block's token mixer is not `SoftmaxAttention`, when no first-norm statistics were stored
///   (post placement, the first FFN of a macaron block, model-level norms), and under peri placement (the
///   attention output is itself normalized before the add; any norm at an output site discards the stored
///   statistics). In a `parallel_block` both norms read the same stream, so v̂ = v exactly.
/// - `parallel` and `line` differ only in when the reference's GPU kernels compute the second reciprocal
///   standard deviation (concurrently with attention or after it); on this engine they give identical results.
/// - γ starts at 1 and λ at `lambda_init` (catalog: λ ≈ 1 to 5 with κ = 10, keeping tanh near-linear).
public final class BoundedHyperbolicTanh: Module, Component, NormLayer {
    /// How the second norm of a block gets its statistics.
    public enum Variant: String, CaseIterable, Sendable {
        /// Estimated v̂, computed concurrently with attention in the reference.
        case parallel
        /// Estimated v̂, computed after attention in the reference.
        case line
        /// Exact statistics at both norms (`bhyt_star`).
        case star
    }

    /// BHyT options.
    public struct Options: ComponentOptions {
        public var kappa: Float
        public var lambdaInit: Float
        public var learnableLambda: Bool
        public var variant: Variant
        public var eps: Float
        public init(_ r: inout OptionReader) {
            kappa = r.float("kappa", default: 10, "κ dividing the tanh argument", in: 1e-3...1e4)
            lambdaInit = r.float("lambda_init", default: 2, "initial scalar λ (λ/κ ≈ 0.1 to 0.5)", in: 1e-4...1e4)
            learnableLambda = r.bool("learnable_lambda", default: true, "train λ (else it stays at lambda_init)")
            variant = Variant(rawValue: r.choice("variant", default: "parallel", among: Variant.allCases.map(\.rawValue),
                                                 "second-norm statistics: estimated (parallel, line) or exact (star)"))
                ?? .parallel
            eps = r.float("eps", default: 1e-6, "added to the mean square", in: 0...1)
        }
    }
    public static let info = ComponentInfo(id: "bhyt", summary: "bounded tanh norm; second norm reuses the first's statistics",
                                           paper: "BHyT: Bounded Hyperbolic Tangent (ICML 2026)")

    /// Per-channel gain γ [C].
    public let weight: Parameter
    /// Scalar λ [1], when learnable.
    public let lambda: Parameter?
    public let fixedLambda: Float
    public let kappa: Float
    public let variant: Variant
    public let eps: Float

    /// Keys of the statistics the first norm leaves in `BlockScratch.tensors`.
    static let storedMeanSquare = "bhyt.v", storedInput = "bhyt.input", storedLambda = "bhyt.lambda"

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = Parameter(.ones([context.dim]), role: .norm)
        lambda = options.learnableLambda ? Parameter(Tensor([options.lambdaInit], shape: [1]), role: .norm) : nil
        fixedLambda = options.lambdaInit
        kappa = options.kappa
        variant = options.variant
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        context.dim + (options.learnableLambda ? 1 : 0)
    }

    /// λ as a tensor [1] (the parameter, or the fixed value).
    var lambdaValue: Tensor { lambda?.value ?? Tensor([fixedLambda], shape: [1]) }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        let lam = lambdaValue
        var meanSquare: Tensor                                          // [..., 1]
        if variant != .star, site == .channelInput, let v = scratch.tensors[Self.storedMeanSquare],
           let input = scratch.tensors[Self.storedInput], let lam1 = scratch.tensors[Self.storedLambda] {
            if Self.isSameTensor(x, input) {
                meanSquare = v                                         // parallel_block: the same stream
            } else if let extra = attentionVariance(x, scratch: scratch, lambda1: lam1) {
                meanSquare = v + extra
            } else {
                meanSquare = Self.meanSquare(x)
            }
        } else {
            meanSquare = Self.meanSquare(x)
        }
        switch site {
        case .mixerInput where variant != .star:
            scratch.tensors[Self.storedMeanSquare] = meanSquare
            scratch.tensors[Self.storedInput] = x
            scratch.tensors[Self.storedLambda] = lam
        case .mixerOutput, .channelOutput:
            // Peri placement: the branch output is normalized before the add, so the estimate does not apply.
            scratch.tensors[Self.storedMeanSquare] = nil
        default: break
        }
        let z = x * (meanSquare + eps).rsqrt() * (lam / kappa)
        scratch.probes?.recordTanhSaturation(layer: scratch.layer, preActivation: z)
        return z.tanh() * weight.value
    }

    /// mean(x²) over channels, keeping the channel axis: [..., C] → [..., 1].
    static func meanSquare(_ x: Tensor) -> Tensor { (x * x).mean(axis: x.rank - 1, keepDims: true) }

    /// Whether two tensors are the same view of the same storage.
    static func isSameTensor(_ a: Tensor, _ b: Tensor) -> Bool {
        a.storage === b.storage && a.offset == b.offset && a.shape == b.shape
    }

    /// c_attn·λ₁²/κ² per position, [1, T, 1], for the stream h [B, T, C] after softmax attention; nil when
    /// the block's mixer is not `SoftmaxAttention` or h is not [B, T, C].
    func attentionVariance(_ h: Tensor, scratch: BlockScratch, lambda1: Tensor) -> Tensor? {
        guard let attention = scratch.tokenMixer as? SoftmaxAttention, h.rank == 3 else { return nil }
        let t = h.shape[1], c = h.shape[2]
        let (heads, kvHeads, d) = (attention.heads, attention.kvHeads, attention.headDim)
        let qkv = attention.qkv.weight.value                           // [(H + 2K)·D, C]
        var wv = qkv.slice(axis: 0, (heads + kvHeads) * d ..< (heads + 2 * kvHeads) * d)   // [K·D, C]
        if kvHeads != heads {
            let group = heads / kvHeads
            wv = wv.reshaped([kvHeads, d, c]).indexSelect(axis: 0, (0..<heads).map { Int32($0 / group) })
                .reshaped([heads * d, c])                               // [H·D, C]
        }
        let m = attention.out.weight.value.matmul(wv)                   // [C, C] = W_O · E · W_V
        let frobenius = (m * m).sum()                                   // ‖W_V W_O‖_F²
        let keys: [Float] = (0..<t).map { i in
            Float(attention.causal ? scratch.offset + i + 1 : t)
        }
        let inverseKeys = Tensor(keys.map { 1 / $0 }, shape: [1, t, 1])
        return inverseKeys * (frobenius * (lambda1 * lambda1) / (Float(c) * kappa * kappa))
    }
}
